"""A worker process's wiring, from settings: load the engine once, connect to Slack and Redis, open the
index and keep the runbook folder indexed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import numpy as np
from redis import Redis

from jobs.slack_client import slack_client
from worker.activity import ChannelSourceRecorder, worker_info
from worker.batching import AnswerBatcher
from worker.context import WorkerContext
from worker.documents.gather import DocumentGatherer
from worker.documents.redact import DocumentRedactor
from worker.documents.runbooks import RunbookFolder
from worker.documents.slack_files import SlackFileReader
from worker.engine.base import Engine
from worker.engine.default import ExtractiveEngine, MiniLMRetriever, load_embeddings
from worker.index.chunk_index import ChunkIndex, index_fingerprint
from worker.index.file_ingest import FileIngest
from worker.index.files import IndexedFiles
from worker.index.runbook_sync import RunbookSync
from worker.index.store import IndexStore, LocalIndexStore, RedisIndexStore
from worker.metrics import TimedEngine, WorkerMetrics
from worker.pipeline import AnswerPipeline
from worker.settings import IndexSettings, WorkerSettings

if TYPE_CHECKING:
    from worker.clara.store import MemoryStore

log = logging.getLogger(__name__)


def load_engine(settings: WorkerSettings, redis: Redis | None = None) -> Engine:
    """CLaRa when a checkpoint is configured (ranked by MiniLM for Base and Instruct checkpoints), else the
    default extractive engine."""
    retriever = MiniLMRetriever(load_embeddings(settings.retriever_device, settings.retriever_precision))
    if not settings.clara.enabled:
        log.info("no CLaRa checkpoint configured: using the default extractive engine")
        return ExtractiveEngine(retriever, top_k=settings.top_k)
    from worker.clara.engine import load_clara_engine  # torch-heavy: imported only when configured
    from worker.clara.memory_cache import DeviceMemoryCache

    engine = load_clara_engine(settings.clara, retriever=retriever, redis=redis)
    entry_bytes = engine.clara.n_mem * engine.clara.hidden_size * 2
    engine.store = DeviceMemoryCache(engine.store, engine.clara.device,
                                     max(1, settings.clara.memory_cache_bytes // entry_bytes))
    return engine


def _no_vectors(texts: Sequence[str]) -> np.ndarray:
    return np.zeros((len(texts), 0), np.float32)


def engine_index(engine: Engine, redis: Redis | None = None, settings: IndexSettings | None = None, *,
                 encode_more: Callable[[Sequence[str]], object] | None = None,
                 model_lock: AbstractContextManager[object] | None = None) -> ChunkIndex:
    """The index of documents chunked for ``engine`` and embedded by its MiniLM retriever (an engine with
    none gets no dense vectors), in Redis when given, else in this process; ``encode_more``: the engine's
    own per-chunk encoding to run when a chunk is indexed (CLaRa's ``memories``)."""
    settings = settings or IndexSettings()
    retriever = getattr(engine, "retriever", None)
    if isinstance(retriever, MiniLMRetriever):
        embed: Callable[[Sequence[str]], np.ndarray] = retriever.embed
        embedder = retriever.cache.embedder
    else:
        embed, embedder = _no_vectors, "none"
    fingerprint = index_fingerprint(engine.name, engine.max_chunk_tokens, embedder)
    store: IndexStore
    if redis is not None:
        store = RedisIndexStore(redis, fingerprint, max_bytes=settings.max_bytes, ttl_seconds=settings.ttl_seconds)
    else:
        store = LocalIndexStore(max_bytes=settings.max_bytes)
    return ChunkIndex(store, embed, max_chunk_tokens=engine.max_chunk_tokens, count_tokens=engine.count_tokens,
                      encode_more=encode_more, model_lock=model_lock, cache_bytes=settings.cache_bytes)


def build_context(settings: WorkerSettings, redis: Redis, engine: Engine | None = None) -> WorkerContext:
    """Everything a job uses; ``engine``: one already loaded (tests share one), else loaded here."""
    slack = slack_client(settings.bot_token, settings.slack_api_url)
    metrics = WorkerMetrics()
    loaded = engine if engine is not None else load_engine(settings, redis)
    engine = TimedEngine(loaded, metrics.engine_seconds)
    model_lock = threading.Lock()
    encode_more = None
    if settings.clara.enabled:
        from worker.clara.engine import ClaraEngine

        assert isinstance(loaded, ClaraEngine)
        encode_more = loaded.memories  # CLaRa's memory embeddings, computed (and stored) when a chunk is indexed
    index = engine_index(loaded, redis, settings.index, encode_more=encode_more, model_lock=model_lock)
    redactor = DocumentRedactor(budget_s=settings.gathering.redact_budget_s)  # gathering and ingestion share it
    read_before = IndexedFiles(index.store, redactor)
    gatherer = DocumentGatherer.from_settings(settings.gathering, slack, read_before=read_before, redactor=redactor)
    file_ingest = FileIngest(SlackFileReader.from_settings(slack, settings.gathering, read_before), index, redactor)
    batcher = (AnswerBatcher(engine, max_batch=settings.batch_size, model_lock=model_lock)
               if settings.job_threads > 1 else None)
    pipeline = AnswerPipeline(gatherer, engine, index, batcher=batcher, on_gathered=ChannelSourceRecorder(redis))
    watch(metrics, settings, redis, pipeline, loaded)
    sync = None
    if settings.gathering.runbook_dir is not None:
        folder = next((s for s in gatherer.sources if isinstance(s, RunbookFolder)), None)
        if folder is not None:
            sync = RunbookSync(folder, index, settings.index.rescan_interval_s, redactor)  # python -m worker starts it
    return WorkerContext(pipeline=pipeline, slack=slack, redis=redis, metrics=metrics, runbook_sync=sync,
                         file_ingest=file_ingest)
def watch(metrics: WorkerMetrics, settings: WorkerSettings, redis: Redis, pipeline: AnswerPipeline,
          engine: Engine) -> None:
    """What the worker's metrics read at each scrape: the queue, the stores' sizes and, on a CLaRa worker,
    the GPU's memory."""
    info = worker_info(settings, engine.name)
    metrics.engine_info.info({"engine": info.engine, "checkpoint": info.checkpoint or ""})
    metrics.watch_queue(redis, settings.queue_name)
    store: MemoryStore | None = None
    if settings.clara.enabled:
        from worker.clara.engine import ClaraEngine

        store = engine.store if isinstance(engine, ClaraEngine) else None

    def sizes() -> dict[str, int | None]:
        return {"chunked_documents": pipeline.chunked_documents,
                "compressed_documents": store.stored() if store is not None else None}

    metrics.watch_sizes(sizes)
    if settings.clara.enabled and settings.clara.device.startswith("cuda"):
        metrics.watch_gpu_memory()
