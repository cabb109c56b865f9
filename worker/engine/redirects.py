"""A runbook that sends some cases elsewhere, and the question that is one of them.

Look-alike runbooks say where their neighbour begins: "Scoring orders for fraud at checkout is a different
system (the fraud scoring runbook)", "if only the push fails with 5xx, see the container registry
runbook", "a bastion that cannot be reached at all is usually a VPN problem, not ours". Such a sentence
(``REDIRECT``) holds words the runbook uses for nothing else: here "checkout" in the seller verification
runbook. A question that holds them ("declines at checkout jumped, the manual review queue is exploding")
is about the case the runbook sends away, even when the rest of its words ("manual review") read closer
to this runbook than to the one it names.

Not every word of such a sentence says which case it is. The other system's name does not: "no route
since the map build, pelias?" or "is the preview thing retrying?" name the other system as a suspect,
about a case that may well be this runbook's. So a sentence's words leave out names (words written with
a capital: "Pelias", "OSRM") and the name words (title, file name: names.py) of the candidate runbook
that the sentence names most, its target ("fraud", "scoring", "riskscore" above).

A sentence sends a case elsewhere when it has a cue (``REDIRECT``: "the X runbook", "a different system", "not
ours", another runbook's file name), when it lies in a section whose heading has one ("## Not ours (common
mis-pages)": its items say only "Wrong bowler order -> lane booking"), or when it names another candidate runbook by
its compound file name ("Test won't load / audio / timer = placement-exam", "it's tunnel-ctl's package mapping").

``redirect_scores`` gives each runbook chunk the share of ``FULL_AT`` of the question's words that its
runbook uses only in such sentences (not in its other sentences, nor its own title or file name); what the question
says is working or only guesses at ("online bookings coming thru fine so its not apptbridge": names.cleared_words)
is no case it asks about. Pure functions of the question and the candidates' documents; a document's sentences are
read once (cached), and a target is looked for only when the question holds some of such a sentence's words.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from worker.documents.document import Chunk, Document
from worker.engine.base import FUNCTION_WORDS, MAX_QUESTION_CHARS
from worker.engine.names import cleared_words, name_words, word_stems

MIN_WORD_CHARS = 4  # shorter stems ("ns", "its") name no case
FULL_AT = 2  # redirected words in the question for the full score
MAX_DOCUMENT_CHARS = 200_000  # a runbook's text read for its sentences (the rest has none read)

# a sentence that sends a case to another runbook, system or team
REDIRECT = re.compile(
    r"(?i)\bthe (?!this\b)[\w ./'-]{1,60}? runbook\b|\b(?:that|its|their) (?:own )?runbook\b"
    r"|\b(?:different|separate|another|other) (?:system|pipeline|service|team|runbook)s?\b"
    r"|\bnot (?:covered |handled )?(?:here|in this runbook|by this runbook)\b|\bnot this runbook\b"
    r"|\bnot (?:ours|us)\b|\b(?:that|it)(?:'s| is) (?:them|theirs)\b"  # "... but results never show, that's them"
    r"|[\w./-]+\.md\b"  # another runbook's file: "(`lab/instrument-bridge.md`)", "go to `bowling/lane-booking.md`"
)
# a heading over cases that belong elsewhere: "## Not ours (common mis-pages)", "## Wrong runbook?"
_SENDING_HEADING = re.compile(r"(?i)\bmis-?pages?\b|\bwrong (?:runbook|team|place)\b|\bbelongs? elsewhere\b")
# sentence ends, blank lines, list items and table rows each start a sentence
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+|\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)])\s)|\n(?=#)|\n(?=\|)")
# a name ("the geocoder (Pelias)", "OSRM"): a question that names the other system may only suspect it
_CAPITALISED = re.compile(r"(?<![\w.-])[A-Z][\w-]*")
# a compound name as runbooks write their neighbours': "lane-booking", "tunnel-ctl's", "placement_exam"
_COMPOUND = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)+")
# the cue's own words, and the little words around it, say nothing about the case
_CUE_WORDS = word_stems("see use follow check runbook different separate another other system pipeline service team "
                        "covered handled here ours own their both even though only usually instead")


@dataclass(frozen=True)
class Sentence:
    every: frozenset[str]  # the stems of all its words (to find which runbook it names)
    plain: frozenset[str]  # without names (words written with a capital)
    sends: bool  # it has a cue (``REDIRECT``), or lies in a section whose heading has one (``_SENDING_HEADING``)
    compounds: frozenset[str]  # the compound names it holds ("lane-booking")


@dataclass(frozen=True)
class Redirects:
    """A runbook's sentences that send a case elsewhere: for each, the stems of all its words (to find
    which runbook it names) and those that may say which case it is (no names, cue or little words, none
    the runbook also uses elsewhere or in its own name)."""

    sentences: tuple[tuple[frozenset[str], frozenset[str]], ...]


def redirects(document: Document, candidates: frozenset[str] = frozenset()) -> Redirects:
    """``candidates``: the compound names of the candidate runbooks ("lane-booking"); a sentence that names one
    other than this one sends a case there as a cue does ("Strike counted that didn't happen | not us |
    lane-scoring")."""
    if document.kind != "runbook":
        return Redirects(())
    own = compound_name(document)
    named = frozenset(name for name in _compounds(document) if name in candidates and name != own)
    return _redirects(document, named) if named or _any_cue(document) else Redirects(())


def compound_name(document: Document) -> str:
    """The document's file name as runbooks name a neighbour: "lane-booking" (no extension, lower case)."""
    return document.file_name.rsplit(".", 1)[0].lower()


def _sentences(document: Document) -> tuple[Sentence, ...]:
    sentences: list[Sentence] = []
    section_sends = False
    for text in _SENTENCE_END.split(document.text[:MAX_DOCUMENT_CHARS]):
        if text.lstrip().startswith("#"):
            section_sends = bool(REDIRECT.search(text) or _SENDING_HEADING.search(text))
        sends = section_sends or bool(REDIRECT.search(text))
        sentences.append(Sentence(word_stems(text), word_stems(_CAPITALISED.sub(" ", text)), sends,
                                  frozenset(_COMPOUND.findall(text.lower()))))
    return tuple(sentences)


# Scans of the whole text, so that a runbook that sends nothing elsewhere (most) is never split into sentences and
# stemmed: its compound names, and whether a cue or a sending heading's words are anywhere in it.
@functools.lru_cache(maxsize=16_384)
def _compounds(document: Document) -> frozenset[str]:
    return frozenset(_COMPOUND.findall(document.text[:MAX_DOCUMENT_CHARS].lower()))


@functools.lru_cache(maxsize=16_384)
def _any_cue(document: Document) -> bool:
    text = document.text[:MAX_DOCUMENT_CHARS]
    return bool(REDIRECT.search(text) or _SENDING_HEADING.search(text))


@functools.lru_cache(maxsize=16_384)  # a runbook folder's candidates are the same every question
def _redirects(document: Document, named: frozenset[str]) -> Redirects:
    sending: list[tuple[frozenset[str], frozenset[str]]] = []
    own: set[str] = set(name_words(document))
    for sentence in _sentences(document):
        if sentence.sends or sentence.compounds & named:
            sending.append((sentence.every, sentence.plain))
        else:
            own.update(sentence.every)
    return Redirects(tuple((every, frozenset(word for word in plain - own - _CUE_WORDS if _says_case(word)))
                           for every, plain in sending))


def _says_case(word: str) -> bool:
    return len(word) >= MIN_WORD_CHARS and word not in FUNCTION_WORDS and not word.isdigit()


def redirect_scores(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in [0, 1]
    """See the module docstring: one score per chunk, its runbook's."""
    scores = np.zeros(len(chunks), np.float32)
    head = question[:MAX_QUESTION_CHARS]
    asked = word_stems(head) - cleared_words(head)  # "online bookings coming thru fine": not the case it asks about
    if not asked:
        return scores
    documents = {chunk.document.doc_id: chunk.document for chunk in chunks}
    compounds = frozenset(name for name in (compound_name(document) for document in documents.values()
                                            if document.kind == "runbook") if _COMPOUND.fullmatch(name))
    named_by: dict[str, list[str]] | None = None  # name word -> the candidate runbooks it names, when needed
    by_document: dict[str, float] = {}
    for doc_id, document in documents.items():
        redirected: set[str] = set()
        for every, words in redirects(document, compounds).sentences:
            if not words & asked:
                continue
            if named_by is None:
                named_by = {}
                for other_id, other in documents.items():
                    for word in name_words(other):
                        named_by.setdefault(word, []).append(other_id)
            target = _target(every, named_by, doc_id)
            redirected |= (words & asked) - (name_words(documents[target]) if target else frozenset())
        by_document[doc_id] = min(1.0, len(redirected) / FULL_AT)
    for index, chunk in enumerate(chunks):
        scores[index] = by_document[chunk.document.doc_id]
    return scores


def _target(words: frozenset[str], named_by: dict[str, list[str]], sender: str) -> str | None:
    """The candidate runbook (not the sender) whose name shares the most words with the sentence."""
    counts = Counter(doc_id for word in words for doc_id in named_by.get(word, ()) if doc_id != sender)
    return counts.most_common(1)[0][0] if counts else None
