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
3. A "before" trouble whose words meet no incident points at the log's first error, or, when it is a crash
   ("before it died"), at the first chunk of the log's worst incident (a stack trace before errors);
   anything else at nothing, and the answer is then placed as if the question named no event.

An incident asked for before trouble ("was anything off in the hour before it died?") is one before it:
``before_event_weights`` weighs the incident the event points at, those after it and those before the span
of time the question names, ``OUTSIDE_EVENT_WINDOW``.

Pure functions of the question and the candidates' text.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from worker.documents.document import Chunk, logs_in_file_order
from worker.documents.log_format import Severity
from worker.engine.base import FUNCTION_WORDS, MAX_QUESTION_CHARS
from worker.engine.incidents import asks_about_crash, names_logged_trouble, text_severity
from worker.engine.moments import DAY, asked_spans, chunk_spans, distance

MAX_CLAUSE_CHARS = 120
PREFIX = 5  # letters of a word compared: "stepped" and "stepping", "crashed" and "crashing" meet
MATCH_SHARE = 0.5  # of the best incident chunk's score, for another to count as the same event
RUN_GAP = 5  # chunks between two matching incident chunks of one stretch of trouble

_NOT_ASKING = r"(?!(?:did|do|does|was|were|is|are|has|have|had|will|would|could|can)\b)"
_EVENT = re.compile(r"(?i)(?<=\S )\b(?:(before|prior to|ahead of|leading up to)|(after|when|once))\s+" + _NOT_ASKING
                    + rf"([^?!.;,\n]{{1,{MAX_CLAUSE_CHARS}}})")
_WORD = re.compile(r"[a-z0-9][a-z0-9_-]*")


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
    if not names_logged_trouble(anchor.clause):  # "before it got slow": no incident to point at
        return None
    words = {w[:PREFIX] for w in _WORD.findall(anchor.clause.lower()) if w not in FUNCTION_WORDS and len(w) > 2}
    texts = [word_prefixes(chunks[i].text) for i in ordered]
    weights = {w: math.log((len(texts) + 1) / (1 + sum(w in t for t in texts))) for w in words}
    scores = {position: sum(weights[w] for w in words if w in texts[position])
              for position, index in enumerate(ordered) if text_severity(chunks[index].text) >= Severity.WARNING}
    top = max(scores.values(), default=0.0)
    if top <= 0:
        if anchor.side == "before" and asks_about_crash(anchor.clause):  # "before it died": its worst incident
            severities = [text_severity(chunks[i].text) for i in ordered]
            worst = max(severities, default=Severity.NONE)
            return severities.index(worst) if worst >= Severity.ERROR else None
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
def word_prefixes(text: str) -> frozenset[str]:
    """The first ``PREFIX`` letters of each word of a text, lower-cased."""
    return frozenset(w[:PREFIX] for w in _WORD.findall(text.lower()))


OUTSIDE_EVENT_WINDOW = 0.0  # of an incident's weight, when the question asks for one before an event and it is not
# "in the hour before it died": the hour of the file before the crash; a span of time the question names
_WINDOW = re.compile(r"(?i)\b(?:in|within|during|over) (?:the )?(?:last |final |past )?(?:an? |one )?"
                     r"(?:(\d+|few|couple of|ten|fifteen|twenty|thirty) )?(hours?|minutes?|mins?)\b(?= before\b)")
_AMOUNT = {"few": 10, "couple of": 2, "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30}


def before_event_weights(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in {OUTSIDE_EVENT_WINDOW, 1}
    """For a question that asks what went wrong before an event named as trouble, not as a time ("was
    anything off before it died?", "any errors before the outage?"): ``OUTSIDE_EVENT_WINDOW`` for each log
    chunk from the one the event points at on, and, when the question names a span ("in the hour before
    it died"), for those that ended before that span; 1 for those before it and for everything else."""
    weights = np.ones(len(chunks), np.float32)
    head = question[:MAX_QUESTION_CHARS]
    anchor = question_anchor(head)
    if anchor is None or anchor.side != "before" or is_timed(anchor):
        return weights
    minutes = _window_minutes(head)
    for ordered in logs_in_file_order(chunks):
        at = anchor_position(anchor, chunks, ordered)
        if at is None:
            continue
        weights[ordered[at:]] = OUTSIDE_EVENT_WINDOW
        if minutes is None:
            continue
        spans = chunk_spans([chunks[i] for i in ordered[:at + 1]])
        if at in spans:
            for position, (_, end) in spans.items():
                if position < at and (spans[at][0] - end) % DAY > minutes:
                    weights[ordered[position]] = OUTSIDE_EVENT_WINDOW
    return weights


def _window_minutes(question: str) -> int | None:
    """The span of time before the event that the question names, in minutes ("in the hour before": 60, "in
    the last 20 minutes before": 20); None when it names none."""
    window = _WINDOW.search(question)
    if window is None:
        return None
    amount = window.group(1)
    count = int(amount) if amount and amount.isdigit() else _AMOUNT.get(amount or "", 1)
    return count * (60 if window.group(2).lower().startswith("hour") else 1)


def without_event(question: str) -> str:
    """The question without the clause that names the event it asks about what came before ("was anything
    off in the hour" of "... before it died?"), so that the event's words ("died") do not make it a crash
    question; as it is for other questions ("which partition was it writing to when it fell over?" asks
    about the crash), and for a clause that names no trouble: "a bit before 9" is the time it asks about."""
    head = question[:MAX_QUESTION_CHARS]
    found = _EVENT.search(head)
    if found is None or not found.group(1) or not names_logged_trouble(found.group(3)):
        return head
    return head[:found.start()] + head[found.end():]
