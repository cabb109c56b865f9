"""The RQ worker loop: one process, no fork per job, optionally several job threads.

With ``threads > 1`` each thread runs its own ``SimpleWorker`` (its own name in ``rq info``); they
gather documents in parallel and meet in the ``AnswerBatcher``, which is the only thread that runs
the model. Signals are handled by the main thread, which asks every worker to stop after its job.

A ``SimpleWorker`` runs the job in the thread that would otherwise send heartbeats, so RQ registers
each job for its whole timeout plus a minute: a worker SIGKILLed mid-job would leave its question
unnoticed for that long, plus up to ten minutes until some worker's registry maintenance. Our workers
keep a short heartbeat from a side thread while a job runs and run maintenance every minute, so an
abandoned question is retried (or reported) within about two minutes.

Redis outages: RQ's work loop quits on the first Redis error outside its wait for jobs ("unhandled
exception, quitting"), which ended the job thread, or the process, whenever Redis restarted while a job
finished. Our workers ride the outage out: the bookkeeping before and after a job is tried again until
Redis answers (``jobs.redis_outage``), and beats, state updates, suspension checks and maintenance that
fail are logged and done on the next round. A Redis that stalls instead of refusing is given
``REDIS_REPLY_TIMEOUT_S`` per command, not RQ's seven minutes.

Stopping: a stop request (SIGTERM, SIGINT) also brings every job's gathering deadline forward
(worker/deadline.py), so a job in hand finishes within seconds with what it has read; it is honoured at
every beat outside a job, also while Redis cannot be reached.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, worker_registration
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry, clean_registries
from rq.serializers import JSONSerializer
from rq.timeouts import JobTimeoutException, TimerDeathPenalty
from rq.utils import now
from rq.worker import WorkerStatus

from jobs.enqueue import question_queue
from jobs.ingest import ingest_queue
from jobs.redis_outage import UNREACHABLE, until_redis_answers
from worker.deadline import STOP, STOP_GRACE_S
from worker.job import report_unreported_failures

log = logging.getLogger(__name__)
T = TypeVar("T")

REDIS_REPLY_TIMEOUT_S = 10  # a command Redis does not answer in this long (a stalled server) fails


class HeartbeatingSimpleWorker(SimpleWorker):
    """A SimpleWorker whose running job stays registered for ``3 × job_monitoring_interval`` seconds,
    renewed from a side thread, instead of for its whole timeout; and which waits for jobs in slices of
    ``stop_poll_s`` seconds, so heartbeats, registry maintenance and stop requests are seen while idle
    (RQ's blocking wait is minutes long)."""

    stop_poll_s = 2
    missed_beats_allowed = 3
    max_connection_wait_time = 2.0  # RQ's longest wait between tries to reach Redis for jobs (its default: 60)

    @property
    def connection_timeout(self) -> int:
        """The socket timeout RQ gives the connection: our longest blocking wait for jobs, plus a margin."""
        return self.stop_poll_s + REDIS_REPLY_TIMEOUT_S

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return int(self.job_monitoring_interval * self.missed_beats_allowed)

    # ---- riding out Redis outages ------------------------------------------------------------------------
    def _ride_out(self, step: Callable[[], T], what: str) -> T:
        """``step()``, tried again until Redis answers; given up only once the worker has been asked to
        stop and the grace for jobs in hand has passed."""
        def stopping_for_good() -> bool:
            return STOP.requested_at is not None and time.monotonic() > STOP.requested_at + STOP_GRACE_S

        return until_redis_answers(step, what=what, give_up=stopping_for_good, logger=log)

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        """RQ's ``perform_job``, except that the Redis bookkeeping before and after the job is ridden
        through an outage: an answer already posted is then recorded as done, not failed, and this job
        thread lives on (RQ fails the job and quits its work loop)."""
        self._ride_out(lambda: self.prepare_job_execution(job, remove_from_intermediate_queue=len(self.queues) == 1),
                       f"starting job {job.id}")
        job.started_at = now()
        try:
            with self.death_penalty_class(job.timeout or self.queue_class.DEFAULT_TIMEOUT, JobTimeoutException,
                                          job_id=job.id):
                return_value = job.perform()
        except BaseException:  # as RQ: whatever the job raised (a timeout too) fails it, and is reported
            exc_info = sys.exc_info()
            self._ride_out(lambda: self._finalize_failure(job, queue, execution, exc_info),
                           f"recording the failure of job {job.id}")
            return False
        self._ride_out(lambda: self._finalize_success(job, queue, execution, return_value),
                       f"recording job {job.id} as done")
        return True

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        """RQ's worker heartbeat; outside a job (no ``pipeline``), also where a stop request is honoured,
        since RQ's wait for jobs keeps retrying an unreachable Redis without looking at it. A beat that
        cannot reach Redis is logged: the next one may."""
        if pipeline is None and self._stop_requested:
            raise StopRequested()
        try:
            super().heartbeat(timeout, pipeline)
        except UNREACHABLE as error:
            log.warning("worker %s: heartbeat failed (%s); the next one may get through", self.name, error)

    def set_state(self, state: str, pipeline: Pipeline | None = None) -> None:
        try:
            super().set_state(state, pipeline)
        except UNREACHABLE as error:  # what `rq info` shows; the next change sets it again
            log.warning("worker %s: could not record state %s (%s)", self.name, state, error)

    def check_for_suspension(self, burst: bool) -> None:
        self._ride_out(lambda: super(HeartbeatingSimpleWorker, self).check_for_suspension(burst),
                       "checking whether workers are suspended")

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()
        except UNREACHABLE as error:  # next round: last_cleaned_at was not moved on
            log.warning("worker %s: registry maintenance failed (%s); trying again later", self.name, error)

    def set_shutdown_requested_date(self) -> None:
        try:
            super().set_shutdown_requested_date()
        except UNREACHABLE:  # only shown by `rq info`; the stop goes on
            log.warning("worker %s: could not record the stop request in Redis", self.name)

    def teardown(self) -> None:
        try:
            super().teardown()
        except UNREACHABLE as error:  # the worker's key expires by itself
            log.warning("worker %s: could not register its exit in Redis (%s)", self.name, error)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        STOP.request()  # jobs in hand: gathering ends within STOP_GRACE_S
        super().request_stop(signum, frame)

    # ---- the job and its heartbeat -------------------------------------------------------------------------
    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self._ride_out(lambda: self.prepare_execution(job), f"registering job {job.id}")
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
        interval = self.job_monitoring_interval
        while not done.wait(interval):
            try:
                self.maintain_heartbeats(job, execution)
                interval = self.job_monitoring_interval
            except RedisError as error:  # three missed beats abandon the job: try again soon
                log.warning("heartbeat for job %s failed: %s", job.id, error)
                interval = min(1, self.job_monitoring_interval)

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
