"""Exact identifiers: names in a question that should lead to the document that carries them.

An *identifier* is a word of the question that is not plain English: an alert name or exception class in
CamelCase (``KubeletDown``, ``PoolTimeoutError``), a name joined with ``-``, ``_``, ``.``, ``/`` or ``:``
(``payments-api``, ``pg-main-rw``, ``sqlalchemy.exc.TimeoutError``), a word with digits (``ORA-00060``,
``E0514``, ``p99``; of two characters only a capital and a digit, the name of one of a row of units: ``R3``,
``B2``), a number of three or more digits (an HTTP status, an error code; not an estimate: "~300 models"), a
percentage (an alert's threshold: "less than 5% space left" is the alert whose runbook says it
fires "when 5% of space remains"; not an estimate either: "~5% over the limit" is what someone saw), a word in
capitals of four or more letters (``ENOSPC``), or anything in backticks.

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
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from worker.documents.document import Chunk
from worker.documents.runbook_lookup import section_at

MAX_IDENTIFIERS = 32  # a question pasting a whole log is still scored in bounded time
FIELD_WEIGHTS = {"names": 1.0, "headings": 0.6, "text": 0.3, "document": 0.2}

_WORD = re.compile(r"[A-Za-z0-9]+(?:[-_./:][A-Za-z0-9]+)*")
_BACKTICKS = re.compile(r"`([^`\n]{2,80})`")
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_ALNUM = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"[a-z][A-Z]|^[A-Z]{2,}[a-z]")
_DIGIT = re.compile(r"\d")
_PLURAL_NUMBER = re.compile(r"^(\d{3,})s$")
_UNIT = re.compile(r"[A-Z]\d")  # one of a row of machines, bays or tanks: "R3 skipped its wash", "berth B2"
_PERCENTAGE = re.compile(r"(?<![\w.])\d+(?:\.\d+)? ?%")
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
    measured = _ESTIMATE.sub(" ", question)  # "~5% over the limit" is what someone saw, not an alert's threshold
    found += _PERCENTAGE.findall(measured)
    words = (_PLURAL_NUMBER.sub(r"\1", word) for word in _WORD.findall(measured))  # 429s: 429
    found += [word for word in words if is_identifier(word)]
    spelled_out = (spelled(word) for word in found)
    return list(dict.fromkeys(s for s in spelled_out if s.strip()))[:MAX_IDENTIFIERS]


@dataclass(frozen=True)
class IdentifierFields:
    """Where a candidate's words are, spelled out (``spelled``), from the strongest field to the weakest."""

    document: str  # which document the candidate belongs to (its id)
    names: str  # the document's title and file name
    headings: str  # the headings above the candidate
    text: str  # the candidate's own text


def identifier_scores(question: str, candidates: Sequence[IdentifierFields], leave_out: Collection[str] = ()
                      ) -> np.ndarray:  # [N] in [0, 1]
    """See the module docstring; identifiers in ``leave_out`` are not scored."""
    scores = np.zeros(len(candidates), np.float32)
    wanted = [identifier for identifier in question_identifiers(question) if identifier not in leave_out]
    if not wanted or not candidates:
        return scores
    # where each identifier is: per candidate, the weight of the best field that holds it
    found = np.asarray([[_field_weight(identifier, fields) for fields in candidates] for identifier in wanted],
                       np.float32)  # [identifiers, N]
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


def _field_weight(identifier: str, fields: IdentifierFields) -> float:
    if identifier in fields.names:
        return FIELD_WEIGHTS["names"]
    if identifier in fields.headings:
        return FIELD_WEIGHTS["headings"]
    return FIELD_WEIGHTS["text"] if identifier in fields.text else 0.0


def _rarity(documents_with_it: int, documents: int) -> float:
    """1 for an identifier only one document carries, 0 for one that all (or none) carry."""
    if documents_with_it == 0:
        return 0.0
    if documents <= 1:
        return 1.0
    return math.log(documents / documents_with_it) / math.log(documents)


@functools.lru_cache(maxsize=32_768)  # per chunk: candidates come back question after question
def chunk_fields(chunk: Chunk) -> IdentifierFields:
    """A chunk's fields: its document's title and file name, the headings above it (not for logs), its text."""
    document = chunk.document
    file_name = (document.link or document.doc_id).rsplit("/", 1)[-1].split("?", 1)[0]
    names = spelled(f"{document.title} {file_name.rsplit('.', 1)[0]}")
    headings = ""
    if document.kind != "log":
        section = section_at(document, chunk.line_start)
        if section is not None:
            headings = spelled(" ".join(section.path))
    return IdentifierFields(document=document.doc_id, names=names, headings=headings, text=spelled(chunk.text))
