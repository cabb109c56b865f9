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
from typing import Any

from redis import Redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty

from jobs.enqueue import question_queue

log = logging.getLogger(__name__)


class ThreadedSimpleWorker(SimpleWorker):
    """A SimpleWorker that can run outside the main thread: job timeouts by timer, not SIGALRM.

    Stopping: the main thread's signal handler only flags the worker (RQ's own handler raises
    StopRequested, which would land in the main thread, not in this worker's), and an idle worker waits
    for jobs in slices of ``stop_poll_s`` seconds so it sees the flag soon instead of after the
    ``dequeue_timeout`` (minutes)."""

    death_penalty_class = TimerDeathPenalty
    stop_poll_s = 2

    def _install_signal_handlers(self) -> None:  # signals belong to the main thread
        pass

    def _shutdown(self) -> None:
        self._stop_requested = True  # finish the current job, if any, then leave the work loop

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        if timeout is None or max_idle_time is not None:  # burst mode, or an idle limit of its own
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while True:
            result = super().dequeue_job_and_maintain_ttl(min(timeout, self.stop_poll_s), self.stop_poll_s)
            if result is not None or self._stop_requested:
                return result  # None ends the work loop


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
