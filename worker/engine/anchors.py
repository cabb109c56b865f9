"""The event a question places its answer against: "did anyone touch the settings before the disk
trouble started?", "was anything changed before the 4am outage?", "who became leader when vault-2
stepped down?".

A question that asks for a change or for who leads (lookups.py) and says "before <event>" wants the
last such line before that event, however long before it; "after <event>", "when <event>" or "once
<event>" (not the question's own "when did...") the first one after it. The event is the clause after
that word:
1. A time of day in it (moments.py: "the 4am outage") points at the log chunk nearest that time, the
   earliest of equals.
2. Otherwise, when it names trouble (incidents.py: "the disk trouble", "the outage", "stepped down"), its
   words point at the incident chunks (warnings or worse) that share the most of them,
   each weighted by its rarity among the log's chunks and compared by its first ``PREFIX`` letters (so
   "stepped down" meets "stepping down"), and of those at the start of the longest stretch of them (at
   most ``RUN_GAP`` chunks apart): "before the timeouts started" is before they began to come one after
   another, not before a lone timeout hours earlier.
3. A "before" trouble whose words meet no incident points at the log's first error; anything else at
   nothing, and the answer is then placed as if the question named no event.

Pure functions of the question and the candidates' text.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from worker.documents.document import Chunk
from worker.documents.log_format import Severity
from worker.engine.incidents import asks_about_incident, text_severity
from worker.engine.moments import asked_spans, chunk_spans, distance

MAX_QUESTION_CHARS = 2000
MAX_CLAUSE_CHARS = 120
PREFIX = 5  # letters of a word compared: "stepped" and "stepping", "crashed" and "crashing" meet
MATCH_SHARE = 0.5  # of the best incident chunk's score, for another to count as the same event
RUN_GAP = 5  # chunks between two matching incident chunks of one stretch of trouble

_NOT_ASKING = r"(?!(?:did|do|does|was|were|is|are|has|have|had|will|would|could|can)\b)"
_EVENT = re.compile(r"(?i)(?<=\S )\b(?:(before|prior to|ahead of|leading up to)|(after|when|once))\s+" + _NOT_ASKING
                    + rf"([^?!.;,\n]{{1,{MAX_CLAUSE_CHARS}}})")
_WORD = re.compile(r"[a-z0-9][a-z0-9_-]*")
# English function words: they name no event or party
FUNCTION_WORDS = frozenset(re.findall(r"\w+", "the a an it its this that these those was were is are did does do has"
                                            " had have been be of on in at to for and or but not with from by our we"
                                            " they he she them there then just all any some got get when what why how"
                                            " who which where can could would should will again still also into out"
                                            " after before since until about around over under thing stuff"))


@dataclass(frozen=True)
class Anchor:
    side: str  # "before" or "after"
    clause: str  # the event as the question names it


def question_anchor(question: str) -> Anchor | None:
    """The event the question places its answer before or after, if it names one."""
    found = _EVENT.search(question[:MAX_QUESTION_CHARS])
    if found is None:
        return None
    return Anchor("before" if found.group(1) else "after", found.group(3).strip())


def is_timed(anchor: Anchor) -> bool:
    """The event is a time of day ("before the 4am outage"): that time is where the answer ends, not
    where it lies."""
    return bool(asked_spans(anchor.clause))


def anchor_position(anchor: Anchor, chunks: Sequence[Chunk], ordered: Sequence[int]) -> int | None:
    """The position in ``ordered`` (one log's chunks in file order) of the chunk the event points at."""
    spans = asked_spans(anchor.clause)
    if spans:
        known = chunk_spans([chunks[i] for i in ordered])
        if not known:
            return None
        gaps = {position: min(distance(asked, span) for asked in spans) for position, span in known.items()}
        return min(gaps, key=lambda position: (gaps[position], position))
    if not asks_about_incident(anchor.clause):  # "before it got slow": no incident to point at
        return None
    words = {w[:PREFIX] for w in _WORD.findall(anchor.clause.lower()) if w not in FUNCTION_WORDS and len(w) > 2}
    texts = [_prefixes(chunks[i].text) for i in ordered]
    weights = {w: math.log((len(texts) + 1) / (1 + sum(w in t for t in texts))) for w in words}
    scores = {position: sum(weights[w] for w in words if w in texts[position])
              for position, index in enumerate(ordered) if text_severity(chunks[index].text) >= Severity.WARNING}
    top = max(scores.values(), default=0.0)
    if top <= 0:
        if anchor.side == "before":
            return next((p for p, i in enumerate(ordered) if text_severity(chunks[i].text) >= Severity.ERROR), None)
        return None
    matched = sorted(p for p, score in scores.items() if score >= MATCH_SHARE * top)
    runs: list[list[int]] = []  # matched chunks at most RUN_GAP positions apart: one stretch of trouble
    for position in matched:
        if runs and position - runs[-1][-1] <= RUN_GAP:
            runs[-1].append(position)
        else:
            runs.append([position])
    return max(runs, key=lambda run: (sum(scores[p] for p in run), -run[0]))[0]


@functools.lru_cache(maxsize=65_536)
def _prefixes(text: str) -> frozenset[str]:
    return frozenset(w[:PREFIX] for w in _WORD.findall(text.lower()))
