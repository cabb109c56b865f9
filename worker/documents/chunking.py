"""Split documents into chunks of at most N encoder tokens, keeping exact line ranges.

Plain documents are packed line by line (packing.py), section by section: a markdown heading always
starts a new chunk, so a chunk lies within one section (runbook_lookup.py finds the headings). Logs
(``kind == "log"``) go through log_chunking.py: repeated lines folded, incidents first.
"""

from __future__ import annotations

from collections.abc import Sequence

from worker.documents.document import Chunk, Document, DocumentChunks, TokenCounter
from worker.documents.log_chunking import chunk_log, unfold_repeats
from worker.documents.packing import pack_lines, plain_lines
from worker.documents.runbook_lookup import markdown_headings

# What chunk_document makes from a document: part of the index's fingerprint (worker/index/chunk_index.py),
# so entries chunked another way are not reused. 2: a markdown heading starts a chunk. 3: log lines' severities
# as read since (Ruby backtraces are stack traces; Go's 'error:<nil>' is no error), which cut log incidents.
# 4: stack traces under syslog's prefix. 5: Rust panics, chains of causes after an error ("Caused by:"), a server's
# refusals in logs without levels ("denied", "not authorised"). 6: Ceph's levels (-1 is an error), a C++ daemon's
# backtrace after the signal it caught, Apache's configuration syntax errors. 7: a crash report's words ("stack dump",
# "fatal exception"), SQL Server's error number with its message on the next line. 8: fatal signals, gdb-style
# frames ("#2  0x55d0a3b829d2 in cb_lua_filter() at ..."), Fluent Bit's padded levels ("[ warn]"). 9: Zabbix's
# timestamps ("1202:20250311:013412.004") and its reports (lines of one process at one millisecond). 10: a
# configuration file's diagnostic ("/etc/bind/named.conf.options:18: option 'dnssec-enable' no longer exists").
# 11: an unindented line of an error's message that indented lines follow (libpq's "server closed the connection
# unexpectedly", then "\tThis probably means ..."). 12: a backtrace as glibc prints it ("Backtrace of last 14 frames:",
# "/usr/sbin/freeradius(modcall+0x2a9)[0x55b1a4f2e6c9]"). 13: strongSwan's backtrace ("dumping 8 stack frame
# addresses:", "/usr/lib/ipsec/libcharon.so.0 @ 0x7f5c3e6c0000 [0x7f5c3e6f7b35]") and what a daemon without levels
# says when it gives up or cannot go on ("giving up after 5 retransmits", "pool '10.10.8.0/26' is full"). 14: a peer
# unreachable in the C library's words, a fatal error or a crash ("Network is unreachable", "server conn crashed?")
# and a process killed for memory at any level (containerd's "TaskOOM event" at info). 15: seconds since 1970 are
# timestamps (Nagios's "[1733252561] ...", squid's native access log, zap's "ts":1733252561.5), so such lines fold.
# 16: CockroachDB's one-letter levels with the year ("W231114 14:06:31.924523 ...") and its failed events, Gitea's
# levels after the function ("UploadHandler() [E] ...") and its Go stacks ("/source/x/pull.go:447 (0x2c1e4b3)"), and
# the report that follows a line logged with an empty message (Spring Boot's "APPLICATION FAILED TO START").
# 17: Samba's and uWSGI's backtraces, Icinga 2's levels ("critical/IdoMysqlConnection: ..."), uWSGI's killed workers,
# pino's times in milliseconds, and no line with a time of its own taken into the message above a stack trace.
# 18: Cisco ASA's syslog times with the year ("May 14 2024 08:31:42"), so such lines fold.
# 19: counts of none are no error ("ERROR count: 0", "failed=0"); kernel NIC hangs, links down, full conntrack tables,
# BGP hold timers, VRRP FAULT states and "rejecting" are errors; a process killed for memory is one without a level too;
# a level field that says all is well outweighs a level word in the message ("summary":"ERROR count: 16").
# 22: Db2's db2diag.log: its times ("2024-03-14-04.12.33.456167+060"), and its records, whose lines take the level
# of the record's first line ("... LEVEL: Severe").
CHUNKER_VERSION = 23


def chunk_document(document: Document, max_tokens: int, count_tokens: TokenCounter) -> list[Chunk]:
    """Whole lines per chunk within ``max_tokens``, a markdown heading starting a new one; line numbers are
    those of the original file (``document.first_line`` is the first); blank-only chunks are dropped."""
    lines = plain_lines(document)
    headings = markdown_headings([line.text for line in lines])
    return pack_lines(document, lines, max_tokens, count_tokens, breaks={index for index, _, _ in headings})


def chunk_one(document: Document, max_tokens: int, count_tokens: TokenCounter) -> DocumentChunks:
    """One document's chunks: a log's incidents with their severity, and the rest in file order (all of a
    non-log document). What the pipeline caches per document; ``order_chunks`` merges them."""
    if max_tokens < 2:
        raise ValueError("max_tokens must be at least 2")
    if document.kind == "log":
        return chunk_log(document, max_tokens, count_tokens)
    return DocumentChunks([], chunk_document(document, max_tokens, count_tokens))


def order_chunks(per_document: Sequence[DocumentChunks]) -> list[Chunk]:
    """The incident chunks of every log (stack traces, then errors, then warnings; documents in the order
    given), then every other chunk, document by document, in file order."""
    incidents = sorted(
        ((-severity, position, chunk.index), chunk)
        for position, chunks in enumerate(per_document) for severity, chunk in chunks.incidents
    )
    return [chunk for _, chunk in incidents] + [chunk for chunks in per_document for chunk in chunks.others]


def chunk_documents(documents: list[Document], max_tokens: int, count_tokens: TokenCounter) -> list[Chunk]:
    """Chunk every document, incidents first (see ``order_chunks``)."""
    return order_chunks([chunk_one(document, max_tokens, count_tokens) for document in documents])


def text_from_chunks(document: Document, chunks: Sequence[Chunk]) -> str:
    """The text of a document whose text was left unread (an indexed Slack file: ``content_key``), rebuilt
    from its chunks: each line at its own number from ``document.first_line``, lines no chunk holds (blank
    ones) empty, the pieces of a line too long for a chunk joined again, a log's folded repeats unfolded
    (``unfold_repeats``). What passages read around the chunks they quote."""
    lines: dict[int, str] = {}
    for chunk in sorted(chunks, key=lambda c: (c.line_start, c.index)):
        number = chunk.line_start
        for line in chunk.text.split("\n"):
            originals = unfold_repeats(line, number) if document.kind == "log" else [line]
            for original in originals:
                lines[number] = f"{lines[number]} {original}" if number in lines else original
                number += 1
    if not lines:
        return ""
    return "\n".join(lines.get(n, "") for n in range(document.first_line, max(lines) + 1))
