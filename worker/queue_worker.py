"""The RQ worker loop (one process, no fork per job)."""

from __future__ import annotations

from redis import Redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from jobs.enqueue import question_queue


def run_worker(redis: Redis, queue_name: str, *, burst: bool = False, name: str | None = None) -> bool:
    worker = SimpleWorker([question_queue(redis, queue_name)], connection=redis, name=name,
                          serializer=JSONSerializer)
    return bool(worker.work(burst=burst, with_scheduler=False, logging_level="INFO"))
