"""A time of day in the question (worker/engine/moments.py): the log lines around it."""

from __future__ import annotations

import pytest

from worker.documents.document import Chunk, Document
from worker.engine.moments import asked_spans, chunk_minutes, moment_scores


@pytest.mark.parametrize(("question", "minutes"), [
    ("order emails went out late just before 10am", [600]),
    ("what happened at 3:30 pm?", [930]),
    ("it restarted a bit after 11:15", [675, 1395]),  # either half of the day: the log decides
    ("the line at 02:47:12.330 says what?", [167]),  # a leading zero, or 13-23: one reading
    ("gateway timeouts around 14:20", [860]),
    ("the reporting jobs fail since about 7, why?", [420, 1140]),  # a bare hour after a word of time
    ("it gave up after 3 retries, around 5 minutes in", []),  # counts, not hours
    ("which version, 1.2.3 or v2.0, listens on host:8080?", []),
    ("why did it fail?", []),
])
def test_the_times_of_day_a_question_names(question: str, minutes: list[int]) -> None:
    assert asked_spans(question) == [(m, m) for m in minutes]


@pytest.mark.parametrize(("question", "span"), [
    ("checkout threw 503s just after lunch", (690, 840)),
    ("kafka died in the middle of the night", (1260, 360)),  # past midnight
    ("did someone change the retention this morning?", (240, 720)),
    ("order history got really slow late morning", (600, 720)),
    ("anything odd early in the afternoon?", (720, 870)),
])
def test_parts_of_the_day_are_their_usual_hours(question: str, span: tuple[int, int]) -> None:
    assert asked_spans(question) == [span]


def test_a_part_of_the_day_scores_the_chunks_inside_it_around_midnight_too() -> None:
    log = Document("file:kafka.log", "kafka.log", "", kind="log")
    chunks = [Chunk(log, "[2024-06-03 03:31:08,412] ERROR Shutdown broker", 1, 1),
              Chunk(log, "[2024-06-03 23:50:00,000] INFO rolled segment", 2, 2),
              Chunk(log, "[2024-06-03 13:05:00,000] INFO rolled segment", 3, 3)]
    assert moment_scores("it died in the middle of the night", chunks).tolist() == [1.0, 1.0, 0.0]
    assert moment_scores("503s just after lunch", chunks).tolist() == [0.0, 0.0, 1.0]


def test_a_chunk_spans_its_first_and_last_timestamps() -> None:
    text = '{"time":"2026-04-09T09:49:43.552Z"}\n{"time":"2026-04-09T09:51:50.039Z"}'
    assert chunk_minutes(text) == (589, 591)
    assert chunk_minutes("1:S 02 Apr 2026 01:47:12.330 # Connection with master lost.") == (107, 107)
    assert chunk_minutes("    at buildReceiptLine (/app/dist/hooks/receipt.js:42:41)") is None


def test_chunks_near_the_named_time_score_and_a_trace_takes_the_time_around_it() -> None:
    log = Document("file:mailer.log", "mailer.log", "", kind="log")
    runbook = Document("runbook:mailer.md", "Mailer", "", kind="runbook")
    chunks = [Chunk(log, '{"level":"warn","time":"2026-04-09T09:06:55.779Z","msg":"recipient rejected"}', 13, 13),
              Chunk(log, '{"level":"info","time":"2026-04-09T11:17:29.052Z","msg":"email sent"}', 211, 211),
              Chunk(log, "TypeError: Cannot read properties of undefined\n    at f (/app/receipt.js:42:41)", 216, 222),
              Chunk(log, '{"level":"info","time":"2026-04-09T11:17:38.052Z","msg":"mailer-worker starting"}', 225, 225),
              Chunk(runbook, "Restart the mailer at 11:15 if it hangs.", 1, 1)]
    scores = moment_scores("the mailer restarted a bit after 11:15, what killed it?", chunks)
    assert scores[0] == 0 and scores[4] == 0  # two hours away; not a log
    assert scores[1] == pytest.approx(1 - 2 / 30) and scores[2] == pytest.approx(1 - 2 / 30)  # the trace: 11:17
    assert moment_scores("what killed it?", chunks).tolist() == [0.0] * 5
