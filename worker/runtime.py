"""A worker process's wiring, from settings: load the engine once, connect to Slack and Redis."""

from __future__ import annotations

import logging

from redis import Redis

from jobs.slack_client import slack_client
from worker.batching import AnswerBatcher
from worker.context import WorkerContext
from worker.documents.gather import DocumentGatherer
from worker.engine.base import Engine
from worker.engine.default import EmbeddingCache, ExtractiveEngine, MiniLMRetriever, load_minilm
from worker.pipeline import AnswerPipeline
from worker.settings import WorkerSettings

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


def build_context(settings: WorkerSettings, redis: Redis) -> WorkerContext:
    slack = slack_client(settings.bot_token, settings.slack_api_url)
    engine = load_engine(settings, redis)
    gatherer = DocumentGatherer.from_settings(settings.gathering, slack)
    batcher = AnswerBatcher(engine, max_batch=settings.batch_size) if settings.job_threads > 1 else None
    return WorkerContext(pipeline=AnswerPipeline(gatherer, engine, batcher=batcher), slack=slack, redis=redis)
