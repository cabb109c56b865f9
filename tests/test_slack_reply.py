"""Answers rendered within Block Kit limits, with citations, and escaped."""

from __future__ import annotations

import pytest

from jobs.payload import QuestionJob
from jobs.slack_client import slack_client
from tests.fake_slack import BOT_TOKEN, FakeSlack, Fault
from worker.documents.document import Chunk, Document
from worker.engine.base import Answer, Citation
from worker.slack_reply import (
    BLOCK_LIMIT,
    SECTION_LIMIT,
    ReplyNotDeliveredError,
    citation_label,
    deliver,
    render_answer,
    render_failure,
)


def _citation(kind: str = "runbook", link: str | None = "https://git.example.com/runbooks/blob/main/db/failover.md",
              score: float = 0.8123) -> Citation:
    document = Document(doc_id="d", title="DB failover", text="x", kind=kind, link=link)
    return Citation(Chunk(document, "x", 12, 30), score)


def test_long_answer_is_split_into_sections_within_limits() -> None:
    text = "\n".join(f"line {i} " + "word " * 40 for i in range(400))  # ~85k characters
    message = render_answer(Answer(text=text, citations=(_citation(),) * 20, engine="e"))
    assert len(message.blocks) <= BLOCK_LIMIT
    for block in message.blocks:
        body = block.get("text", {}).get("text") or block["elements"][0]["text"]
        assert len(body) <= SECTION_LIMIT
    assert len(message.text) <= 3000


def test_citations_show_title_link_lines_and_score() -> None:
    label = citation_label(_citation())
    assert label.startswith("<https://git.example.com/runbooks/blob/main/db/failover.md#L12-L30|DB failover>")
    assert "lines 12-30" in label and "score 0.81" in label
    log_label = citation_label(_citation(kind="log", link="https://files.example.com/app.log"))
    assert "`DB failover:12-30`" in log_label


def test_document_text_cannot_ping_channels_or_fake_links() -> None:
    answer = Answer(text="> <!channel> see <https://evil.example|docs>", citations=(), engine="e", extractive=True)
    body = render_answer(answer).blocks[0]["text"]["text"]
    assert "<!channel>" not in body and "&lt;!channel&gt;" in body
    assert "<https://evil" not in body


def test_a_failure_reason_cannot_ping_the_channel() -> None:
    message = render_failure("skipped <!channel>.log: binary file")
    assert "<!channel>" not in message.text and "&lt;!channel&gt;" in message.blocks[0]["text"]["text"]


def test_an_expired_response_url_is_an_error_not_a_silent_loss(slack: FakeSlack) -> None:
    client = slack_client(BOT_TOKEN, slack.api_url)
    slack.fail_next("chat.postMessage", Fault(error="not_in_channel"))
    job = QuestionJob(question="q", channel="C9", user="U1", source="command",
                      response_url=slack.base_url + "/response_url/expired-1")
    with pytest.raises(ReplyNotDeliveredError, match="404"):
        deliver(client, job, render_failure("boom"))
    assert slack.calls_to("response_url"), "it was tried"


def test_a_reply_through_a_dropped_response_url_connection_is_not_sent_twice(slack: FakeSlack) -> None:
    client = slack_client(BOT_TOKEN, slack.api_url)
    slack.fail_next("chat.postMessage", Fault(error="not_in_channel"))
    job = QuestionJob(question="q", channel="C9", user="U1", source="command",
                      response_url=slack.base_url + "/response_url/reset-1")
    with pytest.raises(OSError):
        deliver(client, job, render_failure("boom"))
    assert len(slack.calls_to("response_url")) == 1


@pytest.mark.parametrize("link", [
    "https://wiki.example.com/a> <!here> <b",
    "https://wiki.example.com/x|<!channel>",
    "https://git.example.com/runbooks/blob/main/db>fail<!everyone>.md",
    "https://wiki.example.com/p\n<!here>",
])
def test_a_link_cannot_ping_the_channel_or_split_its_citation(link: str) -> None:
    for kind in ("runbook", "bookmark"):
        label = citation_label(_citation(kind=kind, link=link))
        assert "<!" not in label and label.count("<") == 1 and label.count(">") == 1, label
        assert label.count("|") == 1 and "\n" not in label
        assert label.startswith("<https://") and label.split("|")[1].startswith("DB failover>")


def test_a_runbook_section_link_keeps_its_one_fragment() -> None:
    label = citation_label(_citation(link="https://git.example.com/runbooks/blob/main/db.md#steps"))
    assert label.startswith("<https://git.example.com/runbooks/blob/main/db.md#steps|DB failover>"), label
    assert label.count("#") == 1


def test_ampersands_in_a_link_are_escaped_for_slack() -> None:
    label = citation_label(_citation(kind="link", link="https://wiki.example.com/page?a=1&b=2"))
    assert label.startswith("<https://wiki.example.com/page?a=1&amp;b=2|DB failover>")
