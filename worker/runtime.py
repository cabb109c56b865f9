"""A worker process's wiring, from settings: load the engine once, connect to Slack and Redis."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from redis import Redis

from jobs.slack_client import slack_client
from worker.activity import ChannelSourceRecorder, worker_info
from worker.batching import AnswerBatcher
from worker.context import WorkerContext
from worker.documents.gather import DocumentGatherer
from worker.engine.base import Engine
from worker.engine.default import EmbeddingCache, ExtractiveEngine, MiniLMRetriever, load_minilm
from worker.metrics import TimedEngine, WorkerMetrics
from worker.pipeline import AnswerPipeline
from worker.settings import WorkerSettings

if TYPE_CHECKING:
    from worker.clara.store import MemoryStore

log = logging.getLogger(__name__)


def load_engine(settings: WorkerSettings, redis: Redis | None = None) -> Engine:
    """CLaRa when a checkpoint is configured (ranked by MiniLM for Base and Instruct checkpoints), else the
    default extractive engine."""
    retriever = MiniLMRetriever(EmbeddingCache(load_minilm(settings.retriever_device)))
    if not settings.clara.enabled:
        log.info("no CLaRa checkpoint configured: using the default extractive engine")
        return ExtractiveEngine(retriever, top_k=settings.top_k)
    from worker.clara.engine import load_clara_engine  # torch-heavy: imported only when configured

    return load_clara_engine(settings.clara, retriever=retriever, redis=redis)


def build_context(settings: WorkerSettings, redis: Redis, engine: Engine | None = None) -> WorkerContext:
    """Everything a job uses; ``engine``: one already loaded (tests share one), else loaded here."""
    slack = slack_client(settings.bot_token, settings.slack_api_url)
    metrics = WorkerMetrics()
    loaded = engine if engine is not None else load_engine(settings, redis)
    engine = TimedEngine(loaded, metrics.engine_seconds)
    gatherer = DocumentGatherer.from_settings(settings.gathering, slack)
    batcher = AnswerBatcher(engine, max_batch=settings.batch_size) if settings.job_threads > 1 else None
    pipeline = AnswerPipeline(gatherer, engine, batcher=batcher, on_gathered=ChannelSourceRecorder(redis))
    watch(metrics, settings, redis, pipeline, loaded)
    return WorkerContext(pipeline=pipeline, slack=slack, redis=redis, metrics=metrics)


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
