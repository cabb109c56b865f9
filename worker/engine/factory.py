"""Pick and load the answer engine from settings: CLaRa when a checkpoint is configured."""

from __future__ import annotations

import logging

from redis import Redis

from worker.engine.base import Engine
from worker.engine.default import EmbeddingCache, ExtractiveEngine, MiniLMRetriever, load_minilm
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)


def load_engine(settings: WorkerSettings, redis: Redis | None = None) -> Engine:
    retriever = MiniLMRetriever(EmbeddingCache(load_minilm(settings.retriever_device)))
    if not settings.clara.enabled:
        log.info("no CLaRa checkpoint configured: using the default extractive engine")
        return ExtractiveEngine(retriever, top_k=settings.top_k)
    from worker.clara.engine import load_clara_engine  # torch-heavy: imported only when configured

    return load_clara_engine(settings.clara, retriever=retriever, redis=redis)
