"""Build a worker process's context from settings: load the engine once, connect to Slack and Redis."""

from __future__ import annotations

from redis import Redis

from jobs.slack_client import slack_client
from worker.batching import AnswerBatcher
from worker.context import WorkerContext
from worker.documents.gather import DocumentGatherer
from worker.engine.factory import load_engine
from worker.pipeline import AnswerPipeline
from worker.settings import WorkerSettings


def build_context(settings: WorkerSettings, redis: Redis) -> WorkerContext:
    slack = slack_client(settings.bot_token, settings.slack_api_url)
    engine = load_engine(settings, redis)
    gatherer = DocumentGatherer.from_settings(settings.gathering, slack)
    batcher = AnswerBatcher(engine, max_batch=settings.batch_size) if settings.job_threads > 1 else None
    return WorkerContext(pipeline=AnswerPipeline(gatherer, engine, batcher=batcher), slack=slack, redis=redis)
