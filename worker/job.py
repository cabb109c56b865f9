"""The RQ job: answer one question and put the answer in its Slack thread. Never silent."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import get_current_job
from rq.exceptions import AbandonedJobError, NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs.payload import QuestionJob
from worker.context import WorkerContext, context_if_started, current_context
from worker.engine.base import Answer
from worker.errors import ChatOpsError
from worker.slack_reply import deliver, render_answer, render_failure

log = logging.getLogger(__name__)

UNREPORTED_FAILURES = "chatops:unreported-failures"  # job ids whose final failure no one has told yet
RETRYING = "I hit a problem while answering and am trying once more…"
RETRYING_AFTER_CRASH = "The worker answering this stopped unexpectedly; another one is trying again…"
INTERNAL_ERROR = ("Something went wrong while answering (reference `{ref}`). "
                  "The team has the details in the worker log; please try again later.")


def answer_question(payload: dict[str, Any]) -> dict[str, Any]:
    """Entry point named by ``jobs.enqueue.ANSWER_QUESTION``."""
    context = current_context()
    job = QuestionJob.from_dict(payload)
    current = get_current_job()
    ref = current.id if current else "cli"
    try:
        answer = context.pipeline.answer(job, timeout=_time_left(current))
    except ChatOpsError as error:
        log.info("question %s not answered: %s", ref, error)
        deliver(context.slack, job, render_failure(str(error)))
        return {"answered": False, "reason": type(error).__name__}
    # any other exception fails the job: RQ retries it or calls report_failure, which tells the user
    return post_answer(context, job, answer)


def _time_left(job: Job | None) -> float | None:
    """Seconds this job may still wait for the model: its timeout less a margin to report a failure."""
    if job is None or not job.timeout or job.timeout <= 0:
        return None
    started = job.started_at
    if started is not None and started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    elapsed = (datetime.now(UTC) - started).total_seconds() if started else 0.0
    return max(1.0, float(job.timeout) - elapsed - 10.0)


def report_failure(rq_job: Job, connection: Redis, exc_type: type[BaseException] | None,
                   exc_value: BaseException | None, traceback: object) -> None:
    """RQ failure callback: tell the user, in the placeholder, that the answer failed or is retried.

    Runs in the worker that ran the job, or in the one that found it abandoned (its worker died); or in
    a monitoring tool (``rq info``, rq-dashboard), whose reading of the queue also cleans its registries:
    there is no Slack client there, so a final failure is left in ``UNREPORTED_FAILURES`` for the next
    worker's maintenance to report (``report_unreported_failures``); a retried job needs no notice."""
    context = context_if_started()
    if context is None:
        log.warning("question %s found abandoned outside a worker; retries left: %s", rq_job.id,
                    rq_job.retries_left)
        if not rq_job.retries_left:
            connection.sadd(UNREPORTED_FAILURES, rq_job.id)
        return
    job = QuestionJob.from_dict(rq_job.args[0])
    abandoned = exc_type is not None and issubclass(exc_type, AbandonedJobError)
    log.error("question %s failed (%s); retries left: %s", rq_job.id,
              "worker died mid-job" if abandoned else getattr(exc_type, "__name__", exc_type),
              rq_job.retries_left)
    if rq_job.retries_left:
        text = RETRYING_AFTER_CRASH if abandoned else RETRYING
    else:
        text = INTERNAL_ERROR.format(ref=rq_job.id)
    deliver(context.slack, job, render_failure(text))


def report_unreported_failures(connection: Redis) -> int:
    """Tell the users whose question failed for good while no worker was there to say so (see
    ``report_failure``). One worker takes each (SPOP); one it cannot deliver is put back. Returns how
    many were reported."""
    context = current_context()
    reported = 0
    while (raw := connection.spop(UNREPORTED_FAILURES)) is not None:
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        try:
            rq_job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
            job = QuestionJob.from_dict(rq_job.args[0])
        except (NoSuchJobError, ValueError, KeyError, IndexError, TypeError):
            log.warning("unreported failure %s: the job is gone or unreadable", job_id)
            continue
        try:
            deliver(context.slack, job, render_failure(INTERNAL_ERROR.format(ref=job_id)))
        except Exception:
            log.exception("could not report failure %s; will try again", job_id)
            connection.sadd(UNREPORTED_FAILURES, job_id)
            break
        log.info("reported failure %s found outside a worker", job_id)
        reported += 1
    return reported


def post_answer(context: WorkerContext, job: QuestionJob, answer: Answer) -> dict[str, Any]:
    ts = deliver(context.slack, job, render_answer(answer))
    return {
        "answered": True,
        "ts": ts,
        "engine": answer.engine,
        "citations": [{"chunk": c.chunk.chunk_id, "score": round(c.score, 4)} for c in answer.citations],
    }
