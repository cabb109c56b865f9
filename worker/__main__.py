"""``python -m worker``: load the answer engine once, then take question jobs from Redis.

A ``SimpleWorker`` runs jobs in this process: a GPU model cannot survive a fork per job.
"""

from __future__ import annotations

import argparse
import logging
import sys

from redis import Redis

from jobs.env import SettingsError
from jobs.metrics import serve_metrics
from worker.activity import WorkerRegistration, worker_info
from worker.context import set_context
from worker.queue_worker import run_worker
from worker.runtime import build_context
from worker.settings import WorkerSettings

log = logging.getLogger("worker")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--name", default=None, help="worker name shown by `rq info`")
    args = parser.parse_args(argv)
    try:
        settings = WorkerSettings.from_env()
    except SettingsError as error:
        sys.exit(f"python -m worker: {error}")
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redis = Redis.from_url(settings.redis_url)
    context = build_context(settings, redis)
    set_context(context)
    if settings.metrics_port:
        serve_metrics(context.metrics.registry, settings.metrics_port)
    registration = WorkerRegistration(redis, worker_info(settings, context.pipeline.engine.name, args.name)).start()
    if context.runbook_sync is not None:
        context.runbook_sync.start()  # index the runbook folder (in the background) and keep it indexed
    log.info("engine loaded; waiting for questions on queue %r", settings.queue_name)
    try:
        run_worker(redis, settings.queue_name, burst=args.burst, name=args.name, threads=settings.job_threads,
                   heartbeat_interval=settings.heartbeat_interval_s,
                   maintenance_interval=settings.maintenance_interval_s)
    finally:
        registration.stop()
        if context.runbook_sync is not None:
            context.runbook_sync.stop()


if __name__ == "__main__":
    main()
