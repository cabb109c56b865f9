"""The worker pipeline chunks each document once (cached by content) and still puts the incidents of
every log first, across documents, as ``chunk_documents`` does."""

from __future__ import annotations

from collections.abc import Sequence

from tests.documents.conftest import EXAMPLE_LOG, words
from worker.documents.chunking import chunk_documents
from worker.documents.document import Chunk, Document
from worker.documents.gather import DocumentGatherer
from worker.engine.base import Answer, Question
from worker.pipeline import AnswerPipeline


class CountingEngine:
    """The ``worker.engine.base.Engine`` interface; counts the token counting that chunking does."""

    name = "counting test engine"
    max_chunk_tokens = 256

    def __init__(self) -> None:
        self.counted = 0

    def count_tokens(self, text: str) -> int:
        self.counted += 1
        return words(text)

    def answer(self, question: str, chunks: Sequence[Chunk]) -> Answer:
        raise AssertionError("not asked in these tests")

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        raise AssertionError("not asked in these tests")


def _documents() -> list[Document]:
    quiet = Document("a", "deploy.log", "2024-05-14T13:00:00Z WARN disk 81% full\n2024-05-14T13:00:01Z INFO ok",
                     kind="log")
    notes = Document("t", "notes.txt", "ERROR is a word here, but this is not a log")
    incident = Document("b", "checkout-api.log", EXAMPLE_LOG.read_text(), kind="log")
    return [quiet, notes, incident]


def test_pipeline_puts_every_logs_incidents_first_like_chunk_documents() -> None:
    engine = CountingEngine()
    pipeline = AnswerPipeline(DocumentGatherer([]), engine)
    documents = _documents()
    chunks = pipeline.chunk(documents)
    expected = chunk_documents(documents, engine.max_chunk_tokens, words)
    assert [(c.document.doc_id, c.line_start, c.line_end) for c in chunks] == \
        [(c.document.doc_id, c.line_start, c.line_end) for c in expected]
    assert chunks[0].document.doc_id == "b", "the stack trace of the second log comes before the first log"
    assert "Traceback" in chunks[0].text


def test_a_document_that_did_not_change_is_not_chunked_again() -> None:
    engine = CountingEngine()
    pipeline = AnswerPipeline(DocumentGatherer([]), engine)
    first = pipeline.chunk(_documents())
    counted = engine.counted
    assert counted > 0
    assert pipeline.chunk(list(reversed(_documents()))) != first  # other order of documents: other order
    assert engine.counted == counted, "nothing was chunked again"
    changed = [*_documents()[:2], Document("b", "checkout-api.log", "2024-05-14T13:00:00Z ERROR new", kind="log")]
    pipeline.chunk(changed)
    assert engine.counted > counted, "a changed document is chunked again"
