"""The event a question places its answer against (worker/engine/anchors.py)."""

from __future__ import annotations

import pytest

from worker.documents.document import Chunk, Document
from worker.engine.anchors import Anchor, anchor_position, is_timed, question_anchor


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
