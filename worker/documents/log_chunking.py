"""Log-aware chunking: fold repeated lines, find incidents (stack traces, errors, warnings), put them first.

1. Consecutive lines that are equal once timestamps are removed fold into one line that says how often
   it repeated and until when: ``... pool exhausted  [x312, lines 120-431, last 2024-05-01 10:05:12]``.
2. Each (folded) line gets a severity; a stack trace (Python ``Traceback``, Java ``at`` frames with
   ``Caused by``, Go ``panic``/``goroutine``) is one region together with the error line announcing it.
   The lines that continue a warning or error (indented lines of its message, its report's ``DETAIL:`` /
   ``CONTEXT:`` fields: ``log_format.continues_message``) take its severity, up to ``MAX_MESSAGE_LINES``.
   Warning and error lines with at most ``MERGE_GAP`` lines of the file between them join one region (a
   folded run counts as the lines it stands for: errors minutes apart stay apart, however quiet between).
3. Regions and the quiet stretches between them are packed into chunks of whole lines within the token
   budget. A chunk's ``line_start``/``line_end`` are lines of the original file, folded lines included.
   Incident chunks come first (stack traces, then errors, then warnings; in file order within each),
   then the rest in file order. ``Chunk.index`` is always the position in the file.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from worker.documents.document import Chunk, Document, DocumentChunks, TokenCounter
from worker.documents.log_format import (
    Severity,
    announces_message,
    announces_report,
    continues_message,
    continues_report,
    continues_report_lines,
    continues_stack_trace,
    first_timestamp,
    has_leading_timestamp,
    line_severity,
    line_template,
    opens_record,
    starts_stack_trace,
    strip_timestamps,
)
from worker.documents.packing import Line, file_lines, pack_lines

MERGE_GAP = 2  # quiet lines of the file between two incident lines that still make them one region
MAX_MESSAGE_LINES = 20  # lines of a message above its first stack frame, or after its first line
MAX_RECORD_LINES = 120  # lines of a record after its first line (``log_format.opens_record``) that take its level


@dataclass(frozen=True)
class LogLine(Line):
    """A line as chunks show it (``text``: with the repeat count when a run was folded into it)."""

    raw: str  # the first original line

    @property
    def repeats(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class Region:
    start: int  # index into the folded lines, inclusive
    end: int  # inclusive
    severity: Severity



def fold_repeats(lines: list[str], first_line: int = 1) -> list[LogLine]:
    """Fold runs of lines equal up to their timestamps; blank lines are never folded."""
    folded: list[LogLine] = []
    i = 0
    while i < len(lines):
        key = strip_timestamps(lines[i])
        j = i + 1
        if key.strip():
            while j < len(lines) and strip_timestamps(lines[j]) == key:
                j += 1
        first, last = first_line + i, first_line + j - 1
        text = lines[i]
        if j - i > 1:
            stamp = first_timestamp(lines[j - 1])
            text += f"  [x{j - i}, lines {first}-{last}" + (f", last {stamp}]" if stamp else "]")
        folded.append(LogLine(first, last, text, lines[i]))
        i = j
    return folded


_FOLDED = re.compile(r"  \[x(\d+), lines (\d+)-(\d+)(?:, last (.+))?\]$")


def folded_run(line: str) -> tuple[str, int]:
    """A chunk line without ``fold_repeats``' marker, and how many lines of the file it stands for."""
    folded = _FOLDED.search(line)
    return (line[:folded.start()], int(folded.group(1))) if folded else (line, 1)


@functools.lru_cache(maxsize=65_536)
def problem_templates(text: str) -> Counter[str]:
    """The templates (``line_template``) of a log text's warning-or-worse lines, with how many lines each
    stands for (a folded run counts its repeats)."""
    found: Counter[str] = Counter()
    for line in text.split("\n"):
        if line_severity(line) == Severity.NONE:
            continue
        text, repeats = folded_run(line)
        found[line_template(text)] += repeats
    return found


def unfold_repeats(line: str, number: int) -> list[str]:
    """The original lines that a line of a chunk stands for, when it is line ``number`` of the file: the
    run ``fold_repeats`` folded into it (its first line, and the last one dated by the last timestamp it
    names: folding these again gives the same line), or the line itself."""
    folded = _FOLDED.search(line)
    if folded is None:
        return [line]
    count, first, last, stamp = int(folded.group(1)), int(folded.group(2)), int(folded.group(3)), folded.group(4)
    if first != number or last - first + 1 != count or count < 2:
        return [line]  # a line that only reads like a folded one
    raw = line[:folded.start()]
    was = first_timestamp(raw)
    final = raw.replace(was, stamp, 1) if was and stamp else raw
    return [raw] * (count - 1) + [final]


def line_severities(lines: list[LogLine]) -> list[Severity]:
    """A severity per folded line; every line of a stack trace (and the error line before it, or the line it
    was logged with: ``_logged_with``) is ``STACK_TRACE``; the lines that continue a warning or error's
    message take its severity, and the lines of a record (``log_format.opens_record``) its first line's."""
    marks = [Severity.NONE] * len(lines)
    i = 0
    while i < len(lines):
        following = lines[i + 1].raw if i + 1 < len(lines) else None
        if starts_stack_trace(lines[i].raw, following):
            start = _message_start(lines, marks, i)
            if start > 0 and (marks[start - 1] == Severity.ERROR
                              or _logged_with(lines[start - 1].raw, lines[start].raw)):
                start -= 1
            j = i + 1
            while j < len(lines) and continues_stack_trace(
                lines[j].raw, lines[j - 1].raw, lines[j + 1].raw if j + 1 < len(lines) else None
            ):
                j += 1
            for k in range(start, j):
                marks[k] = Severity.STACK_TRACE
            i = j
            continue
        marks[i] = line_severity(lines[i].raw)
        if opens_record(lines[i].raw):  # its lines have its level, whatever their words say ("failed" in an Info)
            j = record_end(lines, i)
            for k in range(i + 1, j):
                marks[k] = marks[i]
            i = j
            continue
        if marks[i] in (Severity.WARNING, Severity.ERROR):
            j = i + 1
            while j < len(lines) and j - i <= MAX_MESSAGE_LINES and _continues(lines, i, j):
                marks[j] = marks[i]
                j += 1
            i = j
            continue
        i += 1
    return marks


def record_end(lines: Sequence[LogLine], start: int) -> int:
    """The index after the last line of the record that ``lines[start]`` opens (``log_format.opens_record``): its
    lines run to a blank line or the next timestamped line, at most ``MAX_RECORD_LINES`` after the first."""
    end = start + 1
    while (end < len(lines) and end - start <= MAX_RECORD_LINES and lines[end].raw.strip()
           and not has_leading_timestamp(lines[end].raw)):
        end += 1
    return end


def _continues(lines: list[LogLine], head: int, index: int) -> bool:
    """Line ``index`` belongs to the warning or error at ``head``: its message goes on there (``continues_message``),
    the head gave only the error's number (``announces_message``), it is a line of the head's report
    (``continues_report``), or the head's message was empty and its report follows (``announces_report``)."""
    following = lines[index + 1].raw if index + 1 < len(lines) else None
    return (continues_message(lines[index].raw, following)
            or (index == head + 1 and announces_message(lines[head].raw))
            or continues_report(lines[index].raw, lines[head].raw)
            or (announces_report(lines[head].raw) and continues_report_lines(lines[index].raw, following)))


# a Java (Kotlin, Scala) exception's first line: its class's full name ("java.util.concurrent.TimeoutException:")
_EXCEPTION_HEAD = re.compile(r"^(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable)\b")


def _logged_with(line: str, trace_first: str) -> bool:
    """A stack trace that opens with a Java exception's class name and no timestamp, right after a timestamped
    line, is the exception logged with that line's message, whatever its level (Jenkins: "INFO ... Ping failed.
    Terminating the channel mac-builder-02." then "java.util.concurrent.TimeoutException: ...")."""
    return (has_leading_timestamp(line) and not has_leading_timestamp(trace_first)
            and bool(_EXCEPTION_HEAD.match(trace_first)))


def _message_start(lines: list[LogLine], marks: list[Severity], trace_start: int) -> int:
    """Where the message that a stack trace belongs to starts: a Java exception's message may run over
    several lines without a timestamp (``Detail:``, ``Hint:``) before the first ``at`` frame. Those lines
    are taken when a timestamped line opens them; otherwise the trace starts where it was found. A line with a time
    anywhere in it is a record of its own, no line of such a message (uWSGI's request lines: "[pid: 14872|app: 0|req:
    8/109] 192.0.2.18 () {43 vars in 758 bytes} [Wed Oct  9 15:01:44 2024] GET ...")."""
    j = trace_start
    while (j > 0 and trace_start - j < MAX_MESSAGE_LINES and lines[j - 1].raw.strip()
           and not first_timestamp(lines[j - 1].raw) and marks[j - 1] != Severity.STACK_TRACE):
        j -= 1
    if j == trace_start or j == 0 or not has_leading_timestamp(lines[j - 1].raw):
        return trace_start
    return j


def incident_regions(lines: list[LogLine], marks: list[Severity]) -> list[Region]:
    """Stack traces as they are; warning/error lines merged across gaps of at most ``MERGE_GAP`` lines of
    the file (``marks``: one per folded line of ``lines``)."""
    regions: list[Region] = []
    for index, mark in enumerate(marks):
        if mark == Severity.NONE:
            continue
        last = regions[-1] if regions else None
        same_kind = last is not None and (last.severity == Severity.STACK_TRACE) == (mark == Severity.STACK_TRACE)
        if last is not None and same_kind and (
            index == last.end + 1
            or (mark != Severity.STACK_TRACE and lines[index].first - lines[last.end].last - 1 <= MERGE_GAP)
        ):
            regions[-1] = Region(last.start, index, max(last.severity, mark))
        else:
            regions.append(Region(index, index, mark))
    return regions


def chunk_log(document: Document, max_tokens: int, count_tokens: TokenCounter) -> DocumentChunks:
    """See the module docstring."""
    lines = fold_repeats(file_lines(document.text), document.first_line)
    spans: list[tuple[Severity, int, int]] = []  # (severity, start, end) over ``lines``, file order
    position = 0
    for region in incident_regions(lines, line_severities(lines)):
        if region.start > position:
            spans.append((Severity.NONE, position, region.start))
        spans.append((region.severity, region.start, region.end + 1))
        position = region.end + 1
    if position < len(lines):
        spans.append((Severity.NONE, position, len(lines)))
    incidents: list[tuple[Severity, Chunk]] = []
    others: list[Chunk] = []
    index = 0  # position in the file, across spans
    for severity, start, end in spans:
        for chunk in pack_lines(document, lines[start:end], max_tokens, count_tokens):
            numbered = replace(chunk, index=index)
            index += 1
            if severity == Severity.NONE:
                others.append(numbered)
            else:
                incidents.append((severity, numbered))
    incidents.sort(key=lambda item: (-item[0], item[1].index))
    return DocumentChunks(incidents, others)
