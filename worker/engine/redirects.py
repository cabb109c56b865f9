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

``redirect_scores`` gives each runbook chunk the share of ``FULL_AT`` of the question's words that its
runbook uses only in such sentences (not in its other sentences, nor its own title or file name). Pure
functions of the question and the candidates' documents; a document's sentences are read once (cached),
and a target is looked for only when the question holds some of such a sentence's words.
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
from worker.engine.names import name_words, word_stems

MIN_WORD_CHARS = 4  # shorter stems ("ns", "its") name no case
FULL_AT = 2  # redirected words in the question for the full score
MAX_DOCUMENT_CHARS = 200_000  # a runbook's text read for its sentences (the rest has none read)

# a sentence that sends a case to another runbook, system or team
REDIRECT = re.compile(
    r"(?i)\bthe (?!this\b)[\w ./'-]{1,60}? runbook\b|\b(?:that|its|their) (?:own )?runbook\b"
    r"|\b(?:different|separate|another|other) (?:system|pipeline|service|team|runbook)s?\b"
    r"|\bnot (?:covered|handled) (?:here|in this runbook|by this runbook)\b"
    r"|\bnot ours\b|\b(?:that|it)(?:'s| is) (?:them|theirs)\b"  # "... but results never show, that's them"
    r"|\([`'\"]?[\w./-]+\.md[`'\"]?\)"  # another runbook's file named in brackets: "(`lab/instrument-bridge.md`)"
)
# sentence ends, blank lines, list items and table rows each start a sentence
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+|\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)])\s)|\n(?=#)|\n(?=\|)")
# a name ("the geocoder (Pelias)", "OSRM"): a question that names the other system may only suspect it
_CAPITALISED = re.compile(r"(?<![\w.-])[A-Z][\w-]*")
# the cue's own words, and the little words around it, say nothing about the case
_CUE_WORDS = word_stems("see use follow check runbook different separate another other system pipeline service team "
                        "covered handled here ours own their both even though only usually instead")


@dataclass(frozen=True)
class Redirects:
    """A runbook's sentences that send a case elsewhere: for each, the stems of all its words (to find
    which runbook it names) and those that may say which case it is (no names, cue or little words, none
    the runbook also uses elsewhere or in its own name)."""

    sentences: tuple[tuple[frozenset[str], frozenset[str]], ...]


def redirects(document: Document) -> Redirects:
    return Redirects(()) if document.kind != "runbook" else _redirects(document)


@functools.lru_cache(maxsize=16_384)  # a runbook folder's candidates are the same every question
def _redirects(document: Document) -> Redirects:
    if not REDIRECT.search(document.text[:MAX_DOCUMENT_CHARS]):  # most runbooks send nothing elsewhere: one scan
        return Redirects(())
    sending: list[tuple[frozenset[str], frozenset[str]]] = []
    own: set[str] = set(name_words(document))
    for sentence in _SENTENCE_END.split(document.text[:MAX_DOCUMENT_CHARS]):
        if REDIRECT.search(sentence):
            sending.append((word_stems(sentence), word_stems(_CAPITALISED.sub(" ", sentence))))
        else:
            own.update(word_stems(sentence))
    return Redirects(tuple((every, frozenset(word for word in plain - own - _CUE_WORDS if _says_case(word)))
                           for every, plain in sending))


def _says_case(word: str) -> bool:
    return len(word) >= MIN_WORD_CHARS and word not in FUNCTION_WORDS and not word.isdigit()


def redirect_scores(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in [0, 1]
    """See the module docstring: one score per chunk, its runbook's."""
    scores = np.zeros(len(chunks), np.float32)
    asked = word_stems(question[:MAX_QUESTION_CHARS])
    if not asked:
        return scores
    documents = {chunk.document.doc_id: chunk.document for chunk in chunks}
    named_by: dict[str, list[str]] | None = None  # name word -> the candidate runbooks it names, when needed
    by_document: dict[str, float] = {}
    for doc_id, document in documents.items():
        redirected: set[str] = set()
        for every, words in redirects(document).sentences:
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
