"""Big logs are read whole and reduced: every incident (stack traces whole) and rare line kept with the
file's own line numbers, repeats of an incident counted, a summary of the rest."""

from __future__ import annotations

import gzip
import random

from worker.documents.file_documents import FileCaps, read_file_stream
from worker.documents.log_reduce import LogReducer, ReducedLog, reduce_log

JAVA_TRACE = ["2024-05-01T10:30:00Z ERROR [http-nio-8080-exec-7] o.a.c.c.C.[.[localhost] Servlet.service() failed",
              "java.lang.IllegalStateException: pool exhausted",
              "\tat com.acme.db.Pool.borrow(Pool.java:88)",
              "\tat com.acme.checkout.Service.pay(Service.java:41)",
              "Caused by: java.net.SocketTimeoutException: connect timed out",
              "\tat java.base/java.net.Socket.connect(Socket.java:633)",
              "\t... 12 more"]


def quiet_lines(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f"2024-05-01T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z INFO request id={rng.randrange(10**9)} "
            f"path=/api/v1/items/{rng.randrange(1000)} status=200 took {rng.randrange(500)}ms" for i in range(n)]


def kept_lines(reduced: ReducedLog) -> dict[int, str]:
    return {region.first_line + i: line for region in reduced.regions for i, line in enumerate(region.text.split("\n"))}


def test_an_incident_in_the_middle_is_kept_whole_with_the_files_line_numbers() -> None:
    lines = quiet_lines(60_000)
    lines[30_000:30_000] = JAVA_TRACE
    text = "\n".join(lines) + "\n"
    reduced = reduce_log(text[i:i + 65_536] for i in range(0, len(text), 65_536))  # cut mid-line too
    kept = kept_lines(reduced)
    for offset, line in enumerate(JAVA_TRACE):
        assert kept[30_001 + offset] == line
    assert kept[30_000] == lines[29_999] and kept[30_008] == lines[30_007], "two lines of context"
    assert reduced.total_lines == len(lines) and len(kept) < 40
    assert "60,000x" in reduced.summary and "ERROR" in reduced.summary


def test_repeats_of_an_incident_are_counted_and_its_first_and_last_kept() -> None:
    lines = quiet_lines(20_000)
    where = list(range(1_000, 19_000, 1_000))
    for number in where:
        lines[number] = f"2024-05-01T10:00:00Z ERROR payment {number} failed: upstream returned 503"
    reducer = LogReducer(keep_per_template=3)
    reducer.feed("\n".join(lines))
    reduced = reducer.finish()
    kept = kept_lines(reduced)
    for number in (*where[:3], where[-1]):
        assert kept[number + 1] == lines[number]
    assert where[5] + 1 not in kept
    assert reduced.folded_incidents == len(where) - 4
    assert f"{len(where)}x lines {where[0] + 1}-{where[-1] + 1}" in reduced.summary
    assert "counted in the summary" in reduced.note("app.log", 10**9)


def test_a_rare_line_is_kept_and_a_common_one_is_not() -> None:
    lines = quiet_lines(10_000)
    lines[4_321] = "2024-05-01T10:00:00Z WARN certificate for payments.acme.io expires in 3 days"
    kept = kept_lines(reduce_log(["\n".join(lines)]))
    assert kept[4_322] == lines[4_321]
    assert len(kept) < 20


def test_a_big_gzipped_log_is_reduced_and_a_small_one_comes_back_whole() -> None:
    lines = quiet_lines(30_000)
    lines[15_000:15_000] = JAVA_TRACE
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    caps = FileCaps(max_file_bytes=100_000, max_scan_bytes=10**9, reduce_logs_above=500_000)
    reduced = read_file_stream(iter([data[:4096], data[4096:]]), gzipped=True, named_as_log=True, caps=caps)
    assert isinstance(reduced, ReducedLog) and reduced.total_bytes > 500_000
    assert kept_lines(reduced)[15_002] == JAVA_TRACE[1]
    small = read_file_stream(iter([gzip.compress(b"2024-05-01 10:00:00 INFO hi\n")]), gzipped=True,
                             named_as_log=True, caps=caps)
    assert not isinstance(small, ReducedLog) and small.head.text == "2024-05-01 10:00:00 INFO hi\n"


def test_kept_lines_stay_within_their_cap_whatever_the_log() -> None:
    rng = random.Random(3)
    lines = [f"2024-05-01T10:00:00Z ERROR {''.join(rng.choices('abcdefghij', k=12))} broke" for _ in range(5_000)]
    reducer = LogReducer(max_kept_bytes=50_000)
    reducer.feed("\n".join(lines))
    reduced = reducer.finish()
    assert sum(len(r.text) + 1 for r in reduced.regions) <= 50_000 + 200
