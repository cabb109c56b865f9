"""A time of day in the question (worker/engine/moments.py): the log lines around it."""

from __future__ import annotations

import pytest

from worker.documents.document import Chunk, Document
from worker.engine.moments import asked_minutes, chunk_minutes, moment_scores


@pytest.mark.parametrize(("question", "minutes"), [
    ("order emails went out late just before 10am", [600]),
    ("what happened at 3:30 pm?", [930]),
    ("it restarted a bit after 11:15", [675]),
    ("the line at 02:47:12.330 says what?", [167]),
    ("which version, 1.2.3 or v2.0, listens on host:8080?", []),
    ("why did it fail?", []),
])
def test_the_times_of_day_a_question_names(question: str, minutes: list[int]) -> None:
    assert asked_minutes(question) == minutes


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
