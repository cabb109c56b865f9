"""Putting question jobs on the RQ queue, exactly once per Slack question."""

from __future__ import annotations

import logging

from redis import Redis
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs import defaults
from jobs.payload import QuestionJob

log = logging.getLogger(__name__)

ANSWER_QUESTION = "worker.job.answer_question"  # the job function, by dotted path: the bot never imports it
REPORT_FAILURE = "worker.job.report_failure"  # runs when a job raised or its worker died mid-job
RETRIES = 1  # a job whose worker died (or that raised) runs once more before the user is told it failed
CLAIM_TTL_SECONDS = 24 * 3600


def question_queue(connection: Redis, name: str = defaults.QUEUE_NAME) -> Queue:
    return Queue(name, connection=connection, serializer=JSONSerializer)


def claim_question(connection: Redis, job_id: str, ttl: int = CLAIM_TTL_SECONDS) -> bool:
    """Atomically claim a question before showing progress: only the first delivery wins.

    Slack retries, Socket Mode redeliveries, the twin ``app_mention``/``message`` events and a second
    bot process all race here; ``SET NX`` lets exactly one through.
    """
    return bool(connection.set(f"chatops:claim:{job_id}", "1", nx=True, ex=ttl))


def release_claim(connection: Redis, job_id: str) -> None:
    """Give a claim back when the question could not be queued, so a retry can take it."""
    connection.delete(f"chatops:claim:{job_id}")


def enqueue_question(
    queue: Queue, job: QuestionJob, job_id: str, *, timeout: int = defaults.JOB_TIMEOUT_S,
    result_ttl: int = 86400
) -> Job | None:
    """Enqueue ``job`` under ``job_id``; returns None when that id is already queued or done."""
    try:
        return queue.enqueue(
            ANSWER_QUESTION,
            job.to_dict(),
            job_id=job_id,
            unique=True,
            job_timeout=timeout,
            result_ttl=result_ttl,
            failure_ttl=7 * 86400,
            retry=Retry(max=RETRIES),
            on_failure=Callback(REPORT_FAILURE),
            description=f"{job.mode} question in {job.channel}",
        )
    except DuplicateJobError:
        log.info("job %s is already queued: duplicate delivery ignored", job_id)
        return None
