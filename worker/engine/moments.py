"""A time of day in the question: "what happened just before 10am?", "it restarted a bit after 11:15",
"the reporting jobs fail since about 7", "503s just after lunch", "around half five", "ten to eight",
"between 2 and 3am".

Someone who names a clock time or a part of the day points at the log lines around it. ``moment_scores``
gives each log chunk 1 when its lines' timestamps meet a time the question names, falling linearly to 0
at ``WINDOW_MINUTES`` away (times of day only: dates, and the time zone the asker means, are not known;
the difference is taken around the clock). A time without am/pm that could be either half of the day
("2:20") counts as both, and the log's own times decide. A time after "before" or "after" ("just before
midnight") stretches ``BEFORE_AFTER_MINUTES`` to that side. A chunk without a timestamp of its own (a
stack trace: a frame's timestamp is its library's build) lies between the times of the chunks around
it. Chunks of documents that are not logs, and every chunk of a question that names no time, get 0.

Pure functions of the question and the candidates' text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

from worker.documents.document import Chunk, logs_in_file_order
from worker.documents.log_format import TIMESTAMP, epoch_seconds, is_stack_trace_line
from worker.engine.base import MAX_QUESTION_CHARS

WINDOW_MINUTES = 30.0
DAY = 24 * 60

Span = tuple[int, int]  # minutes after midnight, first and last; first > last wraps past midnight

_ASKED = re.compile(r"(?i)(?<![\w:.])(\d{1,2})(?::(\d{2}))?(?::\d{2})?\s*(am|pm)\b"  # 10am, 3:30 pm
                    r"|(?<![\w:.])(\d{1,2}):(\d{2})(?::\d{2}(?:[.,]\d+)?)?(?![\w:.]*\d)"  # 11:15, 09:30:12.5
                    # a bare hour after a word of time: "since about 7", "around 3, what..." (not "after 3 retries")
                    r"|\b(?:at|around|about|after|before|since|by|until|till|near|past)\s+(?:about\s+|around\s+)?"
                    r"(\d{1,2})(?![\d:.]\d|\s*[ap]m\b)(?:\s*o'?clock|ish)?"
                    r"(?=\s*(?:$|[,.?!;)]|-ish\b|\s(?:and|or|but|what|when|why|how|who"
                    r"|is|was|were|the|this|today|yesterday|tonight|last|in|on|utc|gmt|during|it|we|they|i"
                    r"|everything|one|our|my|someone|somebody)\b))"
                    r"|(?<![\w:.])(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
                    r"\s*o'?clock\b")  # "the 9 o'clock release", wherever it stands
_HOURS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
_HOUR = r"(\d{1,2}|" + "|".join(_HOURS) + r")"
_MINUTES = {"five": 5, "ten": 10, "quarter": 15, "a quarter": 15, "twenty": 20, "twenty-five": 25, "twenty five": 25,
            "half": 30}
# a number followed by what it counts is no time of day: "five to ten minutes", "between 2 and 3 retries"
_NOT_A_COUNT = (r"(?!\s*(?:%|percent\b|x\b|(?:min|sec|hour|hr|day|week|time|retr|attempt|node|pod|replica|gb|mb|kb)"
                r"\w*))")
# clock times in words: "half five" (5:30), "half past five", "quarter past three", "ten to eight" (7:50)
_WORDED = re.compile(r"(?i)\b(?:(half)(?: past)?"
                     r"|(a quarter|quarter|twenty[- ]five|twenty|ten|five) (past|after|to|till|til))"
                     r"\s+" + _HOUR + r"\b(?![:.]\d)" + _NOT_A_COUNT)
# a stretch between two times: "between 2 and 3am", "from 1:30 to 2:15"
_BETWEEN = re.compile(r"(?i)\b(?:between|from)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*(?:and|to|-)\s*"
                      r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b" + _NOT_A_COUNT)
# not "late morning", "early this morning"
_PLAIN = (r"(?<!early )(?<!late )(?<!early in the )(?<!late in the )(?<!early this )(?<!late this )(?<!mid )"
          r"(?<!mid-)")
# parts of the day people name instead of a time (their usual hours)
_PERIODS: tuple[tuple[re.Pattern[str], Span], ...] = tuple((re.compile(pattern, re.IGNORECASE), span)
                                                            for pattern, span in (
    (r"\b(?:noon|midday)\b", (720, 720)),
    (r"\bmidnight\b", (0, 0)),
    (r"\blunch(?:time)?\b", (690, 840)),
    (r"\bearly (?:in the |this )?morning\b", (180, 480)),
    (r"\b(?:dawn|daybreak|sunrise|first light)\b", (300, 480)),
    (r"\blate (?:in the |this )?morning\b", (600, 720)),
    (r"\bmid[- ]?morning\b", (540, 690)),
    (r"\bmid[- ]?afternoon\b", (840, 990)),
    (_PLAIN + r"\bmornings?\b", (240, 720)),
    (r"\bearly (?:in the |this )?afternoon\b", (720, 870)),
    (r"\blate (?:in the |this )?afternoon\b", (930, 1080)),
    (_PLAIN + r"\bafternoons?\b", (720, 1080)),
    (r"\b(?:dusk|sunset|nightfall)\b", (1020, 1200)),
    (r"\bevenings?\b", (1020, 1320)),
    (r"\btonight\b", (1080, 360)),
    (r"\b(?:middle of the night|overnight|last night|at night|in the night)\b", (1260, 360)),
))
_CLOCK = re.compile(r"(?<!\d)(\d{1,2}):(\d{2}):\d{2}")  # not "2026:11:15:13" read as 26:11
_TWELVE_HOUR = re.compile(r"[AP]M$")  # Windows' Event Viewer: "3/13/2024 3:41:07 AM", "3/12/2024 12:05:04 PM"
_COMPACT_CLOCK = re.compile(r"^\d{8}:(\d{2})(\d{2})\d{2}\.")  # Zabbix's date and time: "20250311:013412.004"
_DOTTED_CLOCK = re.compile(r"^\d{4}-\d{2}-\d{2}-(\d{2})\.(\d{2})\.\d{2}\.")  # Db2's: "2024-03-14-04.12.33.456167+060"


def asked_spans(question: str) -> list[Span]:
    """The times of day the question names, as spans of minutes after midnight: a clock time is a point
    (two when it may be either half of the day: "2:20", "about 7"; not "14:20", "02:20" or "3pm"), or the
    ``BEFORE_AFTER_MINUTES`` on the side a "before" or "after" names; a part of the day its usual hours
    ("around lunch", "in the middle of the night"), shifted to the side a "before" or "after" right before it
    names ("after lunch": ``_beside``), or, beside a clock time, which half of the day that is ("ten to eight
    this morning")."""
    head = question[:MAX_QUESTION_CHARS]
    found: list[Span] = []
    # what the stretches and the times in words read: the "3am" of "between 2 and 3am" is not also a point
    taken: list[tuple[int, int]] = []
    for match in _BETWEEN.finditer(head):
        first = _clock(match.group(1), match.group(2), match.group(3) or match.group(6))  # "2 and 3am": 2am
        last = _clock(match.group(4), match.group(5), match.group(6))
        if first and last and len(first) == len(last):
            found += list(zip(first, last, strict=True))
            taken.append(match.span())
    for match in _WORDED.finditer(head):
        hour = _HOURS.index(match.group(4).lower()) + 1 if match.group(4).isalpha() else int(match.group(4))
        minutes = 30 if match.group(1) else _MINUTES[" ".join(match.group(2).lower().replace("-", " ").split())]
        minute = (hour * 60 + (minutes if match.group(1) or match.group(3).lower() in ("past", "after")
                               else -minutes)) % (12 * 60)
        side = _side(head[:match.start()])
        found += [_widened(m, side) for m in (minute, minute + 12 * 60)] if hour <= 12 else []
        taken.append(match.span())
    for match in _ASKED.finditer(head):
        if any(start <= match.start() < end for start, end in taken):
            continue
        if match.group(3):
            hour, minute = int(match.group(1)) % 12, int(match.group(2) or 0)
            readings = [hour + (12 if match.group(3).lower() == "pm" else 0)]
        else:
            written = match.group(4) or match.group(6) or match.group(7)
            written = str(_HOURS.index(written.lower()) + 1) if written.isalpha() else written
            hour, minute = int(written), int(match.group(5) or 0)
            either_half = 1 <= hour <= 12 and not written.startswith("0")
            readings = [hour % 12, hour % 12 + 12] if either_half else [hour]
        side = _side(head[:match.end()])
        found += [_widened(h * 60 + minute, side) for h in readings if h < 24 and minute < 60]
    periods = []
    for pattern, span in _PERIODS:
        period = pattern.search(head)
        if period:
            if span[0] == span[1]:
                periods.append(_widened(span[0], _side(head[:period.start()])))
            else:  # "after lunch", not "after the overnight outage" (an event in the period)
                beside = _BESIDE.search(head[:period.start()])
                periods.append(_beside(span, beside.group(2).lower(), bool(beside.group(1))) if beside else span)
    if found and periods:  # "ten to eight this morning": the morning only says which eight
        return [t for t in found if any(_inside(t[0], p) for p in periods)] or found
    return found + periods


def _clock(hour: str, minute: str | None, half: str | None) -> list[int]:
    """Minutes after midnight of "2", "2:30", "3am": both halves of the day without am/pm; [] if no time."""
    h, m = int(hour), int(minute or 0)
    if m >= 60 or h >= 24 or (half and not 1 <= h <= 12):
        return []
    if half:
        return [(h % 12 + (12 if half.lower() == "pm" else 0)) * 60 + m]
    return [(h % 12) * 60 + m, (h % 12 + 12) * 60 + m] if 1 <= h <= 12 else [h * 60 + m]


_SIDE = re.compile(r"(?i)\b(before|after)\s+(?:about\s+|around\s+)?(?:the\s+)?(?:\d{1,2}\S*)?$")
BEFORE_AFTER_MINUTES = 15  # "just before midnight": the quarter hour before it; "after 11:15", the quarter after


def _side(text: str) -> str:
    """"before" or "after" when the time that ends ``text`` follows one of those words, else ""."""
    found = _SIDE.search(text)
    return found.group(1).lower() if found else ""


_BESIDE = re.compile(r"(?i)\b(?:(just|right|shortly|soon|a bit|a little|a tad)\s+)?(before|after)\s+$")
PERIOD_SHIFT = (120, 30)  # "after lunch": from half an hour into it to 2 hours after it; "before lunch", mirrored


def _beside(span: Span, side: str, close: bool = False) -> Span:
    """A part of the day, or the time just before or after it that a "before" or "after" names (people's
    lunch, evening... start and end at different times: the shifted span still holds most of the period); "a bit
    after lunch" (``close``) shifts both ends by the near shift only."""
    far, near = PERIOD_SHIFT
    if close:
        far = near
    if side == "before":
        return ((span[0] - far) % DAY, (span[1] - near) % DAY)
    if side == "after":
        return ((span[0] + near) % DAY, (span[1] + far) % DAY)
    return span


def _widened(minute: int, side: str) -> Span:
    """A point in time, or the ``BEFORE_AFTER_MINUTES`` before or after it."""
    if side == "before":
        return ((minute - BEFORE_AFTER_MINUTES) % DAY, minute)
    if side == "after":
        return (minute, (minute + BEFORE_AFTER_MINUTES) % DAY)
    return (minute, minute)


@functools.lru_cache(maxsize=65_536)
def chunk_minutes(text: str) -> Span | None:
    """The times of day of a log text's first and last timestamps, or None without any."""
    minutes = []  # a stack frame's timestamps are its library's build, not the log's
    for stamp in (TIMESTAMP.search(line) for line in text.split("\n") if not is_stack_trace_line(line)):
        if stamp is None:
            continue
        seconds = epoch_seconds(stamp.group(0))
        if seconds is not None:  # UTC
            minutes.append(int(seconds) // 60 % DAY)
            continue
        clock = (_CLOCK.search(stamp.group(0)) or _COMPACT_CLOCK.match(stamp.group(0))
                 or _DOTTED_CLOCK.match(stamp.group(0)))
        if clock:
            hour = int(clock.group(1)) % 12 + 12 * stamp.group(0).endswith("PM") if _TWELVE_HOUR.search(
                stamp.group(0)) else int(clock.group(1))
            minutes.append(hour * 60 + int(clock.group(2)))
    return (minutes[0], minutes[-1]) if minutes else None


def _own_minutes(chunk: Chunk, before: Chunk | None) -> Span | None:
    """``chunk_minutes`` of a chunk's text, less the rest of a line that the chunk before it began (a long JSON line
    split across chunks: its time is in the first piece, and a later piece's ``"git-time":"2024-04-09T17:36:42"`` is
    the build's, not the line's)."""
    text = chunk.text
    if before is not None and chunk.line_start == before.line_end:
        text = text.partition("\n")[2]
    return chunk_minutes(text)


def _inside(minute: int, span: Span) -> bool:
    first, last = span
    return first <= minute <= last if first <= last else minute >= first or minute <= last


def distance(asked: Span, span: Span) -> int:
    """Minutes between two spans of the day, around the clock (0 when they meet)."""
    if any(_inside(t, span) for t in asked) or any(_inside(t, asked) for t in span):
        return 0
    return min(min(abs(a - t), DAY - abs(a - t)) for a in asked for t in span)


def moment_scores(question: str, chunks: Sequence[Chunk], later: int = 0) -> np.ndarray:  # [N] in [0, 1]
    """See the module docstring. ``later``: minutes each named time also stretches forward ("it dropped off
    around 5:20, when did it come back?" asks about what followed)."""
    scores = np.zeros(len(chunks), np.float32)
    asked = [(first, (last + later) % DAY) for first, last in asked_spans(question)]
    if not asked:
        return scores
    for index, span in chunk_spans(chunks).items():
        nearest = min(distance(moment, span) for moment in asked)
        scores[index] = max(0.0, 1.0 - nearest / WINDOW_MINUTES)
    return scores


def chunk_spans(chunks: Sequence[Chunk]) -> dict[int, Span]:
    """Each log chunk's span of times of day; a chunk without a timestamp (a stack trace) lies between
    the last time before it and the first after it, among its log's candidates in file order."""
    spans: dict[int, Span] = {}
    for ordered in logs_in_file_order(chunks):
        own = [_own_minutes(chunks[i], chunks[ordered[n - 1]] if n else None) for n, i in enumerate(ordered)]
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
                if span is not None and 0 < span[0] - span[1] < DAY // 2:  # the clock went back, not past
                    span = (span[1], span[0])  # midnight (a line out of order): between the two
            if span is not None:
                spans[index] = span
    return spans
