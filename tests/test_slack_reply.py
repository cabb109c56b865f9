"""Answers rendered within Block Kit limits, with citations, and escaped."""

from __future__ import annotations

from worker.engine.base import Answer, Chunk, Citation, Document
from worker.slack_reply import BLOCK_LIMIT, SECTION_LIMIT, citation_label, render_answer


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
