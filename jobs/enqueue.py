"""Putting question jobs on the RQ queue, exactly once per Slack question, and never one whose asker was
told it could not be queued.

A question's claim (``chatops:claim:<job id>``) goes through three states:

1. ``pending:<token>``, taken with ``SET NX`` before anything is shown: Slack retries, Socket Mode
   redeliveries, the twin ``app_mention``/``message`` events and a second bot process all race here, and
   only the first delivery wins. It lapses after ``CLAIM_LEASE_S`` (a bot that died meanwhile).
2. Just before the job is enqueued the claim is renewed for ``QUEUE_LEASE_S``; the job carries the token.
3. ``queued:<token>`` once the job is in the queue (``CONFIRM``), kept ``CLAIM_TTL_SECONDS`` so later
   duplicates are still recognised.

A worker answers a job only if its claim says ``queued:`` with the job's token (``wait_until_queued``).
When Redis stalls, a command can time out on the bot's side and still be carried out later, after the
user was told the question failed: so after a failed enqueue or confirmation the bot withdraws the claim
(deletes it, retrying until Redis answers) and tells the user only once it is gone, or once the renewed
lease has run out, whichever comes first. Either way no worker will answer that job.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs import defaults
from jobs.payload import QuestionJob
from jobs.redis_outage import until_redis_answers

log = logging.getLogger(__name__)

ANSWER_QUESTION = "worker.job.answer_question"  # the job function, by dotted path: the bot never imports it
REPORT_FAILURE = "worker.job.report_failure"  # runs when a job raised or its worker died mid-job
RETRIES = 1  # a job whose worker died (or that raised) runs once more before the user is told it failed
CLAIM_TTL_SECONDS = 24 * 3600  # a queued question's claim: duplicates later than this would be answered again
CLAIM_LEASE_S = 120  # a claim whose question is not queued by then lapses (its bot died)
QUEUE_LEASE_S = 15  # from the renewal just before enqueueing: enqueue and confirmation must land in time
NOT_QUEUED = "I could not queue your question: the job queue is unavailable. Please try again shortly."

# Lua, so that each check and change is one atomic step in Redis
_RENEW = """local v = redis.call('GET', KEYS[1])
if v == ARGV[1] or not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0"""
_CONFIRM = """if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1 end
return 0"""
_WITHDRAW = """local v = redis.call('GET', KEYS[1])
if v == ARGV[1] or v == ARGV[2] then redis.call('DEL', KEYS[1]) return 1 end
return 0"""


class QueueUnavailableError(Exception):
    """Redis could not be reached, or too late: the question is not queued and will not be answered."""


@dataclass(frozen=True)
class Claim:
    job_id: str
    token: str

    @property
    def key(self) -> str:
        return claim_key(self.job_id)

    @property
    def pending(self) -> str:
        return f"pending:{self.token}"

    @property
    def queued(self) -> str:
        return f"queued:{self.token}"


def claim_key(job_id: str) -> str:
    return f"chatops:claim:{job_id}"


def question_queue(connection: Redis, name: str = defaults.QUEUE_NAME) -> Queue:
    return Queue(name, connection=connection, serializer=JSONSerializer)


def claim_question(connection: Redis, job_id: str, *, lease_s: int = CLAIM_LEASE_S) -> Claim | None:
    """Claim a question before showing progress: only the first delivery gets a Claim, the others None.
    Raises RedisError when Redis cannot be reached (then nothing was claimed that outlives the lease)."""
    claim = Claim(job_id, secrets.token_hex(8))
    if connection.set(claim.key, claim.pending, nx=True, px=lease_s * 1000):
        return claim
    current = connection.get(claim.key)  # a retry of our own SET, whose first reply was lost, finds it ours
    return claim if current is not None and _text(current) == claim.pending else None


def queue_question(queue: Queue, job: QuestionJob, claim: Claim, *, timeout: int = defaults.JOB_TIMEOUT_S,
                   result_ttl: int = 86400) -> Job:
    """Renew the claim, enqueue ``job`` (which must carry ``claim.token``) and confirm it.

    Raises QueueUnavailableError when that could not be done; the claim has then been withdrawn, or has
    lapsed, so no worker will answer the job even if Redis carries out a command of ours later."""
    connection = queue.connection
    try:
        renewed = connection.eval(_RENEW, 1, claim.key, claim.pending, QUEUE_LEASE_S * 1000)
    except RedisError as error:
        raise QueueUnavailableError(f"could not renew the claim of {claim.job_id}: {error}") from error
    lease_ends = time.monotonic() + QUEUE_LEASE_S  # the renewal landed before its reply came back
    if not renewed:
        raise QueueUnavailableError(f"the claim of {claim.job_id} is held by another delivery")
    try:
        queued = enqueue_question(queue, job, claim.job_id, timeout=timeout, result_ttl=result_ttl)
        if queued is None:  # this id is taken: by an attempt of ours whose reply was lost, or a stale job
            queued = _own_job(queue, claim) or enqueue_question(queue, job, claim.job_id, timeout=timeout,
                                                                 result_ttl=result_ttl)
        confirmed = queued is not None and connection.eval(_CONFIRM, 1, claim.key, claim.pending, claim.queued,
                                                           CLAIM_TTL_SECONDS)
    except RedisError as error:
        withdraw_question(connection, claim, until=lease_ends)
        raise QueueUnavailableError(f"could not queue {claim.job_id}: {error}") from error
    if queued is None or not confirmed:
        withdraw_question(connection, claim, until=lease_ends)
        raise QueueUnavailableError(f"{claim.job_id} could not be queued and confirmed in time")
    return queued


def _own_job(queue: Queue, claim: Claim) -> Job | None:
    """The job queued under the claim's id when it is ours; one left by an earlier, withdrawn delivery
    (another token: no worker would answer it) is deleted, so that ours can take its place."""
    try:
        existing = Job.fetch(claim.job_id, connection=queue.connection, serializer=queue.serializer)
    except NoSuchJobError:
        return None
    if existing.args and existing.args[0].get("claim_token") == claim.token:
        return existing
    log.info("job %s was left by a withdrawn delivery: replacing it", claim.job_id)
    existing.delete()
    return None


def withdraw_question(connection: Redis, claim: Claim, *, until: float) -> bool:
    """Delete the claim (pending or queued under this token), trying again while Redis cannot be reached,
    until ``until`` (``time.monotonic()``): a claim still pending then has lapsed by itself. True when
    Redis confirmed the withdrawal."""
    try:
        until_redis_answers(lambda: connection.eval(_WITHDRAW, 1, claim.key, claim.pending, claim.queued),
                            what=f"withdrawing {claim.job_id}", give_up=lambda: time.monotonic() > until,
                            logger=log)
    except RedisError:
        return False
    return True


def wait_until_queued(connection: Redis, job_id: str, token: str, *, timeout_s: float = QUEUE_LEASE_S + 1) -> bool:
    """For a worker about to answer: True when the bot confirmed the job (``queued:<token>``). While the
    claim is still pending (the confirmation is on its way) this waits, ``timeout_s`` at most; a claim
    that is gone or another's means the question was withdrawn: False."""
    deadline = time.monotonic() + timeout_s
    key = claim_key(job_id)
    while True:
        value = connection.get(key)
        state = _text(value) if value is not None else ""
        if state == f"queued:{token}":
            return True
        if state != f"pending:{token}" or time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def enqueue_question(
    queue: Queue, job: QuestionJob, job_id: str, *, timeout: int = defaults.JOB_TIMEOUT_S,
    result_ttl: int = 86400
) -> Job | None:
    """Enqueue ``job`` under ``job_id``; returns None when that id is already queued or done. (The bot goes
    through ``queue_question``; a job without a claim token is answered without looking for a claim.)"""
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


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
