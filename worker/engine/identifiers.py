"""Exact identifiers: names in a question that should lead to the document that carries them.

An *identifier* is a word of the question that is not plain English: an alert name or exception class in
CamelCase (``KubeletDown``, ``PoolTimeoutError``), a name joined with ``-``, ``_``, ``.``, ``/`` or ``:``
(``payments-api``, ``pg-main-rw``, ``sqlalchemy.exc.TimeoutError``), a word with digits (``ORA-00060``,
``E0514``, ``p99``; of two characters only a capital and a digit, the name of one of a row of units: ``R3``,
``B2``), a number of three or more digits (an HTTP status, an error code; not an estimate: "~300 models"), a
percentage (an alert's threshold: "less than 5% space left" is the alert whose runbook says it
fires "when 5% of space remains"; not an estimate either: "~5% over the limit" is what someone saw), a word in
capitals of four or more letters (``ENOSPC``), or anything in backticks, or in quotes for a log's chunks (a line
pasted from a log: "the mnesia 'inconsistent database' line"). A plain word is one too when a candidate
runbook names a command with it and uses it nowhere but in code (``command_names``: "irrigctl says P1 tripped" names
the tool of the irrigation runbook, whose own words never say "irrigctl" outside `irrigctl pumps`).

Identifiers are matched *spelled out*: lower case, split at separators and at CamelCase humps, on word
boundaries. So ``payments-api`` matches "Payments API" and ``KubeletDown`` matches a file named
``KubeletDown.md``, while ``api`` never matches inside "rapid".

``identifier_scores`` gives each candidate a score in [0, 1]: the share of the question's identifiers that
the candidate carries, each counted where it weighs most (``FIELD_WEIGHTS``: the document's title or file
name, then the headings above the candidate, then the candidate's own text, then elsewhere in the same
document; the candidate's own text no more than elsewhere in its document for an identifier that several
documents hold), and each weighted by how rare it is among the candidate documents (an identifier every
document carries tells nothing; one that no candidate carries is ignored). Pure functions of the question
and the candidates' text and metadata, so any index can call them.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from worker.documents.document import Chunk, Document
from worker.documents.runbook_lookup import section_at
from worker.engine.base import MAX_QUESTION_CHARS

MAX_IDENTIFIERS = 32  # a question pasting a whole log is still scored in bounded time
FIELD_WEIGHTS = {"names": 1.0, "headings": 0.6, "text": 0.3, "document": 0.2}

_WORD = re.compile(r"[A-Za-z0-9]+(?:[-_./:][A-Za-z0-9]+)*")
_BACKTICKS = re.compile(r"`([^`\n]{2,80})`")
# quoted words: "someone pasted 'Handler timeout'", not the apostrophes of "don't" or "the users' files"
_QUOTES = re.compile(r"(?<![\w'\"])(?:'([^'\n]{3,80}?)'|\"([^\"\n]{3,80}?)\"|\u2018([^\u2019\n]{3,80}?)\u2019"
                     r"|\u201c([^\u201d\n]{3,80}?)\u201d)(?![\w'\"])")
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_ALNUM = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"[a-z][A-Z]|^[A-Z]{2,}[a-z]")
_DIGIT = re.compile(r"\d")
_PLURAL_NUMBER = re.compile(r"^(\d{3,})s$")
_UNIT = re.compile(r"[A-Z]\d")  # one of a row of machines, bays or tanks: "R3 skipped its wash", "berth B2"
_PERCENTAGE = re.compile(r"(?<![\w.])\d+(?:\.\d+)? ?%")
# a command as runbooks write it: the first word of inline code that goes on with its arguments ("`irrigctl pumps`";
# not a name alone, "`instance`") or of a line of a fenced block
_INLINE_COMMAND = re.compile(r"`\$? ?([a-z][\w-]{2,40}) [^`\n]*\S[^`\n]*`")
_FENCE = re.compile(r"^ {0,3}(?:```|~~~)")
_COMMAND_LINE = re.compile(r"^\s*(?:\$ )?([a-z][\w-]{2,40})[ \t]+[^\s:=#]")  # not "key: value", "name = x"
COMMAND_USES = 2  # a runbook's command is written at least this often (one line of output starts with no command)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_PLAIN_WORD = re.compile(r"(?<![\w./-])[a-z][a-z0-9_-]{2,40}(?![\w./-])")
# a number the question gives as an estimate is a count, not a code: "~300 models waiting", "400ish", "about 200"
_ESTIMATE = re.compile(r"(?i)(?:~|\b(?:about|around|roughly|approx\.?|approximately|like) )\d[\d,.]*(?![\ds])"
                       r"|\b\d[\d,.]*(?:\+|ish\b)")


def spelled(text: str) -> str:
    """``"KubeletDown on pg-main-rw at 5%"`` -> ``" kubelet down on pg main rw at 5 percent "``: the form
    identifiers are matched in (lower case, one space between words, one space at both ends)."""
    return " " + " ".join(_ALNUM.findall(_HUMP.sub(" ", text).replace("%", " percent ").lower())) + " "


def is_identifier(word: str) -> bool:
    letters = sum(c.isalnum() for c in word)
    if _UNIT.fullmatch(word):
        return True
    if letters < 3:
        return False
    if _CAMEL.search(word) or any(c in word for c in "-_./:"):
        return True
    if _DIGIT.search(word):
        return word.isdigit() is False or len(word) >= 3
    return word.isupper() and len(word) >= 4


def question_identifiers(question: str) -> list[str]:
    """The identifiers of a question, spelled out (see ``spelled``), first occurrence first."""
    found = [match.group(1) for match in _BACKTICKS.finditer(question)]
    found += _quoted(question)
    measured = _ESTIMATE.sub(" ", question)  # "~5% over the limit" is what someone saw, not an alert's threshold
    found += _PERCENTAGE.findall(measured)
    words = (_PLURAL_NUMBER.sub(r"\1", word) for word in _WORD.findall(measured))  # 429s: 429
    found += [word for word in words if is_identifier(word)]
    spelled_out = (spelled(word) for word in found)
    return list(dict.fromkeys(s for s in spelled_out if s.strip()))[:MAX_IDENTIFIERS]


def _quoted(question: str) -> list[str]:
    return [next(group for group in match.groups() if group) for match in _QUOTES.finditer(question)]


def quoted_identifiers(question: str) -> frozenset[str]:
    """The question's identifiers in quotes (see ``spelled``): words it copied from what it saw."""
    return frozenset(s for s in map(spelled, _quoted(question)) if s.strip())


@dataclass(frozen=True)
class IdentifierFields:
    """Where a candidate's words are, spelled out (``spelled``), from the strongest field to the weakest."""

    document: str  # which document the candidate belongs to (its id)
    names: str  # the document's title and file name
    headings: str  # the headings above the candidate
    text: str  # the candidate's own text
    commands: frozenset[str] = frozenset()  # its document's command names (``command_names``)
    log: bool = False  # the candidate is a log's chunk


@functools.lru_cache(maxsize=4_096)
def command_names(text: str) -> frozenset[str]:
    """The words a runbook's text names commands with (the first word of inline code with arguments after it, or
    of a line of a fenced block with arguments after it), at least ``COMMAND_USES`` times, and uses nowhere outside
    code: its own tools ("irrigctl"), not "restart" of `systemctl restart x`, nor a key of YAML in a code block."""
    commands: Counter[str] = Counter()
    prose: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            if found := _COMMAND_LINE.match(line):
                commands[found.group(1)] += 1
            continue
        commands.update(_INLINE_COMMAND.findall(line))
        prose.append(_CODE_SPAN.sub(" ", line))
    said = set(_ALNUM.findall(" ".join(prose).lower()))
    return frozenset(c for c, uses in commands.items() if uses >= COMMAND_USES and c not in said
                     and not any(part in said for part in c.split("-")))


def _named_commands(question: str, candidates: Sequence[IdentifierFields]) -> list[str]:
    """The plain words of the question that a candidate's document names a command with (``command_names``)."""
    known = frozenset().union(*{fields.document: fields.commands for fields in candidates}.values())
    if not known:
        return []
    words = _PLAIN_WORD.findall(question[:MAX_QUESTION_CHARS].lower())
    return list(dict.fromkeys(spelled(word) for word in words if word in known))


def identifier_scores(question: str, candidates: Sequence[IdentifierFields], leave_out: Collection[str] = ()
                      ) -> np.ndarray:  # [N] in [0, 1]
    """See the module docstring; identifiers in ``leave_out`` are not scored."""
    scores = np.zeros(len(candidates), np.float32)
    named = [*question_identifiers(question), *_named_commands(question, candidates)]
    wanted = [identifier for identifier in dict.fromkeys(named) if identifier not in leave_out][:MAX_IDENTIFIERS]
    if not wanted or not candidates:
        return scores
    # where each identifier is: per candidate, the weight of the best field that holds it
    quoted = quoted_identifiers(question)
    found = np.asarray([[_field_weight(identifier, fields, identifier in quoted) for fields in candidates]
                        for identifier in wanted], np.float32)  # [identifiers, N]
    documents = [fields.document for fields in candidates]
    index = {document: n for n, document in enumerate(dict.fromkeys(documents))}
    column = np.asarray([index[d] for d in documents])
    in_document = np.stack([np.bincount(column, weights=row > 0, minlength=len(index)) > 0 for row in found])
    # elsewhere in the same document (among the candidates) counts a little
    found = np.maximum(found, FIELD_WEIGHTS["document"] * in_document[:, column])
    holders = in_document.sum(axis=1)  # [identifiers]: how many candidate documents hold each
    # one that several documents hold says which of them, not which of their chunks: "gw-sub-a", named by both
    # runbooks of a pair, must not carry the chunk that happens to name it past the other runbook's answer (below
    # a heading, a chunk's text counts no more than elsewhere in its document)
    shared = holders >= 2
    found[shared] = np.where(found[shared] < FIELD_WEIGHTS["headings"],
                             np.minimum(found[shared], FIELD_WEIGHTS["document"]), found[shared])
    weights = np.asarray([_rarity(int(count), len(index)) for count in holders], np.float32)
    if weights.sum() <= 0:
        return scores
    return ((weights @ found) / weights.sum()).astype(np.float32)


def _field_weight(identifier: str, fields: IdentifierFields, quoted: bool = False) -> float:
    """The weight of the best field that holds the identifier; words the question quotes count only in a log's chunks
    (a runbook quotes the message a user saw where it describes the symptom, not where it says what to do), in its own
    text as in a heading (they were copied from it: "someone pasted 'Handler timeout' from the apiserver")."""
    if quoted and not fields.log:
        return 0.0
    if identifier in fields.names:
        return FIELD_WEIGHTS["names"]
    if identifier in fields.headings or _named_heading(identifier, fields):
        return FIELD_WEIGHTS["headings"]
    if identifier in fields.text:
        return FIELD_WEIGHTS["headings" if quoted else "text"]
    return 0.0


def _named_heading(identifier: str, fields: IdentifierFields) -> bool:
    """The identifier is the document's name followed by a heading above the candidate: the alert
    ``AccessInterlockBreach`` of the runbook "Enclosure Access" is its section "Interlock breach (P1)" (the rest
    two words at least)."""
    if not fields.headings:
        return False
    words = identifier.split()
    for cut in range(1, len(words) - 1):
        if f" {words[cut - 1]} " not in fields.names:
            return False
        if f" {' '.join(words[cut:])} " in fields.headings:
            return True
    return False


def _rarity(documents_with_it: int, documents: int) -> float:
    """1 for an identifier only one document carries, 0 for one that all (or none) carry."""
    if documents_with_it == 0:
        return 0.0
    if documents <= 1:
        return 1.0
    return math.log(documents / documents_with_it) / math.log(documents)


def document_names(document: Document) -> str:
    """A document's title and file name (without its extension), spelled out: its ``names`` field."""
    return spelled(f"{document.title} {document.file_name.rsplit('.', 1)[0]}")


@functools.lru_cache(maxsize=32_768)  # per chunk: candidates come back question after question
def chunk_fields(chunk: Chunk) -> IdentifierFields:
    """A chunk's fields: its document's title and file name, the headings above it (not for logs), its text, and
    its document's command names (not for logs)."""
    document = chunk.document
    names = document_names(document)
    headings = ""
    if document.kind != "log":
        section = section_at(document, chunk.line_start)
        if section is not None:
            headings = spelled(" ".join(section.path))
    commands = command_names(document.text) if document.kind != "log" and document.text else frozenset()
    return IdentifierFields(document=document.doc_id, names=names, headings=headings, text=spelled(chunk.text),
                            commands=commands, log=document.kind == "log")
