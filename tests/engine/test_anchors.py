"""The event a question places its answer against (worker/engine/anchors.py)."""

from __future__ import annotations

import pytest

from worker.documents.document import Chunk, Document
from worker.engine.anchors import (
    OUTSIDE_EVENT_WINDOW,
    Anchor,
    anchor_position,
    before_event_weights,
    is_timed,
    question_anchor,
    without_event,
)


@pytest.mark.parametrize(("question", "anchor"), [
    ("did anybody touch the cluster settings before the disk trouble started?",
     Anchor("before", "the disk trouble started")),
    ("was anything changed on vault before the 4am outage?", Anchor("before", "the 4am outage")),
    ("who became leader when vault-2 stepped down?", Anchor("after", "vault-2 stepped down")),
    ("what changed after the upgrade, and why?", Anchor("after", "the upgrade")),
    ("when did someone change the config?", None),  # the question's own "when"
    ("who is the leader now?", None),
])
def test_the_event_is_the_clause_after_before_or_after(question: str, anchor: Anchor | None) -> None:
    assert question_anchor(question) == anchor


def _log(*lines: str) -> tuple[list[Chunk], list[int]]:
    log = Document("file:app.log", "app.log", "", kind="log")
    return [Chunk(log, line, n, n) for n, line in enumerate(lines, start=1)], list(range(len(lines)))


def test_a_time_points_at_the_chunk_nearest_it() -> None:
    chunks, ordered = _log("2025-05-20T00:41:07.219Z [INFO]  core: disabled audit backend",
                           "2025-05-20T03:46:42.496Z [ERROR] expiration: failed to revoke lease",
                           "2025-05-20T04:12:08.340Z [ERROR] audit: backend failed to log response",
                           "2025-05-20T05:00:00.000Z [INFO]  core: ok")
    anchor = Anchor("before", "the 4am outage")
    assert is_timed(anchor) and anchor_position(anchor, chunks, ordered) == 2


def test_words_point_at_the_start_of_the_longest_stretch_of_that_trouble() -> None:
    """A lone timeout hours earlier is not when "the timeouts started"."""
    chunks, ordered = _log("01:00 WARN upstream timeout on /cart", "01:05 INFO ok", *(["02:00 INFO ok"] * 8),
                           "03:00 WARN upstream timeout on /cart", "03:01 WARN upstream timeout on /pay",
                           "03:02 ERROR upstream timeout on /cart", "03:10 INFO ok")
    assert anchor_position(Anchor("before", "the timeouts started"), chunks, ordered) == 10
    assert anchor_position(Anchor("after", "vault-2 stepped down"), chunks, ordered) is None  # no such trouble
    # a "before" trouble that no incident names: the first error
    assert anchor_position(Anchor("before", "the outage"), chunks, ordered) == 12
    # no trouble named ("before it got slow"): no event
    assert anchor_position(Anchor("before", "it got slow"), chunks, ordered) is None


def _prometheus() -> list[Chunk]:
    log = Document("file:prom.log", "prom.log", "", kind="log")
    return [Chunk(log, 'ts=2025-06-19T01:04:22Z level=warn msg="Evaluating rule failed" err="found duplicate series"',
                  54, 54),
            Chunk(log, "ts=2025-06-19T03:46:27Z level=warn msg=\"Scrape failed\" err=\"context deadline exceeded\"",
                  150, 150),
            Chunk(log, 'ts=2025-06-19T04:24:09Z level=error component=tsdb msg="compaction failed" err="cannot '
                       'allocate memory"', 160, 160),
            Chunk(log, "ts=2025-06-19T04:30:25Z level=info msg=\"Done replaying WAL\"", 161, 161),
            Chunk(log, "fatal error: runtime: out of memory\n\ngoroutine 1 [running]:\nruntime.throw()", 163, 166)]


def test_what_went_wrong_before_a_crash_is_what_came_before_it_within_the_span_asked() -> None:
    """"In the hour before it died": the crash (its worst incident, a Go runtime dump) and what came before
    the hour weigh nothing as incidents; the compaction failure and the scrape warning within the hour do."""
    chunks = _prometheus()
    question = "was anything off with prometheus in the hour before it died?"
    weights = before_event_weights(question, chunks)
    assert weights.tolist() == [OUTSIDE_EVENT_WINDOW, 1.0, 1.0, 1.0, OUTSIDE_EVENT_WINDOW]
    assert before_event_weights("was anything off before it died?", chunks).tolist() == [
        1.0, 1.0, 1.0, 1.0, OUTSIDE_EVENT_WINDOW]
    assert before_event_weights("why did it die?", chunks).tolist() == [1.0] * 5
    assert before_event_weights("what failed after it died?", chunks).tolist() == [1.0] * 5


def test_the_event_asked_about_what_came_before_is_not_what_the_question_asks_about() -> None:
    assert without_event("was anything off with prometheus in the hour before it died?") == (
        "was anything off with prometheus in the hour ?")
    assert without_event("which partition was it writing to when it fell over?") == (
        "which partition was it writing to when it fell over?")
    # a time is no event: the incidents around it are what the question asks about
    asked = "sbatch was failing a bit before 9, what's up"
    assert without_event(asked) == asked
