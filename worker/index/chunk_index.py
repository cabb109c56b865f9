"""``ChunkIndex``: documents in, candidate chunks with their vectors out; indexes what it has not seen.

A document is known by its *content key*: a hash of what its chunks depend on (text, title, kind, first
line), computed on the redacted document (callers pass documents through ``worker.documents.gather.
redacted``). Indexing one = chunk it as the engine wants (``max_chunk_tokens`` by the engine's token
count), embed every chunk (its title, headings and text: ``embedding_text``; ``embed``: the default
engine's MiniLM; ``encode_more``: an engine's own per-chunk encoding kept in its own store, CLaRa's memory
embeddings), count the terms of the same text, and store the entry (store.py). The same document seen
by two job threads at once is indexed once.

This process keeps what it has loaded (entries, and the assembled candidates of recent document sets)
within ``cache_bytes``: a question over documents seen before costs no Redis round trip, and a restarted
worker reads each entry from Redis once.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace

import numpy as np

from worker.documents.chunking import CHUNKER_VERSION, chunk_one
from worker.documents.document import Chunk, Document, TokenCounter
from worker.documents.runbook_lookup import section_at
from worker.index.candidates import Candidates
from worker.index.entry import FORMAT, IndexEntry
from worker.index.lexical import TermCounts
from worker.index.store import IndexStore
from worker.lru import SizedLRU

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (documents indexed so far, documents to index), between model calls
Embed = Callable[[Sequence[str]], np.ndarray]  # texts -> [N, D] float32, unit norm
EMBED_BATCH = 128  # chunks embedded per model call: a question waiting for the model waits at most one
# What ``embedding_text`` gives the embedder and the term counts: part of the index's fingerprint, so
# vectors and terms of another text are not reused. 2: the headings above the chunk after the title, and
# the terms counted from the same text (they were the chunk's text alone).
EMBEDDING_TEXT_VERSION = 2


@functools.lru_cache(maxsize=65_536)
def content_key(document: Document) -> str:
    """The index key of a document's chunks (cached per document: unchanged runbooks are hashed once)."""
    if document.content_key:
        return document.content_key
    digest = hashlib.blake2b(digest_size=16)
    for part in (document.kind, document.title, str(document.first_line), document.text):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def embedding_text(chunk: Chunk) -> str:
    """What the dense vector and the BM25 terms of a chunk are computed from: its document's title and the
    headings above it ("Payments API › Mitigation › Bad deploy"; a log has none), then its text (as the
    retriever reads chunks that are not indexed: worker/engine/default.py)."""
    document = chunk.document
    section = None if document.kind == "log" else section_at(document, chunk.line_start)
    path = section.path if section is not None else ()
    return "\n".join((" › ".join(dict.fromkeys((document.title, *path))), chunk.text))


@dataclass
class IndexReport:
    """What one ``index`` call did."""

    documents: int = 0
    reused: int = 0  # already in the index (this process or Redis)
    indexed: int = 0  # chunked and embedded now
    chunks: int = 0  # chunks of the documents indexed now
    seconds: float = 0.0
    lost: list[str] = field(default_factory=list)  # titles of documents whose text was not at hand

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds else 0.0


class ChunkIndex:
    def __init__(self, store: IndexStore, embed: Embed, *, max_chunk_tokens: int, count_tokens: TokenCounter,
                 encode_more: Callable[[Sequence[str]], object] | None = None,
                 model_lock: AbstractContextManager[object] | None = None, cache_bytes: int = 512 << 20) -> None:
        self.store = store
        self.embed = embed
        self.max_chunk_tokens = max_chunk_tokens
        self.count_tokens = count_tokens
        self.encode_more = encode_more
        self.model_lock: AbstractContextManager[object] = model_lock or nullcontext()
        self.cache_bytes = cache_bytes
        self._entries: SizedLRU[str, IndexEntry] = SizedLRU(cache_bytes, lambda entry: entry.nbytes)
        self._sets: SizedLRU[tuple[Document, ...], Candidates] = SizedLRU(cache_bytes // 2, lambda c: c.nbytes)
        self._inflight: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.embedded = 0  # chunks embedded by this process (tests and benchmarks read it)

    @property
    def loaded_documents(self) -> int:
        """Documents whose entries this process holds (the worker's metrics read it)."""
        return len(self._entries)

    # ---- question time ---------------------------------------------------------------------------
    def candidates(self, documents: Sequence[Document], progress: Progress | None = None) -> Candidates:
        """The chunks of ``documents`` with their vectors and postings; indexes the documents not in the
        index first (``progress`` hears how far that is). A document whose text is not at hand
        and that is not in the index either (evicted since its file was read) is left out, with a note."""
        set_key = tuple(documents)
        cached = self._sets.get(set_key)
        if cached is not None:
            return cached
        entries, report = self._entries_for(documents, progress)
        kept = [(d, entries[content_key(d)]) for d in documents if content_key(d) in entries]
        candidates = Candidates.assemble([d for d, _ in kept], [e for _, e in kept])
        if report.lost:
            notes = tuple(f"{title} is no longer in the index: share it again to have it read"
                          for title in report.lost)
            return replace(candidates, notes=notes)
        self._remember_set(set_key, candidates)
        return candidates

    # ---- ingestion ---------------------------------------------------------------------------------
    def index(self, documents: Sequence[Document], progress: Progress | None = None, *, load: bool = False
              ) -> IndexReport:
        """Make sure the index holds ``documents`` (ingestion: the runbook folder, a shared file, the CLI).
        ``load``: also keep them in this process (a worker's start-up), and let ``encode_more`` load what it
        keeps (CLaRa's memories onto the GPU)."""
        if load:
            _, report = self._entries_for(documents, progress)
            if self.encode_more is not None:
                self._encode_more_all(documents, progress)
            return report
        started = time.perf_counter()
        report = IndexReport(documents=len(documents))
        keys = {content_key(d): d for d in documents}
        present = {k for k in keys if k in self._entries}
        present |= self.store.has(k for k in keys if k not in present)
        report.reused = len(present)
        todo = {k: d for k, d in keys.items() if k not in present}
        if progress:
            progress(0, len(todo))  # ingestion shows all of it (a bar): start and end too
        self._index_missing(todo, report, progress)
        if progress:
            progress(len(todo), len(todo))
        report.seconds = time.perf_counter() - started
        return report

    # ---- the steps ---------------------------------------------------------------------------------
    def _entries_for(self, documents: Sequence[Document], progress: Progress | None
                     ) -> tuple[dict[str, IndexEntry], IndexReport]:
        started = time.perf_counter()
        report = IndexReport(documents=len(documents))
        keys = {content_key(d): d for d in documents}
        found = self._entries.get_many(keys)
        missing = [k for k in keys if k not in found]
        if missing:
            loaded = self.store.get_many(missing)
            self._remember(loaded.values())
            found.update(loaded)
        report.reused = len(found)
        todo = {k: d for k, d in keys.items() if k not in found}
        found.update(self._index_missing(todo, report, progress))
        report.seconds = time.perf_counter() - started
        return found, report

    def _index_missing(self, todo: dict[str, Document], report: IndexReport, progress: Progress | None
                       ) -> dict[str, IndexEntry]:
        readable = {k: d for k, d in todo.items() if not d.content_key}
        report.lost = [d.title for d in todo.values() if d.content_key]
        mine: dict[str, Document] = {}
        theirs: dict[str, threading.Event] = {}
        with self._lock:
            for key, document in readable.items():
                if key in self._inflight:
                    theirs[key] = self._inflight[key]
                else:
                    self._inflight[key] = threading.Event()
                    mine[key] = document
        built: dict[str, IndexEntry] = {}
        try:
            if mine:
                built = self._build(mine, report, progress)
        finally:
            with self._lock:
                for key in mine:
                    self._inflight.pop(key).set()
        failed: dict[str, Document] = {}
        for key, event in theirs.items():  # another thread is indexing these: wait for its entries
            event.wait()
            entry = self._entries.get(key)
            if entry is None:
                entry = self.store.get_many([key]).get(key)
            if entry is not None:
                built[key] = entry
            else:  # that thread failed: index it here (raising as it did, if it must)
                failed[key] = readable[key]
        if failed:
            built.update(self._index_missing(failed, report, progress))
        return built

    def _build(self, documents: dict[str, Document], report: IndexReport, progress: Progress | None
               ) -> dict[str, IndexEntry]:
        total = len(documents)
        built: dict[str, IndexEntry] = {}
        done = 0
        for group in self._groups(documents):
            chunked = [(key, chunk_one(document, self.max_chunk_tokens, self.count_tokens))
                       for key, document in group]
            ordered = [(key, [*c.incidents, *((0, x) for x in c.others)]) for key, c in chunked]
            chunks = [chunk for _, pairs in ordered for _, chunk in pairs]
            texts = [embedding_text(c) for c in chunks]
            with self.model_lock:
                vectors = self.embed(texts) if chunks else np.zeros((0, 0), np.float32)
                if self.encode_more is not None and chunks:
                    self.encode_more([c.text for c in chunks])
            self.embedded += len(chunks)
            row = 0
            entries = []
            for key, pairs in ordered:
                block = vectors[row:row + len(pairs)]
                terms = TermCounts.of(texts[row:row + len(pairs)])
                row += len(pairs)
                entries.append(IndexEntry.build(key, pairs, block, terms))
            self.store.put_many(entries)
            self._remember(entries)
            built.update((e.key, e) for e in entries)
            report.indexed += len(entries)
            report.chunks += len(chunks)
            done += len(group)
            if progress and done < total:  # between groups only: a read done in one model call says nothing
                progress(done, total)
        log.info("indexed %d documents (%d chunks)", len(built), sum(len(e) for e in built.values()))
        return built

    def _groups(self, documents: dict[str, Document]) -> Iterator[list[tuple[str, Document]]]:
        """Documents in groups of about ``EMBED_BATCH`` chunks' worth of text (a big document alone)."""
        group: list[tuple[str, Document]] = []
        size = 0
        budget = EMBED_BATCH * self.max_chunk_tokens * 4  # characters, about
        for item in documents.items():
            group.append(item)
            size += len(item[1].text)
            if size >= budget:
                yield group
                group, size = [], 0
        if group:
            yield group

    def _encode_more_all(self, documents: Sequence[Document], progress: Progress | None) -> None:
        assert self.encode_more is not None
        held = self._entries.get_many(content_key(d) for d in documents)
        texts = [t for entry in held.values() for t in entry.texts]
        for start in range(0, len(texts), 1024):
            with self.model_lock:
                self.encode_more(texts[start:start + 1024])

    # ---- this process's caches ---------------------------------------------------------------------
    def _remember(self, entries: Iterable[IndexEntry]) -> None:
        self._entries.put_many({entry.key: entry for entry in entries})

    def _remember_set(self, key: tuple[Document, ...], candidates: Candidates) -> None:
        self._sets.put(key, candidates)


def index_fingerprint(*parts: object) -> str:
    """A short name for the embedder and chunker that made the entries (and the entry format, the chunker's
    version and what is embedded for a chunk)."""
    text = "|".join(str(p) for p in (*parts, f"format-{FORMAT}", f"chunker-{CHUNKER_VERSION}",
                                     f"embedding-text-{EMBEDDING_TEXT_VERSION}"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
