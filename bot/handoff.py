"""The "Ask a human" button: bring the channel's on-call user group into the answer's thread.

The group comes from the channel config (``oncall: "@payments-oncall"``), resolved to its id with
``usergroups.list``. The ping quotes the question and the sources the answer listed, in the same thread
(so it shows nothing the thread's readers did not already see). Refused, with the reason, to the clicker
alone: in a direct message (nobody else could read the thread), where no group is configured or it does not
exist, and when it would spam: one ping per thread per ``cooldown_s`` and at most ``per_hour`` per channel.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.metrics import BotMetrics
from jobs.answer_actions import ASK_HUMAN
from jobs.channel_config import ChannelConfigFile
from jobs.feedback import AnswerRecord, answer_record
from jobs.slack_text import escape_mrkdwn

log = logging.getLogger(__name__)

_GROUP_ID = re.compile(r"S[A-Z0-9]{6,20}")
GROUPS_TTL_S = 600  # usergroups.list answers are reused this long
MAX_QUESTION_CHARS = 500

IN_A_DM = ("I cannot bring anyone into a direct message: nobody else can read it. Ask in your team's channel, "
           "where the on-call people can see the question and the answer.")
NOT_CONFIGURED = ("No on-call group is configured for <#{channel}>, so I did not ping anyone. An admin can add one "
                  "in the channels file (`oncall: \"@team-oncall\"`); meanwhile, page the on-call person directly.")
UNKNOWN_GROUP = ("The on-call group `{group}` configured for <#{channel}> does not exist in this workspace, so I "
                 "did not ping anyone. Please tell an admin; meanwhile, page the on-call person directly.")
ALREADY_ASKED = "{group} was already asked to join this thread {ago}: I did not ping them again."
TOO_MANY = ("I already pinged the on-call group of <#{channel}> {count} in the last hour, as often as I do: page "
            "them directly if it is urgent.")
UNKNOWN_ANSWER = "I no longer know that answer, so I cannot hand it over: ask the on-call people directly."
UNAVAILABLE = "I could not hand this over just now (Redis is unavailable): page the on-call person directly."
CANNOT_POST = "I could not post in this channel ({error}): page the on-call person directly."
DONE = "I asked {group} to join this thread."


@dataclass
class HandOff:
    redis: Redis
    channel_config: ChannelConfigFile | None
    metrics: BotMetrics
    cooldown_s: int = 1800
    per_hour: int = 6
    _groups: dict[str, str] = field(default_factory=dict)  # handle -> id
    _groups_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_click(self, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond) -> None:
        outcome, text = self.hand_off(client, action["value"], body["user"]["id"], body["channel"]["id"],
                                      body["container"]["message_ts"])
        self.metrics.handoffs.labels(outcome).inc()
        log.info("hand-off of %s by %s: %s", action["value"], body["user"]["id"], outcome)
        respond(text=text, response_type="ephemeral", replace_original=False)

    def hand_off(self, client: WebClient, answer_id: str, user: str, channel: str,
                 message_ts: str) -> tuple[str, str]:
        """(outcome, what to tell the clicker)."""
        if channel.startswith("D"):
            return "direct_message", IN_A_DM
        try:
            record = answer_record(self.redis, answer_id)
        except RedisError as error:
            log.warning("hand-off of %s: %s", answer_id, error)
            return "redis_unavailable", UNAVAILABLE
        if record is None or record.channel != channel:
            return "unknown_answer", UNKNOWN_ANSWER
        oncall = self._oncall(client, channel)
        if not oncall:
            return "not_configured", NOT_CONFIGURED.format(channel=channel)
        group_id = self._group_id(client, oncall)
        if group_id is None:
            return "unknown_group", UNKNOWN_GROUP.format(group=escape_mrkdwn(oncall), channel=channel)
        thread = record.thread_ts or message_ts
        try:
            refusal = self._take_slot(channel, thread, oncall)
        except RedisError as error:
            log.warning("hand-off of %s: %s", answer_id, error)
            return "redis_unavailable", UNAVAILABLE
        if refusal:
            return refusal
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread, text=ping_text(group_id, user, record))
        except SlackApiError as error:
            self._release_slot(channel, thread)
            return "post_failed", CANNOT_POST.format(error=error.response.get("error"))
        return "posted", DONE.format(group=escape_mrkdwn(_handle(oncall)))

    def _oncall(self, client: WebClient, channel: str) -> str | None:
        if self.channel_config is None:
            return None
        return self.channel_config.current().oncall_for(channel, lambda c: _channel_name(client, c))

    def _group_id(self, client: WebClient, oncall: str) -> str | None:
        if _GROUP_ID.fullmatch(oncall):
            return oncall  # an id already
        handle = oncall.lstrip("@").lower()
        with self._lock:
            if handle not in self._groups or time.monotonic() - self._groups_at > GROUPS_TTL_S:
                try:
                    groups = client.usergroups_list(include_disabled=False).get("usergroups") or []
                except SlackApiError as error:
                    log.warning("usergroups.list failed: %s", error.response.get("error"))
                    return self._groups.get(handle)
                self._groups = {str(g.get("handle", "")).lower(): str(g["id"]) for g in groups if g.get("id")}
                self._groups_at = time.monotonic()
            return self._groups.get(handle)

    def _take_slot(self, channel: str, thread: str, oncall: str) -> tuple[str, str] | None:
        """None when this ping may go; else (outcome, refusal)."""
        thread_key = f"chatops:handoff:{channel}:{thread}"
        if not self.redis.set(thread_key, str(time.time()), nx=True, ex=self.cooldown_s):
            raw = self.redis.get(thread_key)
            minutes = int((time.time() - float(raw)) // 60) if raw else 0
            ago = "just now" if minutes < 1 else f"{minutes} minute{'s' if minutes != 1 else ''} ago"
            return "rate_limited", ALREADY_ASKED.format(group=escape_mrkdwn(_handle(oncall)), ago=ago)
        hour_key = f"chatops:handoff-count:{channel}:{int(time.time() // 3600)}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(hour_key)
        pipe.expire(hour_key, 3600)
        count = int(pipe.execute()[0])
        if count > self.per_hour:
            self.redis.delete(thread_key)
            times = "once" if self.per_hour == 1 else f"{self.per_hour} times"
            return "rate_limited", TOO_MANY.format(channel=channel, count=times)
        return None

    def _release_slot(self, channel: str, thread: str) -> None:
        try:
            self.redis.delete(f"chatops:handoff:{channel}:{thread}")
        except RedisError:
            log.warning("could not release the hand-off slot of %s in %s", thread, channel)


def ping_text(group_id: str, user: str, record: AnswerRecord) -> str:
    """The mention, the question (escaped: user text cannot ping anyone else) and the sources as listed."""
    question = escape_mrkdwn(record.question[:MAX_QUESTION_CHARS])
    quoted = "\n".join(f"> {line}" for line in question.splitlines() or [""])
    text = f"<!subteam^{group_id}> <@{user}> is asking for a human on this question:\n{quoted}"
    if record.sources:
        text += "\n*What I found:*\n" + "\n".join(record.sources)
    else:
        text += "\nI found no source for it."
    return text


def _handle(oncall: str) -> str:
    """How the clicker is told whom: ``@handle``, or "the on-call group" for an id (never a mention)."""
    if _GROUP_ID.fullmatch(oncall):
        return "the on-call group"
    return "@" + oncall.lstrip("@")


def _channel_name(client: WebClient, channel: str) -> str | None:
    try:
        info = client.conversations_info(channel=channel).get("channel") or {}
    except SlackApiError as error:
        log.warning("conversations.info %s failed: %s", channel, error.response.get("error"))
        return None
    return str(info.get("name")) if info.get("name") else None


def register_handoff(app: App, handoff: HandOff) -> None:
    @app.action(ASK_HUMAN)
    def on_ask_human(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                     respond: Respond) -> None:
        ack()
        handoff.on_click(body, action, client, respond)
