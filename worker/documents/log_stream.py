"""Reading a log as it streams: all of it (up to the scan cap), through the reducer (log_reduce.py).

A log of at most ``reduce_above`` bytes comes back whole (a ``CappedText`` with no tail): chunking folds
its repeats and finds its incidents as for any log. A bigger one comes back reduced (``ReducedLog``):
every incident and rare line with context, and a summary; nothing is cut out of its middle unread.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable

from worker.documents.file_content import CappedText, LinesRange, UnreadableContent
from worker.documents.log_reduce import LogReducer, ReducedLog


def read_log(stream: Iterable[bytes], *, max_scan_bytes: int, reduce_above: int) -> CappedText | ReducedLog:
    """``stream``: the file's (gunzipped) bytes. Raises UnreadableContent when there is no text at all."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    reducer = LogReducer()
    whole = bytearray()
    total = 0
    stopped = False
    started = False
    for chunk in stream:
        if total + len(chunk) > max_scan_bytes:
            chunk = chunk[: max_scan_bytes - total]
            stopped = True
        total += len(chunk)
        if total <= reduce_above:
            whole.extend(chunk)
        text = decoder.decode(chunk)
        if not started and text:
            text, started = text.removeprefix("\ufeff"), True
        reducer.feed(text)
        if stopped:
            break
    reducer.feed(decoder.decode(b"", final=True))
    if total <= reduce_above:
        text = whole.decode("utf-8", errors="replace").removeprefix("\ufeff")
        if not text.strip():
            raise UnreadableContent("empty file" if total == 0 else "no text in it, only blank lines")
        return CappedText(LinesRange(text, 1), None, total, total, False)
    reduced = reducer.finish(scan_stopped=stopped)
    return ReducedLog(reduced.regions, reduced.summary, reduced.total_lines, total, reduced.kept_lines,
                      reduced.folded_incidents, stopped)
