"""The RQ worker loop: one process, no fork per job, optionally several job threads.

With ``threads > 1`` each thread runs its own ``SimpleWorker`` (its own name in ``rq info``); they
gather documents in parallel and meet in the ``AnswerBatcher``, which is the only thread that runs
the model. Signals are handled by the main thread, which asks every worker to stop after its job.

A ``SimpleWorker`` runs the job in the thread that would otherwise send heartbeats, so RQ registers
each job for its whole timeout plus a minute: a worker SIGKILLed mid-job would leave its question
unnoticed for that long, plus up to ten minutes until some worker's registry maintenance. Our workers
keep a short heartbeat from a side thread while a job runs and run maintenance every minute, so an
abandoned question is retried (or reported) within about two minutes.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, worker_registration
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry, clean_registries
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from rq.utils import now
from rq.worker import WorkerStatus

from jobs.enqueue import question_queue
from jobs.ingest import ingest_queue
from worker.job import report_unreported_failures

log = logging.getLogger(__name__)


class HeartbeatingSimpleWorker(SimpleWorker):
    """A SimpleWorker whose running job stays registered for ``3 × job_monitoring_interval`` seconds,
    renewed from a side thread, instead of for its whole timeout; and which waits for jobs in slices of
    ``stop_poll_s`` seconds, so heartbeats, registry maintenance and stop requests are seen while idle
    (RQ's blocking wait is minutes long)."""

    stop_poll_s = 2
    missed_beats_allowed = 3

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return int(self.job_monitoring_interval * self.missed_beats_allowed)

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        done = threading.Event()
        beat = threading.Thread(target=self._beat_until_done, args=(job, execution, done),
                                name=f"heartbeat-{job.id}", daemon=True)
        beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            done.set()
            beat.join()
        self.set_state(WorkerStatus.IDLE)

    def _beat_until_done(self, job: Job, execution: Execution, done: threading.Event) -> None:
        while not done.wait(self.job_monitoring_interval):
            try:
                self.maintain_heartbeats(job, execution)
            except RedisError as error:  # the next beat may get through; three misses abandon the job
                log.warning("heartbeat for job %s failed: %s", job.id, error)

    def clean_registries(self) -> None:
        """RQ's registry maintenance, except that abandoned jobs' failure callbacks run under this
        worker's death penalty: RQ's default (SIGALRM) cannot be armed outside the main thread, and the
        callback is what tells the user their question is being retried. Then it tells the users whose
        question was found failed by a monitoring tool (``worker.job.report_unreported_failures``).
        The lock that lets one worker at a time clean (else a job could be retried twice) lasts
        minutes, not RQ's 15: a worker killed while cleaning must not stop the others from finding
        abandoned jobs for long."""
        lock_s = max(60, 2 * int(self.maintenance_interval))
        for queue in self.queues:
            if self.connection.set(queue.registry_cleaning_key, 1, nx=True, ex=lock_s):
                try:
                    StartedJobRegistry(queue.name, connection=self.connection, serializer=self.serializer,
                                       death_penalty_class=self.death_penalty_class,
                                       ).cleanup(exception_handlers=self._exc_handlers)
                    clean_registries(queue, self._exc_handlers)
                    worker_registration.clean_worker_registry(queue)
                    queue.intermediate_queue.cleanup(self, queue)
                finally:
                    queue.release_maintenance_lock()
        try:
            report_unreported_failures(self.connection)
        except RedisError:
            log.warning("could not read the unreported failures; next maintenance tries again")
        self.last_cleaned_at = now()  # type: ignore[assignment]  # RQ annotates it as None

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        if timeout is None or max_idle_time is not None:  # burst mode, or an idle limit of its own
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while True:
            result = super().dequeue_job_and_maintain_ttl(min(timeout, self.stop_poll_s), self.stop_poll_s)
            if result is not None or self._stop_requested:
                return result  # None ends the work loop


class ThreadedSimpleWorker(HeartbeatingSimpleWorker):
    """A worker that can run outside the main thread: job timeouts by timer, not SIGALRM.

    Stopping: the main thread's signal handler only flags the worker (RQ's own handler raises
    StopRequested, which would land in the main thread, not in this worker's)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:  # signals belong to the main thread
        pass

    def _shutdown(self) -> None:
        self._stop_requested = True  # finish the current job, if any, then leave the work loop


def run_worker(redis: Redis, queue_name: str, *, burst: bool = False, name: str | None = None,
               threads: int = 1, heartbeat_interval: int = 20, maintenance_interval: int = 60,
               stop: threading.Event | None = None) -> bool:
    """Take questions from ``queue_name`` and, when none waits, file-ingest jobs from its ingest queue
    (jobs/ingest.py): RQ takes from a worker's queues in order. With several threads only half of them
    take ingest jobs, so some thread is always free for questions. ``stop`` (several threads): set it to
    stop them after their current jobs, as SIGTERM does (a worker run from a thread has no signals)."""
    questions = question_queue(redis, queue_name)
    both = [questions, ingest_queue(redis, queue_name)]
    if threads <= 1:
        worker = HeartbeatingSimpleWorker(both, connection=redis, name=name, serializer=JSONSerializer,
                                          job_monitoring_interval=heartbeat_interval,
                                          maintenance_interval=maintenance_interval)
        return bool(worker.work(burst=burst, with_scheduler=False, logging_level="INFO"))

    ingesting = max(1, threads // 2)
    workers = [
        ThreadedSimpleWorker(both if i < ingesting else [questions], connection=redis, serializer=JSONSerializer,
                             name=f"{name}-{i}" if name else None, job_monitoring_interval=heartbeat_interval,
                             maintenance_interval=maintenance_interval)
        for i in range(threads)
    ]
    runners = [
        threading.Thread(target=w.work, kwargs={"burst": burst, "with_scheduler": False,
                                                 "logging_level": "INFO"}, name=f"rq-{i}")
        for i, w in enumerate(workers)
    ]

    def stop_all(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping %d job threads after their current jobs", signum, len(workers))
        for w in workers:
            w.request_stop(signum, frame)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, stop_all)
        signal.signal(signal.SIGTERM, stop_all)
    if stop is not None:
        def stop_when_set() -> None:
            stop.wait()
            for w in workers:
                w._shutdown()  # the flag a signal sets (RQ's request_stop needs the main thread)

        threading.Thread(target=stop_when_set, name="rq-stop", daemon=True).start()
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    return True
