"""From a Slack question to a queued job: claim it once, show progress, enqueue it.

Listeners ack at once and hand the question over (``submit``); the Redis and Slack calls happen on the
intake's own threads, so a Redis that stalls holds none of Bolt's listener threads and every request is
still acked within Slack's 3 seconds. When Redis is slow or down the user is told plainly, and a question
they were told failed is never answered later (the claim protocol in jobs/enqueue.py).

The question is redacted (jobs/redact.py) before it is echoed, stored in the job payload or logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.metrics import BotMetrics
from bot.questions import USAGE
from jobs.enqueue import NOT_QUEUED, QueueUnavailableError, claim_question, queue_question
from jobs.payload import QuestionJob
from jobs.redact import redact_secrets
from jobs.slack_text import PROGRESS_EMOJI, escape_mrkdwn
from jobs.threads import is_bot_thread, remember_bot_thread

log = logging.getLogger(__name__)

WORKING = f"{PROGRESS_EMOJI} Looking through the documents…"
WORKING_STATUS = "is looking through the documents…"  # an assistant thread's status line
QUEUE_DOWN = f":warning: {NOT_QUEUED}"


@dataclass
class QuestionIntake:
    redis: Redis
    queue: Queue
    job_timeout: int  # seconds
    max_question_chars: int
    executor: Executor  # where questions are taken: not Bolt's listener threads
    metrics: BotMetrics = field(default_factory=BotMetrics)

    def submit(self, client: WebClient, job: QuestionJob, job_id: str,
               respond: Callable[..., object] | None = None, *, bot_thread_of: str | None = None) -> None:
        """Take the question on an intake thread; returns at once. ``respond`` (slash commands) answers
        privately when the question cannot be taken; ``bot_thread_of`` (a follow-up in a thread: the bot's
        user id): take it only if the bot takes part in that thread."""
        future = self.executor.submit(self.take, client, job, job_id, respond, bot_thread_of=bot_thread_of)

        def log_failure(done: Future[str | None]) -> None:
            if done.exception() is not None:
                log.error("question %s: intake failed", job_id, exc_info=done.exception())

        future.add_done_callback(log_failure)

    def take(self, client: WebClient, job: QuestionJob, job_id: str,
             respond: Callable[..., object] | None = None, *, bot_thread_of: str | None = None) -> str | None:
        """Claim, show progress and enqueue; returns the job id, or None when nothing was queued."""
        if bot_thread_of is not None and not self._in_bot_thread(client, job, bot_thread_of):
            return None
        problem = self._problem_with(job)
        job = replace(job, question=redact_secrets(job.question))
        try:
            claim = claim_question(self.redis, job_id)
        except RedisError as error:
            log.error("Redis unavailable while claiming %s (%s): telling the user", job_id, error)
            self._tell(client, job, QUEUE_DOWN, respond)
            return None
        if claim is None:
            log.info("question %s already claimed: duplicate delivery", job_id)
            return None
        self.metrics.received.labels(job.mode, job.source).inc()
        if problem:
            log.info("question %s not queued: %s", job_id, problem.splitlines()[0])
            self._tell(client, job, problem, respond)
            return None
        job = replace(job, placeholder_ts=self._show_progress(client, job), claim_token=claim.token)
        try:
            queue_question(self.queue, job, claim, timeout=self.job_timeout)
        except QueueUnavailableError as error:
            log.error("question %s not queued: %s", job_id, error)
            self._replace_placeholder(client, job, QUEUE_DOWN, respond)
            return None
        log.info("queued question %s (%s, %s) from %s in %s", job_id, job.source, job.mode, job.user,
                 job.channel)
        return job_id

    def _in_bot_thread(self, client: WebClient, job: QuestionJob, bot_user_id: str) -> bool:
        """The bot takes part in the question's thread: Redis remembers; when Redis cannot say, the thread
        itself (a message of the bot in it) does, so a follow-up is answered (or told the queue is down)."""
        thread = str(job.thread_ts)
        try:
            return is_bot_thread(self.redis, job.channel, thread)
        except RedisError as error:
            log.warning("Redis unavailable for the thread check of %s in %s (%s): asking Slack", thread,
                        job.channel, error)
        try:
            replies = client.conversations_replies(channel=job.channel, ts=thread, limit=200)
        except SlackClientError as error:
            log.error("cannot tell whether %s in %s is a bot thread: %s", thread, job.channel, error)
            return False
        messages = replies.get("messages")
        return isinstance(messages, list) and any(
            isinstance(message, dict) and message.get("user") == bot_user_id for message in messages)

    def _problem_with(self, job: QuestionJob) -> str | None:
        if not job.question.strip() and not job.file_ids:
            return USAGE
        if len(job.question) > self.max_question_chars:
            return (f":warning: That question is {len(job.question):,} characters long; I take up to "
                    f"{self.max_question_chars:,}. Put long text in a file in the thread and ask about it.")
        return None

    def _show_progress(self, client: WebClient, job: QuestionJob) -> str | None:
        """An assistant thread's status line where it takes one, else a placeholder message (its ts)."""
        if job.source == "assistant" and job.thread_ts:
            try:
                client.assistant_threads_setStatus(channel_id=job.channel, thread_ts=job.thread_ts,
                                                   status=WORKING_STATUS)
                return None
            except SlackApiError as error:  # not an assistant thread after all (a plain DM thread)
                log.info("no assistant status in %s (%s): posting a placeholder", job.channel,
                         error.response.get("error"))
            except (SlackClientError, OSError) as error:
                log.warning("could not set the assistant status in %s: %s", job.channel, type(error).__name__)
        return self._post_placeholder(client, job)

    def _post_placeholder(self, client: WebClient, job: QuestionJob) -> str | None:
        text = WORKING
        if job.source == "command":
            text = f"<@{job.user}> asked (`/{_command_name(job)}`): {escape_mrkdwn(job.question)}\n{WORKING}"
        try:
            response = client.chat_postMessage(channel=job.channel, thread_ts=job.thread_ts, text=text)
        except SlackApiError as error:
            log.warning("could not post the placeholder in %s: %s", job.channel, error.response.get("error"))
            return None
        except (SlackClientError, OSError) as error:  # timeout, connection lost: queue the question anyway
            log.warning("could not post the placeholder in %s: %s", job.channel, type(error).__name__)
            return None
        ts = response.get("ts")
        thread_root = job.thread_ts or ts
        if thread_root:
            try:
                remember_bot_thread(self.redis, job.channel, thread_root)
            except RedisError:
                log.warning("could not remember thread %s in %s", thread_root, job.channel)
        return str(ts) if ts else None

    def _tell(self, client: WebClient, job: QuestionJob, text: str,
              respond: Callable[..., object] | None) -> None:
        try:
            if respond is not None:
                respond(text=text, response_type="ephemeral")
            else:
                client.chat_postMessage(channel=job.channel, thread_ts=job.thread_ts, text=text)
        except SlackApiError as error:
            log.warning("could not tell %s in %s: %s", job.user, job.channel, error.response.get("error"))

    def _replace_placeholder(self, client: WebClient, job: QuestionJob, text: str,
                             respond: Callable[..., object] | None) -> None:
        if job.placeholder_ts:
            try:
                client.chat_update(channel=job.channel, ts=job.placeholder_ts, text=text)
                return
            except SlackApiError as error:
                log.warning("could not update placeholder: %s", error.response.get("error"))
        self._tell(client, job, text, respond)


def _command_name(job: QuestionJob) -> str:
    return {"ask": "ask", "runbook": "runbook", "logs": "logs"}[job.mode]
