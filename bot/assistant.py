"""Slack's AI-app surface (Agents & AI Apps): assistant threads through bolt-python's ``Assistant``.

* a thread starts (``assistant_thread_started``) or the user moves to another channel while it is open
  (``assistant_thread_context_changed``): the thread's context, the channel the user is viewing, is kept in
  Redis and the suggested prompts are set for it ("What does this log say failed?" when that channel has
  recent log uploads);
* the user asks (a ``message.im`` in the thread): the same claim and job as any question, with
  ``source="assistant"`` and the viewed channel as ``context_channel`` (its documents are read, under the
  permission rules of a DM); progress shows in the thread's status line, set by the bot at once and by the
  worker as it goes, and the answer is posted in the thread.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from slack_bolt import Assistant, BoltContext, SetSuggestedPrompts
from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.store import AssistantThreadContextStore
from slack_bolt.context.get_thread_context import GetThreadContext
from slack_bolt.context.save_thread_context import SaveThreadContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.intake import QuestionIntake
from bot.listeners import LOG_SUFFIXES
from bot.questions import file_ids, message_question
from jobs.payload import QuestionJob, job_id_for
from jobs.threads import THREAD_TTL_SECONDS

log = logging.getLogger(__name__)

RECENT_LOGS_WINDOW_S = 7 * 86400  # log uploads this recent suggest the log prompt
LOG_PROMPT = {"title": "What does this log say failed?",
              "message": "What does the latest log uploaded in this channel say failed, and where should I look "
                         "first?"}
GENERAL_PROMPTS = [
    {"title": "Which runbook covers this?",
     "message": "Which runbook covers high latency or errors for this service, and what are its first steps?"},
    {"title": "What should I check first?",
     "message": "The service is down: what should I check first according to the runbooks?"},
    {"title": "How do I roll back a deploy?", "message": "How do I roll back the last deploy?"},
]


class RedisThreadContextStore(AssistantThreadContextStore):
    """Assistant thread contexts in Redis (Bolt's default keeps them in message metadata, one
    ``conversations.replies`` call per question)."""

    def __init__(self, redis: Redis, ttl: int = THREAD_TTL_SECONDS) -> None:
        self.redis = redis
        self.ttl = ttl

    @staticmethod
    def _key(channel_id: str, thread_ts: str) -> str:
        return f"chatops:assistant-context:{channel_id}:{thread_ts}"

    def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        try:
            self.redis.set(self._key(channel_id, thread_ts), json.dumps(context), ex=self.ttl)
        except RedisError as error:  # the question is still answered, from the DM's own documents
            log.warning("could not save the context of assistant thread %s: %s", thread_ts, error)

    def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        try:
            raw = self.redis.get(self._key(channel_id, thread_ts))
        except RedisError as error:
            log.warning("could not read the context of assistant thread %s: %s", thread_ts, error)
            return None
        if raw is None:
            return None
        data = json.loads(raw)
        return AssistantThreadContext(data) if data.get("channel_id") else None


def suggested_prompts(client: WebClient, channel: str | None) -> list[dict[str, str]]:
    """Up to four prompts: the log prompt first when ``channel`` has recent log uploads the bot can see."""
    prompts = list(GENERAL_PROMPTS)
    if channel and has_recent_logs(client, channel):
        prompts.insert(0, LOG_PROMPT)
    return prompts[:4]


def has_recent_logs(client: WebClient, channel: str) -> bool:
    since = int(time.time()) - RECENT_LOGS_WINDOW_S
    try:
        listing = client.files_list(channel=channel, ts_from=str(since), count=20)
    except (SlackClientError, OSError) as error:  # a channel the bot cannot read: no log prompt
        log.info("no log prompt for %s: %s", channel, error)
        return False
    return any(str(f.get("name") or "").lower().endswith(LOG_SUFFIXES) for f in listing.get("files") or [])


def build_assistant(intake: QuestionIntake) -> Assistant:
    assistant = Assistant(thread_context_store=RedisThreadContextStore(intake.redis),
                          logger=logging.getLogger("bot.assistant"))

    def offer_prompts(client: WebClient, set_suggested_prompts: SetSuggestedPrompts,
                      context: dict[str, Any]) -> None:
        channel = context.get("channel_id")
        try:
            set_suggested_prompts(prompts=suggested_prompts(client, channel),
                                  title="Ask about this channel" if channel else "Ask about your runbooks")
        except SlackApiError as error:
            log.warning("could not set suggested prompts: %s", error.response.get("error"))

    @assistant.thread_started
    def on_thread_started(event: dict[str, Any], client: WebClient, save_thread_context: SaveThreadContext,
                          set_suggested_prompts: SetSuggestedPrompts) -> None:
        context = event["assistant_thread"].get("context") or {}
        if context.get("channel_id"):
            save_thread_context(context)
        offer_prompts(client, set_suggested_prompts, context)

    @assistant.thread_context_changed
    def on_context_changed(event: dict[str, Any], client: WebClient, save_thread_context: SaveThreadContext,
                           set_suggested_prompts: SetSuggestedPrompts) -> None:
        context = event["assistant_thread"].get("context") or {}
        save_thread_context(context)
        offer_prompts(client, set_suggested_prompts, context)

    @assistant.user_message
    def on_user_message(event: dict[str, Any], context: BoltContext, client: WebClient,
                        get_thread_context: GetThreadContext) -> None:
        thread_context = get_thread_context()
        job = QuestionJob(
            question=message_question(event, context.bot_user_id), channel=event["channel"],
            user=event.get("user", ""), source="assistant", thread_ts=event["thread_ts"], file_ids=file_ids(event),
            context_channel=thread_context.channel_id if thread_context else None,
        )
        intake.submit(client, job, job_id_for(event["channel"], event["ts"]))

    return assistant
