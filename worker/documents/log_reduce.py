"""Big logs read whole, then reduced to what an on-call question needs: every incident and the rare lines,
with a few lines of context each, and a summary of the rest.

The log streams past once (plain or gunzipped, up to the scan cap), in blocks:

1. A line's *shape* is its text with every digit made ``0`` (one ``str.translate`` over the block).
   Known shapes cost a dictionary lookup. A new shape is masked properly (numbers, hex ids, UUIDs…) and
   goes to Drain3 (the field's standard log-template miner) unless that masked form was seen, so Drain3
   sees each masked form once, not each line.
2. Incident lines are found by one RE2 (linear-time) scan of the block: ERROR/FATAL/CRITICAL and the like, stack
   traces (kept whole, as far as ``MAX_TRACE_LINES``), panics, OOM kills, non-zero exits, timeouts. For
   each incident template the first ``keep_per_template`` occurrences and the last one are kept with
   ``context`` lines around them; the other occurrences are counted (the note says how many).
3. A template seen at most ``rare_max`` times in the whole file is kept too, each occurrence with context.

Nothing depends on where in the file an incident is. Kept lines keep the file's own line numbers: the
reduced log is a list of ranges of original lines (``LinesRange``), plus the summary (templates with
their counts and first and last lines). Memory is bounded: blocks, the shapes cache, the templates and
the kept lines all have caps.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate

import re2
from drain3.drain import Drain

from worker.documents.file_content import LinesRange, human_bytes
from worker.documents.log_format import continues_stack_trace, starts_stack_trace

MAX_TRACE_LINES = 200  # a stack trace longer than this is kept up to here (lookahead across blocks)
_MASK = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # UUID
    r"|\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{12,}\b"  # hex ids, hashes
    r"|\d+(?:[.:,/_-]\d+)*"  # numbers, dates, times, IPs, versions
)
_DIGITS = str.maketrans("123456789", "000000000")
_INCIDENT_PATTERN = (
    r"(?m)\b(?:ERROR|ERR|FATAL|CRITICAL|CRIT|SEVERE|PANIC|EMERG|ALERT)\b"
    r"|\blevel[\"']?[=:][ \t]*[\"']?(?:error|err|fatal|critical|panic)\b"
    r"|(?i:\b(?:error|fatal|panic)\b:)"
    r"|\b[A-Z]\w*(?:Exception|Error)\b"
    r"|^(?:Traceback \(most recent call last\):|Exception in thread \"|panic: |goroutine \d+ \[)"
    r"|^\s+at [\w$.<>/]+\("
    r"|\bOOMKilled\b|(?i:\bout of memory\b|\boom[-_ ]?kill)|\bKilled process\b|(?i:\bsegmentation fault\b)"
    r"|(?i:\bexit(?:ed)?(?: with)?(?: status| code)?[ =:]+-?[1-9]\d*)"
    r"|(?i:\btime[d]?[ -]?out\b|\bdeadline exceeded\b)"
)
_INCIDENT = re2.compile(_INCIDENT_PATTERN)


@dataclass
class Template:
    """A Drain3 cluster as this file uses it."""

    cluster_id: int
    count: int = 0
    first: int = 0  # first line number
    last: int = 0
    incident: bool = False
    captures: list[list[int]] = field(default_factory=list)  # kept occurrences' line numbers
    last_capture: list[int] | None = None  # the latest occurrence past ``keep_per_template``


@dataclass(frozen=True)
class ReducedLog:
    regions: list[LinesRange]  # kept lines, in file order, with their original line numbers
    summary: str
    total_lines: int
    total_bytes: int  # bytes read (characters when the reducer was fed text without its byte count)
    kept_lines: int
    folded_incidents: int  # incident occurrences counted, not kept
    scan_stopped: bool
    ended_early: bool = False  # the file's data stops short (a truncated .gz): all that was there was read

    def note(self, name: str, scan_cap: int) -> str:
        kept = (f"kept {self.kept_lines:,} (every incident and rare line, with context) and a summary of the "
                "rest")
        if self.scan_stopped or self.ended_early:
            text = f"{name}: read {self.total_lines:,} lines ({human_bytes(self.total_bytes)}), {kept}"
        else:
            text = (f"{name} has {self.total_lines:,} lines ({human_bytes(self.total_bytes)}): read all of them "
                    f"and {kept}")
        if self.folded_incidents:
            text += (f"; {self.folded_incidents:,} repeats of the same incidents were counted in the summary, "
                     "not kept")
        if self.scan_stopped:
            text += f"; stopped reading after {human_bytes(scan_cap)}; the rest of {name} was not read"
        if self.ended_early:
            text += (f"; {name} ends early (its compressed data is cut short): lines after {self.total_lines} "
                     "are missing")
        return text


class LogReducer:
    """Feed it decoded text as it streams (``feed``), then ``finish``."""

    def __init__(self, *, context: int = 2, keep_per_template: int = 3, rare_max: int = 3,
                 max_kept_bytes: int = 8_000_000, max_shapes: int = 200_000, max_templates: int = 50_000,
                 block_lines: int = 20_000) -> None:
        self.context = context
        self.keep_per_template = keep_per_template
        self.rare_max = rare_max
        self.max_kept_bytes = max_kept_bytes
        self.max_shapes = max_shapes
        self.max_templates = max_templates
        self.block_lines = block_lines
        self.drain = Drain(sim_th=0.4, depth=4, max_clusters=max_templates)
        self.shapes: dict[str, Template] = {}  # shape -> template (a cache, cleared when full)
        self.masked: dict[str, Template] = {}  # masked form -> template
        self.templates: dict[int, Template] = {}
        self.kept: dict[int, str] = {}  # line number -> text
        self._refs: dict[int, int] = {}  # line number -> captures holding it
        self._kept_bytes = 0
        self.folded = 0
        self.dropped = 0  # incident occurrences not kept because the kept bytes were at their cap
        self._partial = ""  # text after the last newline
        self._pending: list[str] = []  # whole lines not processed yet
        self._before: list[str] = []  # the last processed lines (context for the next block)
        self._next_line = 1  # number of the first pending line
        self._covered = 0  # last line number inside a kept stack trace
        self._rows: list[Template | None] = []  # the template of each processed line of the current block
        self.total_chars = 0

    # ---- streaming ---------------------------------------------------------------------------------
    def feed(self, text: str) -> None:
        self.total_chars += len(text)
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        self._pending.extend(lines)
        if len(self._pending) >= self.block_lines + MAX_TRACE_LINES:
            self._process(final=False)

    def finish(self, *, scan_stopped: bool = False) -> ReducedLog:
        """``scan_stopped``: reading stopped at the scan cap, so a last line without its newline was cut
        and is left out (only whole lines are shown)."""
        if self._partial and not scan_stopped:
            self._pending.append(self._partial)
        self._partial = ""
        self._process(final=True)
        return ReducedLog(self._regions(), self._summary(), self._next_line - 1, self.total_chars,
                          len(self.kept), self.folded, scan_stopped)

    def _process(self, final: bool) -> None:
        """Process the pending lines, all of them when ``final``, else all but a lookahead of
        ``MAX_TRACE_LINES`` (a trace or a context that runs past the block sees its following lines)."""
        before = self._before
        lines = before + self._pending
        start = len(before)
        end = len(lines) if final else len(lines) - MAX_TRACE_LINES
        if end <= start:
            return
        base = self._next_line - start  # line number of lines[0]
        block = "\n".join(lines[start:end])
        self._count_shapes(block.translate(_DIGITS).split("\n"), base + start)
        offsets = list(accumulate(len(line) + 1 for line in lines[start:end]))
        incident_rows: list[int] = []
        for match in _INCIDENT.finditer(block):
            row = start + bisect.bisect_right(offsets, match.start())
            if not incident_rows or incident_rows[-1] != row:
                incident_rows.append(row)
        self._keep_incidents(lines, incident_rows, base)
        self._capture_rare(lines, base, start)
        self._next_line = base + end
        self._before = lines[max(start, end - self.context):end]
        self._pending = lines[end:]

    # ---- the steps ---------------------------------------------------------------------------------
    def _count_shapes(self, shapes: list[str], first_line: int) -> None:
        known = self.shapes
        rows: list[Template | None] = []
        self._rows = rows
        for number, shape in enumerate(shapes, start=first_line):
            template = known.get(shape)
            if template is None:
                template = self._template_of(shape, number)
                if len(known) >= self.max_shapes:
                    known.clear()  # a cache: shapes seen again go through Drain3 once more
                if template is not None:
                    known[shape] = template
            if template is not None:
                template.count += 1
                template.last = number
            rows.append(template)

    def _template_of(self, shape: str, number: int) -> Template | None:
        masked = _MASK.sub("#", shape)
        template = self.masked.get(masked)
        if template is not None:
            return template
        cluster, _ = self.drain.add_log_message(masked)
        template = self.templates.get(cluster.cluster_id)
        if template is None:
            if len(self.templates) >= self.max_templates:
                return None
            template = Template(cluster.cluster_id, first=number)
            self.templates[cluster.cluster_id] = template
        if len(self.masked) >= self.max_shapes:
            self.masked.clear()
        self.masked[masked] = template
        return template

    def _keep_incidents(self, lines: list[str], rows: list[int], base: int) -> None:
        covered = self._covered - base  # last row already inside a kept trace (it may reach into this block)
        first_row = len(self._before)
        for row in rows:
            if row <= covered:
                continue
            top = row
            if row > 0 and starts_stack_trace(lines[row], lines[row + 1] if row + 1 < len(lines) else None):
                if row - 1 >= first_row and _INCIDENT.search(lines[row - 1]):
                    top = row - 1  # the error line announcing the trace
            elif row > first_row and lines[row].startswith((" ", "\t")) and row - 1 not in rows:
                top = row - 1  # a frame whose header did not match: start at the line before
            bottom = row
            while (bottom + 1 < len(lines) and bottom - top < MAX_TRACE_LINES
                   and continues_stack_trace(lines[bottom + 1], lines[bottom],
                                             lines[bottom + 2] if bottom + 2 < len(lines) else None)):
                bottom += 1
            covered = bottom
            self._covered = base + bottom
            template = self._rows[row - first_row] if row - first_row < len(self._rows) else None
            self._occurrence(template, lines, base, top, bottom)

    def _occurrence(self, template: Template | None, lines: list[str], base: int, top: int, bottom: int) -> None:
        span = list(range(max(0, top - self.context), min(len(lines), bottom + self.context + 1)))
        if template is None:  # past the template cap: keep it while there is room
            self._capture(span, lines, base)
            return
        template.incident = True
        if len(template.captures) < self.keep_per_template:
            template.captures.append(self._capture(span, lines, base))
            return
        if template.last_capture is not None:
            self._release(template.last_capture)
            self.folded += 1
        template.last_capture = self._capture(span, lines, base)

    def _capture_rare(self, lines: list[str], base: int, start: int) -> None:
        """Occurrences of templates still rare so far are kept; a template that stops being rare (and is
        no incident) lets its kept lines go."""
        for offset, template in enumerate(self._rows):
            if template is None or template.incident:
                continue
            if template.count <= self.rare_max:
                row = start + offset
                if len(template.captures) < template.count:
                    template.captures.append(self._capture(
                        list(range(max(0, row - self.context), min(len(lines), row + self.context + 1))), lines, base))
            elif template.captures:
                for capture in template.captures:
                    self._release(capture)
                template.captures = []

    def _capture(self, rows: list[int], lines: list[str], base: int) -> list[int]:
        numbers = []
        for row in rows:
            number = base + row
            if number not in self.kept:
                if self._kept_bytes >= self.max_kept_bytes:
                    self.dropped += 1
                    continue
                self.kept[number] = lines[row]
                self._kept_bytes += len(lines[row]) + 1
            self._refs[number] = self._refs.get(number, 0) + 1
            numbers.append(number)
        return numbers

    def _release(self, numbers: list[int]) -> None:
        for number in numbers:
            left = self._refs.get(number, 0) - 1
            if left > 0:
                self._refs[number] = left
            else:
                self._refs.pop(number, None)
                text = self.kept.pop(number, None)
                if text is not None:
                    self._kept_bytes -= len(text) + 1

    # ---- the result ----------------------------------------------------------------------------------
    def _regions(self) -> list[LinesRange]:
        regions: list[LinesRange] = []
        run: list[str] = []
        first = previous = 0
        for number in sorted(self.kept):
            if run and number != previous + 1:
                regions.append(LinesRange("\n".join(run), first))
                run = []
            if not run:
                first = number
            run.append(self.kept[number])
            previous = number
        if run:
            regions.append(LinesRange("\n".join(run), first))
        return regions

    def _summary(self, top: int = 25) -> str:
        clusters = {c.cluster_id: c.get_template() for c in self.drain.clusters}
        templates = sorted(self.templates.values(), key=lambda t: -t.count)
        incidents = [t for t in templates if t.incident]
        rare = [t for t in templates if not t.incident and t.count <= self.rare_max]
        out = [f"{self._next_line - 1:,} lines, {len(templates):,} line templates "
               f"({len(incidents)} with incidents, {len(rare)} rare)."]
        if incidents:
            out.append("Incident templates (count, first and last line):")
            out += [f"  {t.count:,}x lines {t.first}-{t.last}: {clusters.get(t.cluster_id, '?')}"
                    for t in incidents[:top]]
        out.append("Most frequent templates (count, first and last line):")
        out += [f"  {t.count:,}x lines {t.first}-{t.last}: {clusters.get(t.cluster_id, '?')}"
                for t in templates[:top]]
        return "\n".join(out)


def reduce_log(blocks: Iterable[str], **options: int) -> ReducedLog:
    reducer = LogReducer(**options)
    for block in blocks:
        reducer.feed(block)
    return reducer.finish()
