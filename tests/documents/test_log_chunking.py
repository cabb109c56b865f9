from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.documents.conftest import EXAMPLE_LOG, words
from worker.documents.chunking import chunk_documents
from worker.documents.document import Document
from worker.documents.log_chunking import (
    MAX_MESSAGE_LINES,
    chunk_log,
    fold_repeats,
    incident_regions,
    line_severities,
)
from worker.documents.log_format import (
    Severity,
    continues_message,
    first_timestamp,
    has_leading_timestamp,
    line_severity,
    looks_like_log_text,
)
from worker.documents.packing import split_long_line
from worker.engine.base import Citation
from worker.engine.default import ExtractiveEngine
from worker.engine.incidents import text_severity
from worker.engine.moments import chunk_minutes
from worker.slack_reply import citation_label

# examples/logs/checkout-api.log: the incident
POOL_WARNINGS = (164, 203)  # the same pool warning 40 times
TRACE = (204, 225)  # "ERROR ... unhandled exception" and the chained Python traceback under it
PAYMENTS_ERROR = 227
SLOW_REQUEST_WARNING = 67


def _example() -> Document:
    return Document("slack-file:F1", "checkout-api.log", EXAMPLE_LOG.read_text(), kind="log")


def test_fixture_is_what_the_tests_think_it_is() -> None:
    lines = EXAMPLE_LOG.read_text().split("\n")
    assert "unhandled exception" in lines[TRACE[0] - 1]
    assert lines[TRACE[0]] == "Traceback (most recent call last):"
    assert lines[TRACE[1] - 1].startswith("sqlalchemy.exc.TimeoutError: QueuePool limit")
    assert len({line[24:] for line in lines[POOL_WARNINGS[0] - 1:POOL_WARNINGS[1]]}) == 1


def test_repeated_lines_fold_into_one_with_count_and_original_range() -> None:
    lines = EXAMPLE_LOG.read_text().split("\n")
    folded = fold_repeats(lines)
    pool = next(line for line in folded if "QueuePool limit" in line.text and line.repeats > 1)
    assert (pool.first, pool.last) == POOL_WARNINGS
    assert "[x40, lines 164-203, last 2024-05-14 13:57:45,191]" in pool.text
    assert len(folded) == len(lines) - 39


def test_stack_trace_is_one_region_with_its_error_line() -> None:
    folded = fold_repeats(EXAMPLE_LOG.read_text().split("\n"))
    regions = incident_regions(folded, line_severities(folded))
    traces = [r for r in regions if r.severity == Severity.STACK_TRACE]
    assert len(traces) == 1
    assert (folded[traces[0].start].first, folded[traces[0].end].last) == TRACE


def test_the_fields_of_an_error_report_are_part_of_its_incident() -> None:
    """A database logs an error's detail, context and statement as lines of their own: the incident is
    all of them (the table is named in the CONTEXT line, not in the ERROR line)."""
    lines = [
        "2024-05-01 10:00:00.000 UTC [77] app@db LOG:  connection authorized: user=app database=db",
        '2024-05-01 10:00:01.100 UTC [77] app@db ERROR:  duplicate key value violates unique constraint "users_pkey"',
        "2024-05-01 10:00:01.100 UTC [77] app@db DETAIL:  Key (email)=(a@example.com) already exists.",
        '2024-05-01 10:00:01.100 UTC [77] app@db CONTEXT:  COPY users, line 3 in relation "users"',
        "2024-05-01 10:00:01.101 UTC [77] app@db STATEMENT:  INSERT INTO users (email) VALUES ($1)",
        "2024-05-01 10:00:02.000 UTC [77] app@db LOG:  disconnection: session time: 0:00:02.000",
    ]
    folded = fold_repeats(lines)
    marks = line_severities(folded)
    assert marks == [Severity.NONE, *[Severity.ERROR] * 4, Severity.NONE]
    [region] = incident_regions(folded, marks)
    assert (region.start, region.end) == (1, 4)


def test_indented_lines_of_a_message_take_its_severity_up_to_a_bound() -> None:
    lines = ["2024-05-01 10:00:00 WARNING slow request", "    path=/api/orders", "\ttook=3.2s",
             "    INFO a line of its own level", "2024-05-01 10:00:01 INFO next request"]
    assert line_severities(fold_repeats(lines)) == [Severity.WARNING] * 3 + [Severity.NONE] * 2
    long = ["2024-05-01 10:00:00 ERROR dump follows", *[f"    field{i}=value{i}" for i in range(100)]]
    marks = line_severities(fold_repeats(long))
    assert marks.count(Severity.ERROR) == 1 + MAX_MESSAGE_LINES and marks[-1] == Severity.NONE


def test_incidents_come_first_trace_then_errors_then_warnings() -> None:
    chunks = chunk_documents([_example()], 256, words)
    cited = [citation_label(Citation(c, 0.5)).split(" · ")[1] for c in chunks[:4]]  # as the answer shows them
    assert cited == [
        f"`checkout-api.log:{TRACE[0]}-{TRACE[1]}`",
        f"`checkout-api.log:{PAYMENTS_ERROR}`",
        f"`checkout-api.log:{SLOW_REQUEST_WARNING}`",
        f"`checkout-api.log:{POOL_WARNINGS[0]}-{POOL_WARNINGS[1]}`",
    ]
    rest = chunks[4:]
    assert [c.index for c in rest] == sorted(c.index for c in rest)  # the rest in file order
    assert "sqlalchemy.exc.TimeoutError" in chunks[0].text and "Traceback" in chunks[0].text


def test_every_line_is_in_exactly_one_chunk_and_chunks_fit_the_budget() -> None:
    document = _example()
    chunks = chunk_documents([document], 64, words)
    covered: list[int] = []
    for chunk in chunks:
        assert words(chunk.text) <= 64
        covered.extend(range(chunk.line_start, chunk.line_end + 1))
    assert sorted(covered) == list(range(1, 349))  # 348 lines, the trailing empty one has no chunk


def test_line_numbers_follow_first_line_for_the_tail_of_a_big_file() -> None:
    text = EXAMPLE_LOG.read_text()
    tail = "\n".join(text.split("\n")[150:])  # as if lines 1-150 had been skipped
    document = Document("slack-file:F1@L151", "checkout-api.log", tail, kind="log", first_line=151)
    chunks = chunk_documents([document], 256, words)
    assert (chunks[0].line_start, chunks[0].line_end) == TRACE


JAVA_LOG = """\
2024-05-01T10:00:00Z INFO  OrderService - processing order 42
2024-05-01T10:00:01Z ERROR OrderService - order 42 failed
java.lang.IllegalStateException: inventory reservation failed
\tat com.acme.inventory.Reserver.reserve(Reserver.java:88)
\tat com.acme.orders.OrderService.place(OrderService.java:120)
Caused by: java.net.SocketTimeoutException: Read timed out
\tat java.base/java.net.SocketInputStream.read(SocketInputStream.java:168)
\t... 12 more
2024-05-01T10:00:02Z INFO  OrderService - processing order 43
2024-05-01T10:00:03Z WARN  Pool - 9 of 10 connections in use
2024-05-01T10:00:04Z INFO  OrderService - done"""


def test_java_stack_trace_with_cause_is_found() -> None:
    result = chunk_log(Document("d", "orders.log", JAVA_LOG, kind="log"), 256, words)
    (severity, trace), (warn_severity, warning) = result.incidents
    assert severity == Severity.STACK_TRACE and (trace.line_start, trace.line_end) == (2, 8)
    assert warn_severity == Severity.WARNING and (warning.line_start, warning.line_end) == (10, 10)


def test_a_node_crash_with_its_javascript_frames_is_one_stack_trace() -> None:
    text = "\n".join([
        '{"level":"info","time":"2026-04-09T11:17:29.052Z","msg":"email sent"}',
        "TypeError: Cannot read properties of undefined (reading 'firstName')",
        "    at buildReceiptLine (/app/dist/hooks/receipt.js:42:41)",
        "    at Worker.emit (node:events:518:28)",
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
        '{"level":"info","time":"2026-04-09T11:17:38.052Z","msg":"mailer-worker starting"}',
    ])
    assert line_severities(fold_repeats(text.split("\n"))) == [
        Severity.NONE, *[Severity.STACK_TRACE] * 4, Severity.NONE]
    assert text_severity("    at Worker.emit (node:events:518:28)") == Severity.STACK_TRACE  # a middle piece too
    assert text_severity("    at 12:30:45 the job ran") == Severity.NONE


def test_a_go_runtime_fatal_error_with_its_goroutines_is_one_stack_trace() -> None:
    """Go's runtime prints "fatal error: ...", a blank line, "runtime stack:", frames, and each goroutine
    as "goroutine N gp=... m=... [running]:" (Go 1.22): all of it is the incident, up to the restart."""
    text = "\n".join([
        'ts=2025-06-19T04:30:53.069Z caller=scrape.go:1738 level=info msg="scrape ok"',
        "fatal error: runtime: out of memory",
        "",
        "runtime stack:",
        "runtime.throw({0x2f1a6c5?, 0x400000?})",
        "\t/usr/local/go/src/runtime/panic.go:1023 +0x5c fp=0x7ffd5a7f3e28 sp=0x7ffd5a7f3df8 pc=0x43f2dc",
        "",
        "goroutine 2871443 gp=0xc3a91e2a80 m=27 mp=0xc001180808 [running]:",
        "runtime.mallocgc(0x4000000, 0x2a8e6e0, 0x1)",
        "\t/usr/local/go/src/runtime/malloc.go:1165 +0x597 fp=0xc4b8a8f7f8 sp=0xc4b8a8f790 pc=0x412ad7",
        "created by net/http.(*Server).Serve in goroutine 311",
        "\t/usr/local/go/src/net/http/server.go:3285 +0x4b4",
        'ts=2025-06-19T04:33:21.118Z caller=main.go:617 level=info msg="Starting Prometheus Server"',
    ])
    folded = fold_repeats(text.split("\n"))
    regions = incident_regions(folded, line_severities(folded))
    assert [(folded[r.start].first, folded[r.end].last) for r in regions] == [(2, 12)]


def test_a_go_panic_through_the_journal_is_one_stack_trace_under_its_prefix() -> None:
    """journald (and syslog) write a process's panic line by line, each under its prefix; the frames are read
    after it, so the panic, its goroutine and the unit's exit are one incident. Another process's line
    between is not a frame."""
    prefix = "2026-04-07T08:30:16+00:00 ci-runner-04 containerd[884]: "
    text = "\n".join([
        "2026-04-07T08:17:39+00:00 ci-runner-04 systemd[1]: Finished docker-prune.service.",
        prefix + "panic: runtime error: invalid memory address or nil pointer dereference",
        prefix + "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x55d1c3a1b2f4]",
        prefix,
        prefix + "goroutine 48211 [running]:",
        prefix + "github.com/containerd/containerd/runtime/v2.(*shimTask).delete(0x0, {0x55d1c4f0e8a0, 0xc0013a2f00})",
        prefix + "\t/go/src/github.com/containerd/containerd/runtime/v2/shim.go:421 +0x54",
        "2026-04-07T08:30:16+00:00 ci-runner-04 systemd[1]: containerd.service: Main process exited, code=exited, "
        "status=2/INVALIDARGUMENT",
        "2026-04-07T08:30:21+00:00 ci-runner-04 systemd[1]: Starting containerd.service - containerd runtime...",
    ])
    folded = fold_repeats(text.split("\n"))
    marks = line_severities(folded)
    assert marks[1:7] == [Severity.STACK_TRACE] * 6
    regions = incident_regions(folded, marks)
    assert [(folded[r.start].first, folded[r.end].last) for r in regions] == [(2, 7), (8, 8)]  # then the exit
    other = "2026-04-07T08:30:16+00:00 ci-runner-04 dockerd[1022]:     indented, but another process's"
    assert line_severities(fold_repeats([text.split("\n")[1], other]))[1] == Severity.NONE


def test_the_levels_of_redis_and_of_pino_json_lines_are_read() -> None:
    assert line_severity("1:S 02 Apr 2026 01:47:12.330 # Error condition on socket for SYNC: Connection refused") == (
        Severity.WARNING)  # "#" is Redis's most severe level
    assert line_severity("1:M 02 Apr 2026 03:09:24.269 * 10000 changes in 60 seconds. Saving...") == Severity.NONE
    assert has_leading_timestamp("1:M 02 Apr 2026 03:09:24.269 * Background saving started by pid 1255")
    assert line_severity('{"level":50,"time":1712656621640,"msg":"redis connection error"}') == Severity.ERROR
    assert line_severity('{"level":40,"msg":"redis reconnecting"}') == Severity.WARNING
    assert line_severity('{"level":30,"msg":"job failed: retrying is fine"}') == Severity.NONE


def test_an_error_field_that_holds_no_error_is_no_error() -> None:
    """Go logs a nil error as 'error:<nil>' (client-go's "Objects listed" trace after a successful list);
    logfmt writes err=nil. An error field with a message is still an error."""
    assert line_severity('Trace[1454387286]: ---"Objects listed" error:<nil> 10014ms (02:47:31.201)') == Severity.NONE
    assert line_severity("ts=2025-11-03T02:47:31Z err=nil msg=listed") == Severity.NONE
    assert line_severity('{"msg":"sync done","error": null}') == Severity.NONE
    assert line_severity("ts=2025-11-03T02:47:31Z err=timeout msg=failed") == Severity.ERROR
    assert line_severity("error: null pointer dereference") == Severity.ERROR
    assert line_severity("error: none of the upstreams answered") == Severity.ERROR


def test_nginx_and_mariadb_timestamps_are_read() -> None:
    assert has_leading_timestamp("2026/04/21 03:31:05 [notice] 1#1: reconfiguring")
    assert has_leading_timestamp("2026-04-15  3:51:37 4187 [ERROR] InnoDB: Unable to read page")
    assert has_leading_timestamp("260415  3:51:37 [ERROR] mysqld got signal 6 ;")


def test_other_level_keys_and_an_access_log_s_server_errors_are_read() -> None:
    assert line_severity('{"severity":"error","message":"payment declined"}') == Severity.ERROR
    assert line_severity("ts=2024-05-01T10:00:01Z lvl=warn msg=\"slow query\"") == Severity.WARNING
    assert line_severity('10.0.0.1 - - [01/May/2024:10:00:01 +0000] "POST /pay HTTP/1.1" 502 157 "-" "curl/8"') == (
        Severity.ERROR)
    assert line_severity('10.0.0.1 - - [01/May/2024:10:00:01 +0000] "GET /a?b=5 HTTP/1.1" 200 502') == Severity.NONE
    assert line_severity('{"status": 503, "path": "/pay"}') == Severity.ERROR
    assert line_severity('lvl=info msg="upstream answered 502 once"') == Severity.NONE


def test_incidents_of_all_logs_come_before_other_chunks() -> None:
    quiet = Document("a", "a.log", "2024-05-01T10:00:00Z WARN disk 81% full\n2024-05-01T10:00:01Z INFO ok",
                     kind="log")
    text = Document("t", "notes.txt", "ERROR is a word here but this is not a log")
    chunks = chunk_documents([quiet, text, Document("b", "orders.log", JAVA_LOG, kind="log")], 256, words)
    # by severity first (the trace), then documents in the order given
    assert [(c.document.doc_id, c.line_start) for c in chunks[:3]] == [("b", 2), ("a", 1), ("b", 10)]
    assert chunks[3].document.doc_id == "a" and chunks[4].document.doc_id == "t"


_LOG_LINES = st.sampled_from([
    "2024-05-01 10:00:0{n} INFO request ok",
    "2024-05-01 10:00:0{n} INFO request ok",
    "2024-05-01 10:00:0{n} WARNING slow",
    "2024-05-01 10:00:0{n} ERROR failed",
    "Traceback (most recent call last):",
    '  File "x.py", line {n}, in f',
    "ValueError: bad {n}",
    "\tat com.acme.X.y(X.java:{n})",
    "",
    "word " * 30,
])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_LOG_LINES, st.integers(0, 9)), max_size=80), st.integers(4, 60),
       st.integers(1, 500))
def test_chunks_partition_the_lines_within_budget(lines: list[tuple[str, int]], budget: int, first: int) -> None:
    text = "\n".join(template.format(n=n) for template, n in lines)
    document = Document("d", "x.log", text, kind="log", first_line=first)
    chunks = chunk_documents([document], budget, words)
    original = text.split("\n")
    covered: set[int] = set()
    previous = (0, 0)
    for chunk in sorted(chunks, key=lambda c: c.index):
        assert words(chunk.text) <= budget
        assert first <= chunk.line_start <= chunk.line_end < first + len(original)
        numbers = set(range(chunk.line_start, chunk.line_end + 1))
        # only the pieces of one (folded) line cut to fit the budget share their line range
        assert not (numbers & covered) or (chunk.line_start, chunk.line_end) == previous
        covered |= numbers
        previous = (chunk.line_start, chunk.line_end)
    blank = {first + i for i, line in enumerate(original) if not line.strip()}
    assert set(range(first, first + len(original))) - blank <= covered
    assert [c.index for c in chunks] == sorted({c.index for c in chunks}, key=[c.index for c in chunks].index)


def _one_line_file(size: int) -> str:
    rng = random.Random(5)
    words = ["error", "timeout", "payments-api", "0x7f3a9c", "connection", "refused", "retrying", '{"k":1}', "a" * 30]
    return " ".join(rng.choice(words) for _ in range(size // 9))[:size]


def test_a_five_megabyte_one_line_file_chunks_in_seconds_counting_each_character_a_few_times(
        engine: ExtractiveEngine) -> None:
    """The old splitter re-counted a growing piece for every word: 486 s for 5 MB. The work is the text
    given to the tokenizer; now each character goes to it about once (a piece that overshoots is counted
    again), and none as part of the whole line."""
    text = _one_line_file(5_000_000)
    counted = 0

    def count_tokens(piece: str) -> int:
        nonlocal counted
        counted += len(piece)
        return engine.count_tokens(piece)

    started = time.monotonic()
    chunks = chunk_documents([Document("file:F1", "one-line.log", text, kind="log")], engine.max_chunk_tokens,
                             count_tokens)
    took = time.monotonic() - started
    assert counted < 2 * len(text), counted
    assert took < 60, f"{took:.1f} s"
    assert all(chunk.line_start == chunk.line_end == 1 for chunk in chunks)
    assert "".join(chunk.text for chunk in chunks).replace(" ", "") == text.replace(" ", "")
    assert max(engine.count_tokens(chunk.text) for chunk in chunks[::50]) <= engine.max_chunk_tokens


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab \u00e9x", min_size=1, max_size=3000), st.integers(min_value=2, max_value=40))
def test_long_lines_split_into_pieces_that_fit_and_lose_nothing(line: str, budget: int) -> None:
    pieces = list(split_long_line(line, budget, lambda text: len(text.split()) + len(text) // 7))
    assert all(len(piece.split()) + len(piece) // 7 <= budget or len(piece) == 1 for piece in pieces)
    assert "".join(pieces).replace(" ", "") == line.replace(" ", "")


@pytest.mark.parametrize(("line", "severity"), [
    # HAProxy's HTTP log writes the status after its five timers, before the request
    ('Jun 11 14:21:08 lb-1 haproxy[2211]: 10.8.12.41:40834 [11/Jun/2024:14:20:38.256] fe_https~ be_api/api-3 '
     '0/0/1/-1/30003 504 198 - - sH-- 73/71/3/1/0 0/0 "GET /v2/customers/me HTTP/1.1"', Severity.ERROR),
    ('Jun 11 13:08:46 lb-1 haproxy[2211]: 77.180.33.9:34135 [11/Jun/2024:13:08:46.966] fe_https~ be_api/api-2 '
     '0/0/0/30/31 200 3832 - - ---- 48/48/8/0/0 0/0 "GET /v2/products/SKU-90242 HTTP/1.1"', Severity.NONE),
    ("Jun 11 14:21:30 lb-1 haproxy[2211]: Server be_api/api-3 is DOWN, reason: Layer7 timeout", Severity.ERROR),
    ("Jun 11 13:12:20 lb-1 haproxy[2211]: backend be_checkout has no server available!", Severity.ERROR),
    # MongoDB's structured log: its "s" field, and failures it logs at "I" read by their text
    ('{"t":{"$date":"2024-06-04T02:41:17.416+00:00"},"s":"W",  "c":"REPL", "msg":"Fetcher stopped"}',
     Severity.WARNING),
    ('{"t":{"$date":"2024-06-04T02:41:17.416+00:00"},"s":"E",  "c":"REPL", "msg":"x"}', Severity.ERROR),
    ('{"t":{"$date":"2024-06-04T07:12:16.716+00:00"},"s":"I",  "c":"ACCESS", "msg":"Authentication failed"}',
     Severity.ERROR),
    ('{"t":{"$date":"2024-06-04T02:41:17.414+00:00"},"s":"I", "msg":"Error returned from oplog query",'
     '"attr":{"error":"HostUnreachable: Error connecting to mongo-1"}}', Severity.ERROR),
    ('{"t":{"$date":"2024-06-04T07:12:16.716+00:00"},"s":"I",  "c":"NETWORK", "msg":"Connection ended"}',
     Severity.NONE),
    ('{"level":"info","msg":"sent","error":null}', Severity.NONE),  # an empty error field
    ("2024-06-04 10:00:00 INFO 10 checks, 0 failed", Severity.NONE),  # a level says all is well
])
def test_haproxy_and_mongodb_lines_and_failures_without_a_level(line: str, severity: Severity) -> None:
    assert line_severity(line) == severity


@pytest.mark.parametrize(("line", "severity"), [
    # the kernel and systemd write no level: a disk, a crash, a hung task, a unit that gave up
    ("Jun 03 03:12:46 web-3 kernel: blk_update_request: I/O error, dev sdb, sector 123456 op 0x1:(WRITE)",
     Severity.ERROR),
    ("Jun 03 03:12:46 web-3 kernel: EXT4-fs error (device sdb1): ext4_find_entry:1455: inode #2", Severity.ERROR),
    ("Jun 03 03:12:46 web-3 kernel: INFO: task postgres:1234 blocked for more than 120 seconds.", Severity.ERROR),
    ("Jun 03 03:12:46 web-3 kernel: app[1234]: segfault at 0 ip 00007f sp 00007ff error 4 in libc.so",
     Severity.ERROR),
    ("Jun 03 03:12:46 web-3 systemd-coredump[999]: Process 1234 (app) of user 0 dumped core.", Severity.ERROR),
    ("2024-06-03T03:12:46+0000 web-3 systemd[1]: app.service: Main process exited, code=killed, status=9/KILL",
     Severity.ERROR),
    ("Jun 03 03:12:46 web-3 systemd[1]: Timed out waiting for device /dev/disk/by-label/data.", Severity.ERROR),
    ("2026-04-07T08:30:16+00:00 ci-4 systemd[1]: containerd.service: Main process exited, code=exited, "
     "status=2/INVALIDARGUMENT", Severity.ERROR),
    ("2026-04-07T08:30:16+00:00 ci-4 systemd[1]: sa1.service: Main process exited, code=exited, status=0/SUCCESS",
     Severity.NONE),
    ("Jun 03 03:12:46 web-3 systemd[1]: Started Daily apt download activities.", Severity.NONE),
    ("Jun 03 03:12:46 web-3 sshd[2345]: Accepted publickey for deploy from 10.0.0.5 port 5123", Severity.NONE),
    # Apache 2.4 writes the module with the level; .NET's console logger a four-letter level first
    ("[Mon Jun 03 03:12:45.123456 2024] [core:warn] [pid 1234] AH00045: child process 1 still did not exit",
     Severity.WARNING),
    ("[Mon Jun 03 03:12:45.123456 2024] [proxy:error] [pid 1234:tid 5] AH00957: connect to backend",
     Severity.ERROR),
    ("[Mon Jun 03 03:12:45.123456 2024] [mpm_event:notice] [pid 1234:tid 5] AH00489: Apache/2.4.58 configured",
     Severity.NONE),
    ("fail: Microsoft.AspNetCore.Server.Kestrel[13]", Severity.ERROR),
    ("crit: Microsoft.AspNetCore.Hosting.Diagnostics[6]", Severity.ERROR),
    ("warn: Microsoft.EntityFrameworkCore.Query[20504]", Severity.WARNING),
    ("info: Microsoft.Hosting.Lifetime[14]", Severity.NONE),
    # Serilog's three-letter levels
    ("2026-05-12 04:43:30.828 +02:00 [WRN] Polly: Resilience event occurred. EventName: 'OnCircuitOpened'",
     Severity.WARNING),
    ("2026-05-12 09:02:42.634 +02:00 [FTL] Dispatch.Api.Program: Host terminated unexpectedly", Severity.ERROR),
    ("2026-05-12 04:41:36.178 +02:00 [ERR] Dispatch.Api.Shipments: Creating shipment failed", Severity.ERROR),
    ("2026-05-12 04:58:12.476 +02:00 [INF] RequestLoggingMiddleware: HTTP POST /v2 responded 201 after a failed try",
     Severity.NONE),
    # ClickHouse (and other Poco loggers): the level in angle brackets
    ("2025.09.23 14:22:17.486120 [ 51233 ] {} <Fatal> BaseDaemon: Signal description: Segmentation fault",
     Severity.ERROR),
    ("2025.09.23 02:19:57.612040 [ 812 ] {} <Error> DB::ReplicatedMergeTreeRestartingThread::runImpl(): Code: 999.",
     Severity.ERROR),
    ("2025.09.23 09:44:02.100000 [ 47 ] {} <Warning> MemoryTracker: Current memory usage is high", Severity.WARNING),
    ("2025.09.23 14:22:24.507415 [ 43 ] {} <Information> Application: Listening for connections failed before",
     Severity.NONE),
    ("2025.09.23 06:42:22.047362 [ 1262 ] {fd18} <Debug> executeQuery: (from 10.1.4.20:50389) SELECT error FROM t",
     Severity.NONE),
    # the Erlang VM's last words before it dies, with no level and no timestamp
    ('eheap_alloc: Cannot allocate 3936161496 bytes of memory (of type "heap").', Severity.ERROR),
    ("Crash dump is being written to: erl_crash.dump...done", Severity.ERROR),
    ("fork: cannot allocate memory", Severity.ERROR),
    ("Oct 14 02:06:52 mx-relay-2 opendkim[21262]: /etc/opendkim/keys/s2025.private: open(): Permission denied",
     Severity.ERROR),
    ("fatal error: runtime: out of memory", Severity.ERROR),
    # what a server refused a client, in a log without levels (Mosquitto)
    ("2024-09-04T09:12:51: Client connection from 10.20.6.61:36068 denied: max_connections exceeded.", Severity.ERROR),
    ("2024-09-04T09:11:54: Client hmi-panel-12 disconnected, not authorised.", Severity.ERROR),
    ("2024-09-04T09:19:53: Client plc-l4-02 has exceeded timeout, disconnecting.", Severity.NONE),  # a keepalive
    ("2024-09-04T09:20:09: New connection from 10.20.6.11:56413 on port 1883.", Severity.NONE),
    ("2024-09-04T09:20:09 INFO request rejected by the rate limiter as configured", Severity.NONE),  # its level says
    # Ceph's level is a number after the thread id: -1 is an error (here a message that reads as none), 0 to 20 not
    ("2024-03-02T10:11:12.345+0000 7f2b1c4d5700 -1 osd.3 812 heartbeat_check: no reply from 10.0.0.5:6802 osd.9",
     Severity.ERROR),
    ("   -3> 2024-03-02T10:11:12.345+0000 7f2b1c4d5700 -1 bdev(0x5600aa) _aio_thread got r=-5", Severity.ERROR),
    ("2024-03-02T10:11:13.001+0000 7f2b1c4d5700  1 osd.3 812 start_boot", Severity.NONE),
    ("2024-03-02T10:11:13.001+0000 7f2b1c4d5700  0 log_channel(cluster) log [WRN] : 3 slow requests", Severity.WARNING),
    # Apache's configuration check, before its error log has a format
    ("AH00526: Syntax error on line 7 of /etc/httpd/conf.d/site.conf:", Severity.ERROR),
    # Fluent Bit pads its levels; OpenLDAP gives a result code; a fatal signal
    ("[2024/05/14 11:02:37] [ warn] [filter:lua:lua.1] function mask_pii returned invalid record", Severity.WARNING),
    ("[2024/05/14 10:21:21] [ info] [input:tail:tail.0] inotify_fs_remove(): failed to remove", Severity.NONE),
    ("May 14 08:32:17 ldap-02 slapd[1187]: conn=1053 op=0 RESULT tag=97 err=49 qtime=0.000013 text=", Severity.ERROR),
    ("May 14 10:04:23 ldap-02 slapd[24410]: conn=1084 op=2 SEARCH RESULT tag=101 err=0 nentries=1 text=",
     Severity.NONE),
    ("[2024/05/14 11:02:38] [engine] caught signal (SIGSEGV)", Severity.ERROR),
    # a process's crash report (SQL Server)
    ("2024-05-14 07:31:02.47 spid97      ***Stack Dump being sent to /var/opt/mssql/log/SQLDump0004.txt",
     Severity.ERROR),
    ("2024-05-14 07:31:02.47 spid97      SqlDumpExceptionHandler: Process 97 generated fatal exception c0000005",
     Severity.ERROR),
    # MIT Kerberos: the level in parentheses; the KDC logs every reply at info, and its code says when it refused
    ("Oct 14 01:40:51 kdc01 krb5kdc[1873](info): AS_REQ (6 etypes {18 17 16 23 25 26}) 10.40.22.57: LOCKED_OUT: "
     "svc-etl@CORP.EXAMPLE.COM for krbtgt/CORP.EXAMPLE.COM@CORP.EXAMPLE.COM, Clients credentials have been revoked",
     Severity.ERROR),
    ("Oct 14 00:56:25 kdc01 krb5kdc[1873](info): AS_REQ (8 etypes {18 17}) 10.40.1.5: ISSUE: authtime 1728867385, "
     "etypes {rep=18 tkt=18 ses=18}, rpatel/admin@CORP.EXAMPLE.COM for kadmin/admin@CORP.EXAMPLE.COM", Severity.NONE),
    ("Oct 14 00:55:47 kdc01 krb5kdc[1873](info): AS_REQ (6 etypes {18 17}) 10.40.22.57: NEEDED_PREAUTH: "
     "svc-etl@CORP.EXAMPLE.COM for krbtgt/CORP.EXAMPLE.COM@CORP.EXAMPLE.COM, Additional pre-authentication required",
     Severity.NONE),
    ("Oct 14 03:41:07 kdc01 krb5kdc[1873](info): shutting down", Severity.NONE),
    ("Oct 14 03:41:07 kdc01 kadmind[2211](Error): Cannot open DB2 database", Severity.ERROR),
    ("Oct 14 03:41:07 kdc01 kadmind[2211](warning): no dictionary file specified", Severity.WARNING),
    # a daemon without levels that gives up or cannot go on (strongSwan's charon and its starter)
    ("Mar 17 06:49:51 gw1 charon[1187]: 04[IKE] giving up after 5 retransmits", Severity.ERROR),
    ("Mar 17 07:52:03 gw1 charon[1187]: 14[CFG]   subject certificate invalid (valid from Mar 16 09:12:40 2025 to Mar"
     " 16 09:12:40 2026)", Severity.ERROR),
    ("Mar 17 07:52:03 gw1 charon[1187]: 14[CFG] no trusted RSA public key found for 'CN=ann@example.com'",
     Severity.ERROR),
    ("Mar 17 07:52:03 gw1 charon[1187]: 14[ENC] generating IKE_AUTH response 1 [ N(AUTH_FAILED) ]", Severity.ERROR),
    ("Mar 17 10:53:16 gw1 charon[2044]: 13[CFG] pool '10.10.8.0/26' is full, unable to assign address", Severity.ERROR),
    ("Mar 17 10:14:23 gw1 charon[1187]: 15[DMN] thread 15 received 11", Severity.ERROR),
    ("Mar 17 11:21:08 gw1 ipsec_starter[1102]: can't reload config file due to errors -- keeping old one",
     Severity.ERROR),
    ("Mar 17 08:58:03 gw1 charon[1187]: 06[NET] ignoring IKE_SA setup from 192.0.2.77, per-IP half-open IKE_SA limit of"
     " 5 reached", Severity.ERROR),
    ("Mar 17 07:13:39 gw1 charon[1187]: 14[IKE] IKE_SA site-a[5] established between 198.51.100.10...192.0.2.20",
     Severity.NONE),
    ("Mar 17 07:13:39 gw1 charon[1187]: 14[ENC] generating IKE_AUTH response 1 [ IDr AUTH SA TSi TSr N(AUTH_LFT) ]",
     Severity.NONE),
    # a peer gone, a fatal error, a crash in words (OpenVPN has no levels; PgBouncer writes these at LOG)
    ("2024-03-14 13:41:52 alice/203.0.113.5:42964 write UDPv4 []: Network is unreachable (code=101)", Severity.ERROR),
    ("2024-03-14 03:14:38 Exiting due to fatal error", Severity.ERROR),
    ("12-Sep-2024 06:41:10.771 network unreachable resolving 'org/DNSKEY/IN': 2001:500:e::1#53", Severity.NONE),
    (" 41826:20250311:093108.280 server #22 started [unreachable poller #1]", Severity.NONE),
    ("2024-03-14 04:31:07.211 UTC [1187] LOG S-0x55f2: appdb/app@10.20.1.5:5432 closing because: server conn crashed? "
     "(age=2231s)", Severity.ERROR),
    ("2024-03-14 04:38:57.116 UTC [1187] LOG S-0x55f2: appdb/app@10.20.1.5:5432 new connection to server",
     Severity.NONE),
    # a process killed for memory, whatever the level (containerd logs the kernel's OOM kill at info)
    ('Mar 14 11:41:07 node-07 containerd[40122]: time="2024-03-14T11:41:07.388Z" level=info msg="TaskOOM event '
     'container_id:\\"13dff8dac22c\\""', Severity.ERROR),
    ('Mar 14 11:41:07 node-07 containerd[40122]: time="2024-03-14T11:41:07.438Z" level=info msg="TaskExit event"',
     Severity.NONE),
    ("I0314 11:41:07.388 2211 kubelet.go:2452] container payments-api was OOMKilled", Severity.ERROR),
    ("Jun  3 03:23:52 lb-edge-01 kernel: [817878.055000] edge-proxy invoked oom-killer: gfp_mask=0x140cca, order=0",
     Severity.ERROR),
    # a NIC, a BGP session, the conntrack table and a VRRP instance lost, in the kernel's and daemons' words
    ("Jun  3 02:14:07 lb-edge-01 kernel: [814992.402000] ixgbe 0000:3b:00.0 ens1f0: Detected Tx Unit Hang",
     Severity.ERROR),
    ("Jun  3 02:14:08 lb-edge-01 kernel: [814993.203000] ixgbe 0000:3b:00.0 ens1f0: NIC Link is Down", Severity.ERROR),
    ("Jun  3 02:14:12 lb-edge-01 kernel: [814997.319000] ixgbe 0000:3b:00.0 ens1f0: NIC Link is Up 10 Gbps",
     Severity.NONE),
    ("Jun  3 04:25:02 lb-edge-01 kernel: [822860.004000] nf_conntrack: nf_conntrack: table full, dropping packet",
     Severity.ERROR),
    ("Jun  3 03:23:53 lb-edge-01 Keepalived_vrrp[2211]: (VI_PUBLIC) Entering FAULT STATE", Severity.ERROR),
    ("Jun  3 03:23:58 lb-edge-01 Keepalived_vrrp[2211]: (VI_PUBLIC) Entering MASTER STATE", Severity.NONE),
    ("Jun  3 03:48:17 lb-edge-01 edge-proxy[31877]: auth: rejecting session cookie: token is expired by 44m17s",
     Severity.ERROR),
    # a count of none is no failure; a level field that says all is well outweighs a level word in the message
    ("Jun  3 02:05:02 lb-edge-01 lb-stats[40291]: vs=203.0.113.11:80 realservers=6/6 active_conns=174 failed=0",
     Severity.NONE),
    ("Jun  3 04:30:02 lb-edge-01 lb-stats[41830]: vs=203.0.113.10:443 realservers=0/6 failed=6", Severity.ERROR),
    ("Jun  3 01:45:00 lb-edge-01 lb-logcheck[41165]: window=15m ERROR count: 0 WARN count: 6", Severity.WARNING),
    ('{"level":"info","ts":"2024-03-14T01:30:00.004Z","msg":"scheduled log health check","summary":"ERROR count: 16"}',
     Severity.NONE),
    ('{"level":"info","ts":"2024-03-14T01:30:00.004Z","msg":"GET /items","status":503}', Severity.ERROR),
])
def test_syslog_journal_apache_dotnet_and_poco_lines_and_errors_without_a_level(line: str, severity: Severity) -> None:
    assert line_severity(line) == severity


def test_an_elixir_exception_with_its_frames_is_one_stack_trace() -> None:
    """A release's migration raises: "** (Postgrex.Error) ..." and the frames "(app version) file.ex:line: M.f/1"
    below it, with no timestamp, up to the next start."""
    lines = [
        "2026-02-17 15:02:10.603 [info] create table waitlist_entries",
        '** (Postgrex.Error) ERROR 42P07 (duplicate_table) relation "waitlist_entries" already exists',
        "    (ecto_sql 3.11.1) lib/ecto/adapters/sql.ex:1054: Ecto.Adapters.SQL.raise_sql_call_error/1",
        '    (elixir 1.16.1) lib/enum.ex:1700: Enum."-map/2-lists^map/1-1-"/2',
        "    (pulsebook 2.5.0) lib/pulsebook/release.ex:14: Pulsebook.Release.migrate/0",
        "2026-02-17 15:02:31.905 [info] Pulsebook 2.5.0 (build a41d2e7) starting on node pulsebook@10.4.2.31",
    ]
    folded = fold_repeats(lines)
    traces = [r for r in incident_regions(folded, line_severities(folded)) if r.severity == Severity.STACK_TRACE]
    assert [(folded[r.start].first, folded[r.end].last) for r in traces] == [(2, 5)]
    assert text_severity(lines[3]) == Severity.STACK_TRACE  # a middle piece of it too
    assert text_severity("** (exit) an exception was raised:") == Severity.STACK_TRACE  # Cowboy's crash report
    assert text_severity("see lib/pulsebook/release.ex in the repo") == Severity.NONE


@pytest.mark.parametrize(("line", "stamp", "leading"), [
    ("[Mon Jun 03 03:12:45.123456 2024] [core:warn] [pid 1234] AH00045", "Jun 03 03:12:45.123456", True),
    ("03-Jun-2024 03:12:45.123 SEVERE [main] org.apache.catalina.core.StandardService", "03-Jun-2024 03:12:45.123",
     True),
    ("E0603 03:12:45.123456    1234 kubelet.go:2345] \"Error syncing pod\"", "03:12:45.123456", True),
    ('time=2024-06-03T03:12:45Z level=error msg="dial tcp: connection refused"', "2024-06-03T03:12:45Z", True),
    ('{"ts":"2024-06-03T03:12:45.123Z","level":"warn","msg":"apply request took too long"}', "2024-06-03T03:12:45.123Z",
     True),
    ("=ERROR REPORT==== 3-Jun-2024::03:12:45 ===", "3-Jun-2024::03:12:45", False),  # Erlang's report header
    # FortiGate's key=value lines, after a syslog priority
    ('<188>date=2024-09-17 time=01:47:14 devname="FGT-HQ-01" level="warning" msg="Link Monitor changed state"',
     "2024-09-17 time=01:47:14", True),
])
def test_more_timestamps_are_read(line: str, stamp: str, leading: bool) -> None:
    assert first_timestamp(line) == stamp
    assert has_leading_timestamp(line) == leading


def test_errors_apart_stay_apart_however_quiet_the_lines_between() -> None:
    """Ten lines that differ only in their (microsecond) times fold into one; the errors around them are
    still ten lines apart in the file, so two incidents, not one."""
    error = 'E0514 03:{m}:26.817985 1893 pod_workers.go:1298] "Error syncing pod" err="CrashLoopBackOff"'
    quiet = "I0514 03:{m}:{s}.000000 1893 prober.go:107] Probe succeeded"
    lines = [error.format(m=17)] + [quiet.format(m=18, s=n) for n in range(10, 20)] + [error.format(m=22)]
    folded = fold_repeats(lines)
    assert len(folded) == 3
    assert [(folded[r.start].first, folded[r.end].last) for r in incident_regions(folded, line_severities(folded))] == [
        (1, 1), (12, 12)]


def test_a_ruby_backtrace_is_a_stack_trace_with_the_line_that_raised_it() -> None:
    """Sidekiq logs the exception at WARN, then its frames, the first after the logger's prefix."""
    lines = [
        "2025-10-07T10:19:17.906Z pid=1 tid=sfmo class=QuoteJob jid=0a2b INFO: start",
        "2025-10-07T10:19:32.908Z pid=1 tid=sfmo WARN: Faraday::TimeoutError: Net::ReadTimeout with #<TCPSocket>",
        "2025-10-07T10:19:32.909Z pid=1 tid=sfmo WARN: /usr/local/lib/ruby/3.2.0/net/protocol.rb:229:in `rbuf_fill'",
        "/usr/local/lib/ruby/3.2.0/net/protocol.rb:199:in `readuntil'",
        "app/clients/parcelnet_client.rb:58:in `rates'",
        "app/jobs/quote_job.rb:22:in 'QuoteJob#perform'",  # Ruby 3.4 quotes
        "2025-10-07T10:25:00.307Z pid=1 tid=nsi8 class=QuoteJob jid=d74e INFO: start",
    ]
    folded = fold_repeats(lines)
    regions = incident_regions(folded, line_severities(folded))
    traces = [r for r in regions if r.severity == Severity.STACK_TRACE]
    assert [(folded[r.start].first, folded[r.end].last) for r in traces] == [(3, 6)]
    assert text_severity("\n".join(lines[3:5])) == Severity.STACK_TRACE  # a middle piece of it too
    assert text_severity("see config.rb:12 in the repo") == Severity.NONE


def test_a_java_exception_after_a_line_of_any_level_is_logged_with_that_line() -> None:
    """Jenkins logs "Ping failed. Terminating the channel" at INFO with the exception after it: the line says
    what failed, so it heads the trace; a raw Go panic after an unrelated INFO line does not take it."""
    lines = [
        "2025-11-04 19:41:07.220+0000 [id=10873]\tINFO\to.j.p.g.w.s.PushGHEventSubscriber#onEvent: Received PushEvent",
        "2025-11-04 19:58:14.402+0000 [id=11368]\tINFO\thudson.slaves.ChannelPinger$1#onDead: Ping failed. "
        "Terminating the channel mac-builder-02.",
        "java.util.concurrent.TimeoutException: Ping started at 1762286054401 hangs at 1762286294402",
        "\tat hudson.remoting.PingThread.ping(PingThread.java:135)",
        "\tat hudson.remoting.PingThread.run(PingThread.java:87)",
        "2025-11-04 19:58:17.522+0000 [id=11394]\tINFO\tDurableTaskStep: waiting for mac-builder-02",
    ]
    folded = fold_repeats(lines)
    assert line_severities(folded) == [Severity.NONE, *[Severity.STACK_TRACE] * 4, Severity.NONE]
    go = ["2026-04-09T11:17:29Z INFO request handled", "panic: runtime error: index out of range",
          "goroutine 7 [running]:", "main.main()", "\t/app/main.go:12 +0x1d"]
    assert line_severities(fold_repeats(go))[0] == Severity.NONE


def test_a_rust_panic_with_its_backtrace_is_one_stack_trace() -> None:
    """Rust prints "thread '...' panicked at file:line:col:", the message on the next line, "stack backtrace:" and
    numbered frames with their "at" lines, then a note; none of it has a timestamp."""
    lines = [
        "2025-02-11T10:18:07.054450Z  INFO tilesrv::handlers::tiles: tile rendered",
        "thread 'tokio-runtime-worker' panicked at src/render/style.rs:214:41:",
        "called `Option::unwrap()` on a `None` value",
        "stack backtrace:",
        "   0: rust_begin_unwind",
        "             at /rustc/3f5fd8dd41153bc5/library/std/src/panicking.rs:652:5",
        "   4: tilesrv::render::style::Layer::fill_color",
        "             at ./src/render/style.rs:214:41",
        "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.",
        '2025-02-11T10:18:41.030211Z  INFO tilesrv: starting tilesrv version="0.31.2"',
    ]
    assert line_severities(fold_repeats(lines)) == [Severity.NONE, *[Severity.STACK_TRACE] * 8, Severity.NONE]
    assert text_severity(lines[1]) == Severity.STACK_TRACE  # the header alone, in a chunk of its own
    without = ["thread 'main' panicked at src/main.rs:9:5:", "boom",  # no backtrace, only the note
               "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"]
    assert line_severities(fold_repeats(without)) == [Severity.STACK_TRACE] * 3


def test_the_chain_of_causes_after_an_error_is_part_of_it() -> None:
    """Rust's anyhow prints an error, a blank line, "Caused by:" and the causes indented: the cause (the line that
    names the unknown field) is part of the error's incident."""
    lines = [
        '2025-02-11T17:05:12.118202Z  INFO tilesrv: starting tilesrv version="0.32.0"',
        'Error: failed to load configuration from "/etc/tilesrv/config.toml"',
        "",
        "Caused by:",
        "    TOML parse error at line 23, column 1",
        "    unknown field `redis_url`, expected one of `url`, `pool_size`, `ttl_secs`",
        '2025-02-11T17:05:24.560031Z  INFO tilesrv: starting tilesrv version="0.32.0"',
        "",
        "2025-02-11T17:05:25.000000Z  INFO listening",
    ]
    marks = line_severities(fold_repeats(lines))
    assert marks[1:6] == [Severity.ERROR] * 5 and marks[6:] == [Severity.NONE] * 3  # a blank line alone ends it


def test_the_jvm_s_crash_report_is_one_stack_trace() -> None:
    """catalina.out gets the JVM's own report when it dies in native code: "#" lines from "A fatal error has been
    detected" through the problematic frame to the last "#", with no timestamp; any piece of it counts."""
    lines = [
        "2025-03-11 04:02:57,495 INFO  [https-openssl-apr-8443-exec-6] c.a.claimsapi.web.AccessLog - GET /api 200",
        "#",
        "# A fatal error has been detected by the Java Runtime Environment:",
        "#",
        "#  SIGSEGV (0xb) at pc=0x00007f3c2a91f2a3, pid=2214, tid=2391",
        "# Problematic frame:",
        "# C  [libtcnative-1.so.0+0x1f2a3]  ssl_socket_recv+0x53",
        "#",
        "11-Mar-2025 04:03:15.356 INFO [main] VersionLoggerListener.log Server version name:   Apache Tomcat/9.0.86",
    ]
    marks = line_severities(fold_repeats(lines))
    assert marks[2:8] == [Severity.STACK_TRACE] * 6 and marks[0] == marks[8] == Severity.NONE
    assert text_severity("# C  [libtcnative-1.so.0+0x1f2a3]  ssl_socket_recv+0x53\n#") == Severity.STACK_TRACE
    assert text_severity("# a comment in a config dump") == Severity.NONE


def test_a_native_backtrace_after_a_caught_signal_is_one_stack_trace() -> None:
    """A C++ daemon (Ceph) that catches a signal prints "*** Caught signal (Aborted) **", the thread, its version and
    numbered frames ("(function+0x..) [0x..]", "library(+0x..) [0x..]", "clone()"), none with a timestamp."""
    lines = [
        "2024-03-02T10:20:00.100+0000 7f2b1c4d5700  1 osd.3 812 tick",
        "2024-03-02T10:20:01.842+0000 7f2b1c4d5700 -1 *** Caught signal (Aborted) **",
        " in thread 7f2b1c4d5700 thread_name:bstore_aio",
        "",
        " ceph version 17.2.6 (d7ff0d10654d2280e08f1ab989c7cdf3064446a5) quincy (stable)",
        " 1: /lib64/libpthread.so.0(+0x12cf0) [0x7f3a4a5c0cf0]",
        " 2: gsignal()",
        " 3: (KernelDevice::_aio_thread()+0x1254) [0x55d5c1a8e0a4]",
        " 4: clone()",
        "2024-03-02T10:20:30.000+0000 7f8c1e3c8200  0 set uid:gid to 167:167 (ceph:ceph)",
    ]
    marks = line_severities(fold_repeats(lines))
    assert marks[1] == Severity.STACK_TRACE and marks[5:9] == [Severity.STACK_TRACE] * 4
    assert marks[0] == marks[9] == Severity.NONE
    assert text_severity(" 3: (KernelDevice::_aio_thread()+0x1254) [0x55d5c1a8e0a4]") == Severity.STACK_TRACE
    assert text_severity(" 2: a numbered list item()") == Severity.NONE


def test_a_configuration_file_s_diagnostic_is_an_error() -> None:
    """BIND, like other parsers, names the file and line of what it cannot load, without a level; a stack frame
    names a file and line too, but not followed by ": " and a message."""
    assert text_severity("12-Sep-2024 17:46:14.103 /etc/bind/named.conf.options:18: option 'dnssec-enable' no "
                         "longer exists") == Severity.ERROR
    assert text_severity("12-Sep-2024 17:46:14.103 loading configuration from '/etc/bind/named.conf'") == Severity.NONE
    assert text_severity("/app/lib/x.rb:12:in `charge'") != Severity.ERROR


def test_an_error_number_on_a_line_of_its_own_is_followed_by_its_message() -> None:
    """SQL Server's error log: "Error: 17311, Severity: 16, State: 1." then the message on the next line, which
    says what happened (the fatal exception's code); the line after that is the log's own again."""
    lines = [
        "2024-05-14 07:31:06.30 Server      Error: 17311, Severity: 16, State: 1.",
        "2024-05-14 07:31:06.30 Server      SQL Server is terminating because of fatal exception c0000005.",
        "2024-05-14 07:31:19.94 Server      Microsoft SQL Server 2022 (RTM-CU12) (KB5033663) - 16.0.4115.5 (X64)",
    ]
    assert line_severities(fold_repeats(lines)) == [Severity.ERROR, Severity.ERROR, Severity.NONE]


def test_a_report_logged_at_one_time_by_one_source_is_one_error() -> None:
    """SQL Server writes a deadlock graph as lines of its error log with the same time and spid: all of them,
    the other process's procedure too, belong to the deadlock, up to the next line of another time."""
    head = "2024-05-14 05:41:17.63 spid21s     "
    lines = [
        "2024-05-14 05:40:02.10 Logon       Login succeeded for user 'svc_erp'.",
        f"{head} deadlock-list",
        f"{head}  deadlock victim=process27a3c5e8c18",
        f"{head}     process id=process27a3c5f0418 taskpriority=0 logused=960 waittime=2799",
        f"{head}       frame procname=ERP_Prod.dbo.usp_ReserveStock line=41 stmtstart=2874",
        f"{head} UPDATE dbo.InventoryBalance SET Reserved = Reserved + @Qty WHERE ItemId = @ItemId",
        "2024-05-14 05:41:19.02 spid52      Using 'dbghelp.dll' version '4.0.5'",
    ]
    assert line_severities(fold_repeats(lines)) == [Severity.NONE, *[Severity.ERROR] * 5, Severity.NONE]
    # not the next of a burst of lines that each have their level, nor lines that share only the second
    burst = ["2025-10-07T11:17:17.988Z pid=48213 tid=nsi8 WARN: Faraday::ClientError: the server responded with 410",
             "2025-10-07T11:17:17.988Z pid=48213 tid=nsi8 INFO: done: ShipmentWebhookJob"]
    assert line_severities(fold_repeats(burst)) == [Severity.WARNING, Severity.NONE]
    # Zabbix: the process before the time; its advice on the next line of the same millisecond
    zabbix = [" 24871:20250311:092232.219 __zbx_mem_malloc(): out of memory (requested 48 bytes)",
              " 24871:20250311:092232.219 __zbx_mem_malloc(): please increase CacheSize configuration parameter",
              " 24871:20250311:092232.219 === memory statistics for configuration cache ===",
              " 24872:20250311:092232.219 HA manager started in active mode",  # another process
              " 24871:20250311:092233.002 syncing history data..."]
    assert line_severities(fold_repeats(zabbix)) == [*[Severity.ERROR] * 3, Severity.NONE, Severity.NONE]
    seconds = ["2024/05/14 15:22:53 kid1| FATAL: Bungled /etc/squid/squid.conf line 51: http_access deny x",
               "2024/05/14 15:22:53 kid1| Adaptation support is off."]
    assert line_severities(fold_repeats(seconds)) == [Severity.ERROR, Severity.NONE]


def test_gdb_style_frames_after_a_caught_signal_are_one_stack_trace() -> None:
    """Fluent Bit prints the signal it caught, then frames as gdb and libbacktrace do ("#2  0x55d0a3b829d2 in
    cb_lua_filter() at plugins/filter_lua/lua.c:612"), then its start banner."""
    lines = [
        "[2024/05/14 11:02:38] [engine] caught signal (SIGSEGV)",
        "#0  0x55d0a3f1c2a4     in  lua_rawgeti() at lib/luajit/src/lj_api.c:793",
        "#1  0x55d0a3b829d2     in  cb_lua_filter() at plugins/filter_lua/lua.c:612",
        "#2  0xffffffffffffffff in  ???() at ???:0",
        "Fluent Bit v2.2.2",
    ]
    assert line_severities(fold_repeats(lines)) == [*[Severity.STACK_TRACE] * 4, Severity.NONE]
    assert text_severity("#1  0x55d0a3b829d2     in  cb_lua_filter() at plugins/filter_lua/lua.c:612") == (
        Severity.STACK_TRACE)


def test_glibc_style_frames_after_a_caught_signal_are_one_stack_trace() -> None:
    """FreeRADIUS prints the signal it caught without a timestamp, then a header and frames as glibc's
    backtrace_symbols does ("/usr/sbin/freeradius(modcall+0x2a9)[0x55b1a4f2e6c9]"), then its next start."""
    lines = [
        "Thu Mar 21 11:27:30 2024 : Info: rlm_sql (sql): Opening additional connection (5), 1 of 31 pending slots used",
        "CAUGHT SIGNAL: Segmentation fault",
        "Backtrace of last 14 frames:",
        "/usr/lib/freeradius/libfreeradius-server.so(fr_fault+0x1b4)[0x7f6c2e4a2e14]",
        "/usr/lib/freeradius/rlm_python3.so(+0x4d1a)[0x7f6c2bd14d1a]",
        "/usr/sbin/freeradius(modcall+0x2a9)[0x55b1a4f2e6c9]",
        "Thu Mar 21 11:28:51 2024 : Info: Debugger not attached",
    ]
    assert line_severities(fold_repeats(lines)) == [Severity.NONE, *[Severity.STACK_TRACE] * 5, Severity.NONE]
    assert text_severity("/usr/lib/freeradius/rlm_python3.so(+0x4d1a)[0x7f6c2bd14d1a]") == Severity.STACK_TRACE
    assert text_severity("/var/log/app(copy)[0x1] done") == Severity.NONE  # a path with parentheses is no frame


def test_samba_s_numbered_frames_under_its_backtrace_header_are_one_stack_trace() -> None:
    """Samba logs each message indented under its header line, its panic's frames too: "BACKTRACE: 27 stack
    frames:", then "#0 /lib/.../libsamba-util.so.0(log_stack_trace+0x2e) [0x7f3b1c6a4c8e]"."""
    lines = [
        "[2024/03/12 15:07:33.918374,  0] ../../lib/util/fault.c:184(smb_panic_log)",
        "  PANIC (pid 31676): Signal 11: Segmentation fault in 4.17.12-Debian",
        "[2024/03/12 15:07:33.918996,  0] ../../lib/util/fault.c:264(log_stack_trace)",
        "  BACKTRACE: 27 stack frames:",
        "   #0 /lib/x86_64-linux-gnu/libsamba-util.so.0(log_stack_trace+0x2e) [0x7f3b1c6a4c8e]",
        "   #4 /usr/lib/x86_64-linux-gnu/samba/vfs/fruit.so(+0x10a3c) [0x7f3b14e3ea3c]",
        "   #26 /usr/sbin/smbd(_start+0x21) [0x55d0a3f6a7d1]",
        "[2024/03/12 15:07:33.920386,  0] ../../source3/lib/dumpcore.c:315(dump_core)",
    ]
    assert line_severities(fold_repeats(lines))[3:7] == [Severity.STACK_TRACE] * 4
    assert text_severity("   #4 /usr/lib/x86_64-linux-gnu/samba/vfs/fruit.so(+0x10a3c) [0x7f3b14e3ea3c]") == (
        Severity.STACK_TRACE)


def test_icinga_s_levels_before_the_component_are_read() -> None:
    """Icinga 2 writes the level, a slash and the component: a warning whose text says "invalid" is a warning, an
    information line that says "failed" is none."""
    assert line_severity("[2024-05-21 14:04:02 +0200] critical/IdoMysqlConnection: Exception during database "
                         "operation: Verify that your database is operational!") == Severity.ERROR
    assert line_severity("[2024-05-21 00:21:36 +0200] warning/GraphiteWriter: Ignoring invalid perfdata for "
                         "checkable 'env-sensor-dc1-r12!humidity'") == Severity.WARNING
    assert line_severity("[2024-05-21 08:41:20 +0200] information/ApiListener: Reconnect attempt failed for "
                         "'sat-ams-01'") == Severity.NONE


def test_uwsgi_s_killed_workers_and_full_listen_queue_are_errors() -> None:
    assert line_severity("DAMN ! worker 3 (pid: 1205) died, killed by signal 9 :( trying respawn ...") == (
        Severity.ERROR)
    assert line_severity("Wed Oct  9 12:38:42 2024 - *** HARAKIRI ON WORKER 3 (pid: 1205, try: 1, graceful: yes) "
                         "***") == Severity.ERROR
    assert line_severity('Wed Oct  9 12:38:11 2024 - *** uWSGI listen queue of socket "127.0.0.1:8001" (fd: 3) full '
                         "!!! (101/100) ***") == Severity.ERROR
    assert line_severity("Respawned uWSGI worker 3 (new pid: 14872)") == Severity.NONE


def test_lines_with_a_time_of_their_own_are_no_part_of_the_message_above_a_trace() -> None:
    """uWSGI's request lines carry their time in the middle ("[pid: 1206|...] ... [Wed Oct  9 15:16:09 2024] GET
    ..."): records of their own, not the message of the segfault's backtrace below them."""
    lines = [
        "Wed Oct  9 15:01:45 2024 - uwsgi_response_writev_headers_and_body_do(): Broken pipe [core/writer.c line 429]",
        "[pid: 1206|app: 0|req: 22/111] 198.51.100.203 () {42 vars in 850 bytes} [Wed Oct  9 15:16:09 2024] GET "
        "/api/properties/130 => generated 17411 bytes in 39 msecs (HTTP/1.1 200)",
        "INFO 2024-10-09 15:47:12,004 invoices 1204 140093650064960 rendering invoice for BK-5T8RWQ",
        "!!! uWSGI process 1204 got Segmentation Fault !!!",
        "*** backtrace of 1204 ***",
        "/srv/booking/venv/bin/uwsgi(uwsgi_backtrace+0x2f) [0x55d3ef0e81ff]",
        "/lib/x86_64-linux-gnu/libc.so.6(+0x3c050) [0x7f6a2b45b050]",
        "*** end of backtrace ***",
    ]
    marks = line_severities(fold_repeats(lines))
    assert marks[1:3] == [Severity.NONE, Severity.NONE]
    assert marks[3:7] == [Severity.STACK_TRACE] * 4  # the error, then the backtrace


def test_node_s_report_when_the_heap_runs_out_is_a_stack_trace() -> None:
    lines = [
        "<--- JS stacktrace --->",
        "",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        "----- Native stack trace -----",
        "",
        " 1: 0xb8ced1 node::OOMErrorHandler(char const*, v8::OOMDetails const&) [node]",
        " 4: 0x11180d5  [node]",
        "10: 0x1979ef6  [node]",
        '{"level":30,"time":1732030862871,"pid":30118,"version":"3.8.2","msg":"checkout-api starting"}',
    ]
    marks = line_severities(fold_repeats(lines))
    assert marks[2] == Severity.STACK_TRACE and marks[5:8] == [Severity.STACK_TRACE] * 3
    assert marks[8] == Severity.NONE


def test_an_unindented_line_that_indented_ones_follow_goes_on_with_the_error_s_message() -> None:
    """Kea quotes libpq's message over several lines: the error, "server closed the connection unexpectedly"
    without a timestamp or an indent, then its indented lines; all of it is the error. An unindented line that a
    stack frame follows starts a trace instead, and one with no indented line after it is not the message's."""
    lines = [
        "2024-10-08 10:41:52.604 ERROR [kea-dhcp4.dhcpsrv/1.1402] DHCPSRV_PGSQL_FATAL_ERROR reason: FATAL: terminating",
        "server closed the connection unexpectedly",
        "\tThis probably means the server terminated abnormally",
        " (error code: 57P01).",
        "2024-10-08 10:41:52.605 INFO  [kea-dhcp4.dhcp4/1.1402] DHCP4_DB_RECONNECT_LOST_CONNECTION connection lost.",
    ]
    assert line_severities(fold_repeats(lines)) == [*[Severity.ERROR] * 4, Severity.NONE]
    assert not continues_message("[1] PumaWorkerKiller: Out of memory.", "[1] - Worker 3 (PID: 41) booted")
    assert not continues_message("Traceback (most recent call last):", '  File "app.py", line 3, in <module>')


def test_strongswan_s_backtrace_after_the_signal_it_received_is_one_stack_trace() -> None:
    """charon reports the signal its thread received, then its frame addresses under its own thread and subsystem
    ("15[LIB]   /usr/lib/ipsec/libcharon.so.0 @ 0x7f5c3e6c0000 [0x7f5c3e6f7b35]"), each line under syslog's prefix;
    the signal, the header, the frames and their source lines are one stack trace, and the line after it an error."""
    prefix = "Mar 17 10:14:23 vpn-gw1 charon[1187]: "
    lines = [
        prefix + "15[CFG]   fetching crl from 'http://pki.example.com/crl/vpn-ca.crl' ...",
        prefix + "15[DMN] thread 15 received 11",
        prefix + "15[LIB]  dumping 3 stack frame addresses:",
        prefix + "15[LIB]   /lib/x86_64-linux-gnu/libc.so.6 @ 0x7f5c3e000000 [0x7f5c3e045320]",
        prefix + "15[LIB]   /usr/lib/ipsec/plugins/libstrongswan-curl.so @ 0x7f5c3c9f1000 [0x7f5c3c9f2c4e]",
        prefix + "15[LIB]     -> curl_fetcher.c:220",
        prefix + "15[LIB]   /usr/lib/ipsec/libcharon.so.0 @ 0x7f5c3e6c0000 (job_execute+0x42) [0x7f5c3e6f7b35]",
        prefix + "15[DMN] killing ourself, received critical signal",
        "Mar 17 10:14:28 vpn-gw1 charon[2044]: 00[DMN] Starting IKE charon daemon (strongSwan 5.9.13, Linux 6.8.0)",
    ]
    assert line_severities(fold_repeats(lines)) == [
        Severity.NONE, *[Severity.STACK_TRACE] * 6, Severity.ERROR, Severity.NONE]
    assert text_severity(lines[4]) == Severity.STACK_TRACE  # a middle piece of it too
    assert text_severity("copied /srv/a.txt @ 0x10 to backup") == Severity.NONE


def test_cockroachdb_s_levels_with_the_year_and_its_failed_events_are_read() -> None:
    """CockroachDB writes klog's one-letter level with a six-digit date and names its file with a channel
    ("W231114 14:06:31.924523 388 3@storage/pebble.go:1110 ⋮ ..."); an event it logs at I whose type says it failed is
    an error."""
    head = "231114 14:06:31.924523 388 3@storage/pebble.go:1110 ⋮ [T1,n3,s3,pebble] 229  "
    assert line_severity(f"W{head}disk slowness detected") == Severity.WARNING
    assert line_severity(f"E{head}disk stall detected") == Severity.ERROR
    assert line_severity(f"I{head}disk slowness resolved") == Severity.NONE
    assert has_leading_timestamp(f"I{head}x")
    event = ('I231114 10:12:03.244347 121803 4@util/log/event_log.go:32 ⋮ [T1,n3,user=‹svc_billing›] 118 '
             '={"Timestamp":1699956723244347466,"EventType":"client_authentication_failed","Reason":"CREDENTIALS_INVALID"}')
    assert line_severity(event) == Severity.ERROR
    assert line_severity(event.replace("client_authentication_failed", "set_cluster_setting")) == Severity.NONE


def test_gitea_s_levels_after_the_function_and_its_go_stack_are_read() -> None:
    """Gitea names the function before a one-letter level ("UploadHandler() [E] ...") and logs a panic's stack as
    frames with their program counter ("/source/routers/web/repo/pull.go:447 (0x2c1e4b3)"), each followed by its
    function and source line indented by a tab: all of it one stack trace with the PANIC line."""
    lines = [
        "2024/04/09 13:28:40 ...eb/routing/logger.go:102:func1() [I] router: completed GET / for 10.40.3.77:0, 200 OK",
        "2024/04/09 13:28:51 ...rs/common/errpage.go:38:RenderPanicErrorPage() [E] PANIC: runtime error: invalid memory"
        " address or nil pointer dereference",
        "/usr/local/go/src/runtime/panic.go:261 (0x4509f5)",
        "\tpanicmem: panic(memoryError)",
        "/source/routers/web/repo/pull.go:447 (0x2c1e4b3)",
        "\tPrepareViewPullInfo: headRepoLink := pull.HeadRepo.Link()",
        "2024/04/09 13:28:51 ...eb/routing/logger.go:102:func1() [I] router: completed GET /pulls/412, 500 Internal",
    ]
    assert line_severities(fold_repeats(lines)) == [Severity.NONE, *[Severity.STACK_TRACE] * 5, Severity.NONE]
    assert line_severity("2024/04/09 15:02:05 ...eful/manager_unix.go:149:handleSignals() [W] Received SIGTERM") == (
        Severity.WARNING)
    assert line_severity('2024/04/09 15:03:02 ...es/setting/mailer.go:177:loadMailerFrom() [F] Invalid mailer') == (
        Severity.ERROR)


def test_the_report_after_a_line_logged_with_an_empty_message_is_part_of_it() -> None:
    """Spring Boot logs its failure analysis as an ERROR line whose message is empty, then the report on lines of its
    own with blank lines among them; two blank lines end it (the start banner after it is not the error's)."""
    lines = [
        "2024-02-20T16:20:07.388+01:00  INFO 35102 --- [           main] .s.b.a.l.ConditionEvaluationReportLogger : ",
        "2024-02-20T16:20:07.429+01:00 ERROR 35102 --- [           main] o.s.b.d.LoggingFailureAnalysisReporter   : ",
        "",
        "***************************",
        "APPLICATION FAILED TO START",
        "***************************",
        "",
        "Description:",
        "",
        "    Reason: failed to convert java.lang.String to java.time.Duration",
        "",
        "",
        "  .   ____          _            __ _ _",
    ]
    marks = line_severities(fold_repeats(lines))
    assert marks[0] == Severity.NONE  # an INFO line with an empty message announces no error
    assert marks[1:10] == [Severity.ERROR] * 9
    assert marks[10:] == [Severity.NONE] * 3
    # a message that ends in a colon is no empty one: MySQL's details after it are lines of their own
    mysql = ["2025-09-16T08:10:02.734701Z 0 [Warning] [MY-012985] [InnoDB] A long semaphore wait:",
             "--Thread 139821904500480 has waited at buf0flu.cc line 1434 for 241 seconds the semaphore:",
             "2025-09-16T08:11:53.199487Z 65302 [Note] [MY-010914] [Server] Aborted connection 65302 to db"]
    assert line_severities(fold_repeats(mysql)) == [Severity.WARNING, Severity.NONE, Severity.NONE]


# Windows' Event Viewer, exported as CSV: the level first, a US date with a 12-hour clock, messages quoted over lines
EVENT_VIEWER_CSV = """Level,Date and Time,Source,Event ID,Task Category
Warning,3/12/2024 10:03:17 PM,DistributedCOM,10016,None,"The application-specific permission settings do not grant
{D63B10C5-BB46-4990-A94F-E40B9D520160}
 and APPID
{9CA88EE3-ACB7-47C8-AFC4-AB702511C276}
 to the user NT AUTHORITY\\NETWORK SERVICE SID (S-1-5-20) from address LocalHost (Using LRPC)."
Information,3/12/2024 10:05:04 PM,Acme Order Export,2001,None,Export batch 20240312-2205 completed: 37 orders sent.
Error,3/13/2024 3:41:17 AM,Acme.Orders.Api,5001,None,"Unhandled exception in POST /api/v2/orders
System.IO.IOException: There is not enough space on the disk.
   at System.IO.FileStream.WriteCore(Byte[] buffer, Int32 offset, Int32 count)"
Information,3/13/2024 4:17:41 AM,IIS-IISReset,3202,None,IIS start command received from user CORP\\adm-mnowak.
"""


def test_windows_event_viewer_csv_is_a_log_with_its_levels_and_times() -> None:
    """Its quoted messages run over several lines, so fewer than half of its lines start with a time: a third is
    enough (``LOG_LINE_SHARE``); the level written first is the line's severity; the 12-hour clock is read."""
    lines = EVENT_VIEWER_CSV.splitlines()
    assert looks_like_log_text(EVENT_VIEWER_CSV)
    assert sum(map(has_leading_timestamp, lines)) < len(lines) / 2
    assert first_timestamp(lines[1]) == "3/12/2024 10:03:17 PM"
    assert [line_severity(lines[n]) for n in (1, 6, 7, 10)] == [Severity.WARNING, Severity.NONE, Severity.ERROR,
                                                                 Severity.NONE]
    assert not looks_like_log_text("Level,Source\nWarning,DistributedCOM\nError,Acme\n")  # no times: a table


# IBM Db2's db2diag.log: records of fields under a line with the time and the record's level, to a blank line
DB2DIAG = """2024-03-14-04.11.02.118301+060 E23998E412          LEVEL: Info
PID     : 2841                 TID : 140225817541065 PROC : db2sysc 0
FUNCTION: DB2 UDB, data protection services, sqlpgArchiveLogFile, probe:3180
MESSAGE : ADM1846I  Completed archive for log file "S0004712.LOG", an earlier attempt failed.

2024-03-14-04.12.33.456167+060 I24120E1728         LEVEL: Severe
PID     : 2841                 TID : 140268798891118 PROC : db2sysc 0
EDUID   : 611                  EDUNAME: db2agent (SALESDB) 0
FUNCTION: DB2 UDB, oper system services, sqloEDUCodeTrapHandler, probe:10
MESSAGE : Received signal #11 (SIGSEGV) in EDU db2agent (SALESDB) 0
DATA #1 : Signal Number Recieved, 2 bytes
11
DATA #2 : Backtrace, PD_TYPE_BACKTRACE, 812 bytes
  0x00007F8A2C1E4B21 _Z25ossDumpStackTraceInternalmR11OSSTrapFileiP7siginfoPvmm + 0x0241

2024-03-14-04.12.34.001822+060 I25848E1025         LEVEL: Warning
PID     : 2841                 TID : 140268798891118 PROC : db2sysc 0
MESSAGE : ADM14001C  An unexpected and critical error has occurred: "Trap".
"""


def test_db2diag_records_take_their_level_and_times_are_read() -> None:
    """Every line of a record has its first line's level: the Info record's "an earlier attempt failed" is no error,
    the Severe record is one error from its first line to its last (the value "11" and the backtrace's frame too)."""
    lines = DB2DIAG.splitlines()
    assert first_timestamp(lines[0]) == "2024-03-14-04.11.02.118301+060" and has_leading_timestamp(lines[5])
    marks = line_severities(fold_repeats(lines))
    assert marks[:5] == [Severity.NONE] * 5
    assert marks[5:14] == [Severity.ERROR] * 9
    assert marks[15:18] == [Severity.WARNING] * 3
    assert chunk_minutes(DB2DIAG) == (4 * 60 + 11, 4 * 60 + 12)
