"""A time of day in the question: "what happened just before 10am?", "it restarted a bit after 11:15".

Someone who names a clock time points at the log lines around it. ``moment_scores`` gives each log chunk
1 when its lines' timestamps span a time the question names, falling linearly to 0 at ``WINDOW_MINUTES``
away (times of day only: dates, and the time zone the asker means, are not known; the difference is
taken around the clock). A chunk without a timestamp of its own (a stack trace) lies between the times
of the chunks around it. Chunks of documents that are not logs, and every chunk of a question that names
no time, get 0.

Pure functions of the question and the candidates' text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

from worker.documents.document import Chunk, logs_in_file_order
from worker.documents.log_format import TIMESTAMP

MAX_QUESTION_CHARS = 2000
WINDOW_MINUTES = 30.0
DAY = 24 * 60

_ASKED = re.compile(r"(?i)(?<![\w:.])(\d{1,2})(?::(\d{2}))?(?::\d{2})?\s*(am|pm)\b"  # 10am, 3:30 pm
                    r"|(?<![\w:.])(\d{1,2}):(\d{2})(?::\d{2}(?:[.,]\d+)?)?(?![\w:.]*\d)")  # 11:15, 09:30:12.5
_CLOCK = re.compile(r"(\d{1,2}):(\d{2}):\d{2}")


def asked_minutes(question: str) -> list[int]:
    """The times of day (minutes after midnight) the question names."""
    found = []
    for match in _ASKED.finditer(question[:MAX_QUESTION_CHARS]):
        if match.group(3):
            hour, minute = int(match.group(1)) % 12, int(match.group(2) or 0)
            hour += 12 if match.group(3).lower() == "pm" else 0
        else:
            hour, minute = int(match.group(4)), int(match.group(5))
        if hour < 24 and minute < 60:
            found.append(hour * 60 + minute)
    return found


@functools.lru_cache(maxsize=65_536)
def chunk_minutes(text: str) -> tuple[int, int] | None:
    """The times of day of a log text's first and last timestamps, or None without any."""
    minutes = []
    for stamp in (TIMESTAMP.search(line) for line in text.split("\n")):
        clock = _CLOCK.search(stamp.group(0)) if stamp else None
        if clock:
            minutes.append(int(clock.group(1)) * 60 + int(clock.group(2)))
    return (minutes[0], minutes[-1]) if minutes else None


def _distance(minute: int, span: tuple[int, int]) -> int:
    first, last = span
    if first <= last and first <= minute <= last:
        return 0
    return min(min(abs(minute - t), DAY - abs(minute - t)) for t in span)


def moment_scores(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in [0, 1]
    """See the module docstring."""
    scores = np.zeros(len(chunks), np.float32)
    asked = asked_minutes(question)
    if not asked:
        return scores
    for index, span in _spans(chunks).items():
        nearest = min(_distance(minute, span) for minute in asked)
        scores[index] = max(0.0, 1.0 - nearest / WINDOW_MINUTES)
    return scores


def _spans(chunks: Sequence[Chunk]) -> dict[int, tuple[int, int]]:
    """Each log chunk's span of times of day; a chunk without a timestamp (a stack trace) lies between
    the last time before it and the first after it, among its log's candidates in file order."""
    spans: dict[int, tuple[int, int]] = {}
    for ordered in logs_in_file_order(chunks):
        own = [chunk_minutes(chunks[i].text) for i in ordered]
        before: list[int | None] = []  # the last time before each chunk, one pass forward
        last = None
        for span in own:
            before.append(last)
            last = span[1] if span else last
        after: list[int | None] = []  # the first time after each chunk, one pass backward
        first = None
        for span in reversed(own):
            after.append(first)
            first = span[0] if span else first
        after.reverse()
        for index, span, prior, later in zip(ordered, own, before, after, strict=True):
            if span is None:
                known = [t for t in (prior, later) if t is not None]
                span = (known[0], known[-1]) if known else None
            if span is not None:
                spans[index] = span
    return spans
