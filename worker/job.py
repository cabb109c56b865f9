"""The RQ job: answer one question and put the answer in its Slack thread. Never silent, never twice.

Once a reply (the answer, or a message saying why there is none) is in Slack, the job records it in Redis
(``chatops:replied:<job id>``, riding out an outage). A copy of the job that runs again (its worker died,
or Redis lost track of it while restarting) finds the record and does nothing, and the failure callback
never overwrites a posted answer with "stopped unexpectedly". A job whose claim was withdrawn (the bot
told the user it could not be queued: jobs/enqueue.py) is not answered either."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import AbandonedJobError, NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer
from slack_sdk.errors import SlackClientError

from jobs import activity
from jobs.enqueue import CLAIM_TTL_SECONDS, NOT_QUEUED, wait_until_queued
from jobs.feedback import AnswerRecord, record_answer
from jobs.payload import QuestionJob
from jobs.redis_outage import until_redis_answers
from worker.context import WorkerContext, context_if_started, current_context
from worker.deadline import STOP, STOP_GRACE_S
from worker.engine.base import Answer
from worker.errors import ChatOpsError
from worker.progress import progress_for
from worker.slack_reply import deliver, render_answer, render_failure, source_labels

log = logging.getLogger(__name__)

UNREPORTED_FAILURES = "chatops:unreported-failures"  # job ids whose final failure no one has told yet
REPLIED = "chatops:replied:{}"  # set once a job's reply is in Slack
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
    if current is not None and replied(context.redis, ref):
        log.info("question %s was answered already: this copy of the job does nothing", ref)
        return {"answered": True, "again": False}
    if job.claim_token and not wait_until_queued(context.redis, ref, job.claim_token):
        log.warning("question %s was withdrawn (its asker was told it could not be queued): not answering", ref)
        _tell_not_queued(context, job)
        return {"answered": False, "reason": "withdrawn"}
    try:
        answer = context.pipeline.answer(job, timeout=_time_left(current), progress=progress_for(context.slack, job))
    except ChatOpsError as error:
        log.info("question %s not answered: %s", ref, error)
        deliver(context.slack, job, render_failure(str(error)))
        _record_reply(context.redis, ref)
        _count_failure(context, type(error).__name__)
        return {"answered": False, "reason": type(error).__name__}
    # any other exception fails the job: RQ retries it or calls report_failure, which tells the user
    result = post_answer(context, job, answer, answer_id=current.id if current else None,
                         asked_at=_created_at(current))
    _record_reply(context.redis, ref)
    return result


def replied(connection: Redis, job_id: str) -> bool:
    """The job's reply is in Slack already."""
    return bool(connection.exists(REPLIED.format(job_id)))


def _record_reply(connection: Redis, job_id: str) -> None:
    """Record that the reply is in Slack, riding out a Redis outage (a worker asked to stop gives up after
    its grace: the answer is posted, only a later copy of the job could then answer again)."""
    if job_id == "cli":
        return

    def stopping_for_good() -> bool:
        return STOP.requested_at is not None and time.monotonic() > STOP.requested_at + STOP_GRACE_S

    until_redis_answers(lambda: connection.set(REPLIED.format(job_id), "1", ex=CLAIM_TTL_SECONDS),
                        what=f"recording the reply to {job_id}", give_up=stopping_for_good, logger=log)


def _tell_not_queued(context: WorkerContext, job: QuestionJob) -> None:
    """The bot said so already (unless it died first): put the same words in the placeholder."""
    if not job.placeholder_ts:
        return
    message = render_failure(NOT_QUEUED)
    try:
        context.slack.chat_update(channel=job.channel, ts=job.placeholder_ts, text=message.text,
                                  blocks=message.blocks)
    except SlackClientError as error:
        log.warning("could not update the placeholder of a withdrawn question: %s", error)


def _time_left(job: Job | None) -> float | None:
    """Seconds this job may still wait for the model: its timeout less a margin to report a failure."""
    if job is None or not job.timeout or job.timeout <= 0:
        return None
    started = job.started_at
    if started is not None and started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    elapsed = (datetime.now(UTC) - started).total_seconds() if started else 0.0
    return max(1.0, float(job.timeout) - elapsed - 10.0)


def _created_at(job: Job | None) -> float | None:
    """When the question's job was created (the bot enqueued it), as epoch seconds."""
    created = job.created_at if job is not None else None
    if created is None:
        return None
    return (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp()


def _count_failure(context: WorkerContext, reason: str) -> None:
    context.metrics.failures.labels(reason).inc()
    try:
        activity.count(context.redis, activity.FAILED)
    except RedisError as error:
        log.warning("could not count a failure: %s", error)


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
    if replied(connection, rq_job.id):  # e.g. its worker lost Redis after posting: never overwrite the answer
        log.warning("question %s was %s after its reply was posted: leaving the reply as it is", rq_job.id,
                    "found abandoned" if abandoned else "failed")
        return
    log.error("question %s failed (%s); retries left: %s", rq_job.id,
              "worker died mid-job" if abandoned else getattr(exc_type, "__name__", exc_type),
              rq_job.retries_left)
    reason = "worker_died" if abandoned else "internal_error"
    if rq_job.retries_left:
        text = RETRYING_AFTER_CRASH if abandoned else RETRYING
        context.metrics.retries.labels(reason).inc()
    else:
        text = INTERNAL_ERROR.format(ref=rq_job.id)
        _count_failure(context, reason)
    deliver(context.slack, job, render_failure(text))


def report_unreported_failures(connection: Redis) -> int:
    """Tell the users whose question failed for good while no worker was there to say so (see
    ``report_failure``). One worker takes each (SPOP); one it cannot deliver is put back. Returns how
    many were reported."""
    context = current_context()
    reported = 0
    while (raw := connection.spop(UNREPORTED_FAILURES)) is not None:
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        if replied(connection, job_id):
            continue
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
        _count_failure(context, "worker_died")
        reported += 1
    return reported


def post_answer(context: WorkerContext, job: QuestionJob, answer: Answer, answer_id: str | None = None,
                asked_at: float | None = None) -> dict[str, Any]:
    """Deliver the answer; with ``answer_id`` (the job id), record it for its feedback and hand-off
    buttons first, so a click never finds it missing."""
    if answer_id is not None:
        _record_answer(context, job, answer, answer_id)
    ts = deliver(context.slack, job, render_answer(answer, answer_id))
    context.metrics.answered.labels(job.mode, job.source).inc()
    if asked_at is not None:
        context.metrics.latency.labels(job.mode).observe(max(0.0, time.time() - asked_at))
    try:
        activity.count(context.redis, activity.ANSWERED)
    except RedisError as error:
        log.warning("could not count an answer: %s", error)
    return {
        "answered": True,
        "ts": ts,
        "engine": answer.engine,
        "citations": [{"chunk": c.chunk.chunk_id, "score": round(c.score, 4)} for c in answer.citations],
    }


def _record_answer(context: WorkerContext, job: QuestionJob, answer: Answer, answer_id: str) -> None:
    record = AnswerRecord(
        answer_id=answer_id, question=job.question, channel=job.channel, user=job.user, engine=answer.engine,
        answered_at=time.time(), mode=job.mode, thread_ts=job.thread_ts,
        chunks=tuple(c.chunk.chunk_id for c in answer.citations), sources=tuple(source_labels(answer)),
    )
    try:
        record_answer(context.redis, record)
    except RedisError as error:  # the answer matters more than its buttons: they will say it is unknown
        log.warning("could not record answer %s for feedback: %s", answer_id, error)
