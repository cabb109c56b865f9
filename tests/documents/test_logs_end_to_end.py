"""``/logs <question>`` over the channel's recent log uploads: the incident's stack trace is cited by its
exact lines, whether the log was uploaded plain, gzipped, or too big to read whole."""

from __future__ import annotations

import gzip
import time
from dataclasses import replace

import pytest
from rank_bm25 import BM25Okapi
from slack_sdk import WebClient

from tests.documents.conftest import EXAMPLE_LOG, PUBLIC, words
from tests.fake_slack import FakeSlack
from worker.documents.base import GatherRequest
from worker.documents.chunking import chunk_documents
from worker.documents.document import Chunk
from worker.documents.gather import DocumentGatherer
from worker.documents.settings import GatheringSettings
from worker.engine.base import Citation
from worker.slack_reply import citation_label

TRACE_LINES = "204-225"  # the ERROR line and the chained traceback under it
QUESTION = "why did POST /api/v1/checkout fail with a TimeoutError"


def _best(question: str, chunks: list[Chunk]) -> Chunk:
    """A stand-in retriever (BM25 from rank-bm25) for what the engine would rank first."""
    scores = BM25Okapi([c.text.lower().split() for c in chunks]).get_scores(question.lower().split())
    return max(zip(scores, chunks, strict=True), key=lambda pair: pair[0])[1]


@pytest.mark.parametrize("upload", ["plain", "gzip", "reduced"])
def test_logs_answer_cites_the_stack_trace_lines(slack: FakeSlack, client: WebClient,
                                                 settings: GatheringSettings, upload: str) -> None:
    raw = EXAMPLE_LOG.read_bytes()
    now = int(time.time())
    slack.add_file("FOLD", "checkout-api.log", b"2024-01-01 00:00:00 ERROR ancient\n", channel=PUBLIC,
                   created=now - 60 * 86400)
    if upload == "gzip":
        slack.add_file("FLOG", "checkout-api.log.gz", gzip.compress(raw), channel=PUBLIC, created=now - 5,
                       mimetype="application/gzip")
    else:
        slack.add_file("FLOG", "checkout-api.log", raw, channel=PUBLIC, created=now - 5)
    if upload == "reduced":
        settings = replace(settings, reduce_logs_above=len(raw) // 2)
    gathered = DocumentGatherer.from_settings(settings, client).gather(GatherRequest(PUBLIC, "U1", mode="logs"))
    assert {d.doc_id.split("@")[0].split("#")[0] for d in gathered.documents} == {"slack-file:FLOG"}
    chunks = chunk_documents(gathered.documents, 256, words)
    name = "checkout-api.log.gz" if upload == "gzip" else "checkout-api.log"
    assert f"`{name}:{TRACE_LINES}`" in citation_label(Citation(chunks[0], 1.0))  # the incident comes first
    original = EXAMPLE_LOG.read_text().split("\n")
    assert chunks[0].text.split("\n")[1:] == original[204:225]  # the cited lines are the file's lines
    if upload != "reduced":  # (over a reduced log, the short context line after the trace wins this BM25)
        best = _best(QUESTION, chunks)
        assert f"`{name}:{TRACE_LINES}`" in citation_label(Citation(best, 1.0))
    if upload == "reduced":
        assert len(gathered.documents) > 2  # the summary and the kept ranges
        assert any("checkout-api.log has" in note and "kept" in note for note in gathered.notes)
    else:
        assert gathered.notes == []
