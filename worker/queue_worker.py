"""The RQ worker loop: one process, no fork per job, optionally several job threads.

With ``threads > 1`` each thread runs its own ``SimpleWorker`` (its own name in ``rq info``); they
gather documents in parallel and meet in the ``AnswerBatcher``, which is the only thread that runs
the model. Signals are handled by the main thread, which asks every worker to stop after its job.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from redis import Redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty

from jobs.enqueue import question_queue

log = logging.getLogger(__name__)


class ThreadedSimpleWorker(SimpleWorker):
    """A SimpleWorker that can run outside the main thread: job timeouts by timer, not SIGALRM."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:  # signals belong to the main thread
        pass


def run_worker(redis: Redis, queue_name: str, *, burst: bool = False, name: str | None = None,
               threads: int = 1) -> bool:
    queues = [question_queue(redis, queue_name)]
    if threads <= 1:
        worker = SimpleWorker(queues, connection=redis, name=name, serializer=JSONSerializer)
        return bool(worker.work(burst=burst, with_scheduler=False, logging_level="INFO"))

    workers = [
        ThreadedSimpleWorker(queues, connection=redis, serializer=JSONSerializer,
                             name=f"{name}-{i}" if name else None)
        for i in range(threads)
    ]
    runners = [
        threading.Thread(target=w.work, kwargs={"burst": burst, "with_scheduler": False,
                                                 "logging_level": "INFO"}, name=f"rq-{i}")
        for i, w in enumerate(workers)
    ]

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping %d job threads after their current jobs", signum, len(workers))
        for w in workers:
            w.request_stop(signum, frame)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    return True
