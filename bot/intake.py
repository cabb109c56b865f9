"""From a Slack question to a queued job: claim it once, show progress, enqueue it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.metrics import BotMetrics
from bot.questions import USAGE
from jobs.enqueue import claim_question, enqueue_question, release_claim
from jobs.payload import QuestionJob
from jobs.slack_text import PROGRESS_EMOJI, escape_mrkdwn
from jobs.threads import remember_bot_thread

log = logging.getLogger(__name__)

WORKING = f"{PROGRESS_EMOJI} Looking through the documents…"
WORKING_STATUS = "is looking through the documents…"  # an assistant thread's status line
QUEUE_DOWN = (":warning: I could not queue your question: the job queue is unavailable. "
              "Please try again shortly.")


@dataclass
class QuestionIntake:
    redis: Redis
    queue: Queue
    job_timeout: int  # seconds
    max_question_chars: int
    metrics: BotMetrics = field(default_factory=BotMetrics)

    def submit(self, client: WebClient, job: QuestionJob, job_id: str,
               respond: Callable[..., object] | None = None) -> str | None:
        """Claim, show progress and enqueue; returns the job id, or None when nothing was queued.

        ``respond`` (slash commands) answers privately when the question cannot be taken.
        """
        if not self.claim(job_id):
            log.info("question %s already claimed: duplicate delivery", job_id)
            return None
        self.metrics.received.labels(job.mode, job.source).inc()
        problem = self._problem_with(job)
        if problem:
            log.info("question %s not queued: %s", job_id, problem.splitlines()[0])
            self._tell(client, job, problem, respond)
            return None
        placeholder_ts = self._show_progress(client, job)
        job = replace(job, placeholder_ts=placeholder_ts)
        try:
            queued = enqueue_question(self.queue, job, job_id, timeout=self.job_timeout)
        except RedisError:
            log.exception("could not enqueue question %s", job_id)
            self._release(job_id)
            self._replace_placeholder(client, job, QUEUE_DOWN, respond)
            return None
        if queued is None:  # already queued (the claim was lost, e.g. Redis fell back): one placeholder only
            self._delete_placeholder(client, job)
            return None
        log.info("queued question %s (%s, %s) from %s in %s", job_id, job.source, job.mode, job.user,
                 job.channel)
        return job_id

    def claim(self, job_id: str) -> bool:
        try:
            return claim_question(self.redis, job_id)
        except RedisError:
            log.exception("Redis unavailable while claiming %s; taking it anyway", job_id)
            return True

    def _release(self, job_id: str) -> None:
        try:
            release_claim(self.redis, job_id)
        except RedisError:
            log.warning("could not release claim %s", job_id)

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

    def _delete_placeholder(self, client: WebClient, job: QuestionJob) -> None:
        if not job.placeholder_ts:
            return
        try:
            client.chat_delete(channel=job.channel, ts=job.placeholder_ts)
        except SlackClientError as error:
            log.warning("could not delete the duplicate placeholder in %s: %s", job.channel, error)

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
