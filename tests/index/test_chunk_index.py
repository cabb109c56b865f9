"""The index on real Redis: chunks once by content, survives a new process, orders incidents first like
``chunk_documents``, scores BM25 as rank-bm25 does, stays within its byte cap."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi
from redis import Redis

from tests.documents.conftest import EXAMPLE_LOG, words
from tests.runbooks import write_runbooks
from worker.documents.chunking import chunk_documents
from worker.documents.document import Chunk, Document
from worker.documents.runbooks import RunbookFolder
from worker.engine.base import Answer, Question
from worker.engine.default import ExtractiveEngine
from worker.index.entry import IndexEntry
from worker.index.lexical import Postings, TermCounts
from worker.index.runbook_sync import RunbookSync
from worker.index.store import RedisIndexStore
from worker.runtime import engine_index


class CountingEngine:
    """The ``worker.engine.base.Engine`` interface; counts the token counting that chunking does."""

    name = "counting test engine"
    max_chunk_tokens = 256

    def __init__(self) -> None:
        self.counted = 0

    def count_tokens(self, text: str) -> int:
        self.counted += 1
        return words(text)

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        raise AssertionError("not asked in these tests")


def _documents() -> list[Document]:
    quiet = Document("a", "deploy.log", "2024-05-14T13:00:00Z WARN disk 81% full\n2024-05-14T13:00:01Z INFO ok",
                     kind="log")
    notes = Document("t", "notes.txt", "ERROR is a word here, but this is not a log")
    incident = Document("b", "checkout-api.log", EXAMPLE_LOG.read_text(), kind="log")
    return [quiet, notes, incident]


def test_candidates_put_every_logs_incidents_first_like_chunk_documents(redis: Redis) -> None:
    engine = CountingEngine()
    documents = _documents()
    chunks = engine_index(engine, redis).candidates(documents).chunks
    expected = chunk_documents(documents, engine.max_chunk_tokens, words)
    assert [(c.document.doc_id, c.line_start, c.line_end, c.text) for c in chunks] == \
        [(c.document.doc_id, c.line_start, c.line_end, c.text) for c in expected]
    assert chunks[0].document.doc_id == "b", "the stack trace of the second log comes before the first log"


def test_a_document_is_chunked_once_and_a_changed_one_again_even_in_a_new_process(redis: Redis) -> None:
    engine = CountingEngine()
    engine_index(engine, redis).candidates(_documents())
    counted = engine.counted
    assert counted > 0
    restarted = engine_index(engine, redis)  # a new worker process: nothing in memory, the same Redis
    again = restarted.candidates(list(reversed(_documents())))
    assert engine.counted == counted, "nothing was chunked again: the entries came from Redis"
    assert again.chunks[0].document.doc_id == "b"
    changed = [*_documents()[:2], Document("b", "checkout-api.log", "2024-05-14T13:00:00Z ERROR new", kind="log")]
    assert "ERROR new" in restarted.candidates(changed).chunks[0].text
    assert engine.counted > counted, "a changed document is chunked again"


def test_a_restarted_worker_embeds_nothing_and_ranks_the_same(redis: Redis, engine: ExtractiveEngine) -> None:
    documents = [Document(f"runbook:{i}.md", f"Runbook {i}", f"# Runbook {i}\nRestart service-{i} with "
                          f"`systemctl restart svc{i}` when its queue backs up.\n", kind="runbook") for i in range(20)]
    first = engine_index(engine, redis)
    before = first.candidates(documents)
    assert first.embedded == len(before.chunks) > 0
    restarted = engine_index(engine, redis)
    after = restarted.candidates(documents)
    assert restarted.embedded == 0
    assert np.allclose(before.vectors, after.vectors)
    question = "how do I restart service-7?"
    ranked = engine.retriever.rank(question, after.chunks, 3, after)
    assert ranked[0].chunk.document.doc_id == "runbook:7.md"
    on_the_spot = engine.retriever.rank(question, after.chunks, 3)  # embedding every chunk again, no index
    assert [c.chunk.chunk_id for c in ranked] == [c.chunk.chunk_id for c in on_the_spot]


def test_postings_score_bm25_like_rank_bm25() -> None:
    texts = ["the pool of database connections is exhausted", "restart the payments api pods",
             "disk full on the database primary", "renew the tls certificate with cmctl", "kafka consumer lag",
             "payments latency alert fired"]
    postings = Postings([(TermCounts.of(texts), 0)])
    reference = BM25Okapi([t.split() for t in texts])
    for query in ("database pool exhausted", "payments", "tls cmctl renew", "nothing matches"):
        assert np.allclose(postings.scores(query), reference.get_scores(query.split()), atol=1e-5), query


def test_the_store_stays_within_its_byte_cap_dropping_the_least_recently_used(redis: Redis) -> None:
    store = RedisIndexStore(redis, "cap-test", max_bytes=40_000)
    entries = [_entry(f"k{i}", 20) for i in range(12)]
    for entry in entries[:6]:
        store.put_many([entry])
    store.get_many(["k0"])  # used again: k1 is now the least recently used
    for entry in entries[6:]:
        store.put_many([entry])
    assert store.stored_bytes() <= 40_000
    kept = set(store.get_many(e.key for e in entries))
    assert "k11" in kept and "k1" not in kept
    assert len(kept) < 12


def test_an_unreadable_stored_entry_is_indexed_again(redis: Redis) -> None:
    engine = CountingEngine()
    index = engine_index(engine, redis)
    index.candidates(_documents()[:1])
    store = index.store
    assert isinstance(store, RedisIndexStore)
    for key in redis.scan_iter(f"{store.prefix}:doc:*"):
        redis.set(key, b"garbage")
    fresh = engine_index(engine, redis)
    assert fresh.candidates(_documents()[:1]).chunks, "indexed again, not failed"


def _entry(key: str, chunks: int) -> IndexEntry:
    document = Document(key, key, "x")
    pairs = [(0, Chunk(document, f"text {key} {i} " * 20, i + 1, i + 1, i)) for i in range(chunks)]
    vectors = np.ones((chunks, 8), np.float32)
    return IndexEntry.build(key, pairs, vectors, TermCounts.of([c.text for _, c in pairs]))


@pytest.mark.parametrize("texts", [[], ["", "a"], ["üñíçødé text", "tab\there"]])
def test_an_entry_round_trips_through_its_bytes(texts: list[str]) -> None:
    document = Document("d", "d", "\n".join(texts))
    pairs = [(i % 3, Chunk(document, t, i + 1, i + 1, i)) for i, t in enumerate(texts)]
    entry = IndexEntry.build("key", pairs, np.zeros((len(texts), 4), np.float32), TermCounts.of(texts))
    back = IndexEntry.from_bytes(entry.to_bytes())
    assert back.texts == entry.texts and (back.lines == entry.lines).all()
    assert (back.severities == entry.severities).all() and back.vectors.shape == (len(texts), 4)
    assert (back.terms.ids == entry.terms.ids).all() and (back.terms.offsets == entry.terms.offsets).all()


def test_the_runbook_sync_indexes_the_folder_in_the_background_and_stops(redis: Redis, tmp_path: Path) -> None:
    folder = write_runbooks(tmp_path / "rb")
    index = engine_index(CountingEngine(), redis)
    sync = RunbookSync(RunbookFolder(folder), index, interval_s=3600)
    sync.start()
    try:
        assert sync.synced.wait(30), "the first sync ran"
    finally:
        sync.stop()
    assert index.loaded_documents == 3
    restarted = RunbookSync(RunbookFolder(folder), engine_index(CountingEngine(), redis))
    report = restarted.sync()
    assert (report.indexed, report.reused) == (0, 3), "a restarted worker finds them in Redis"
