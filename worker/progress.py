"""Where a question's progress shows while the worker answers it ("reading 12 documents…").

In an AI-app assistant thread, the thread's status line (``assistant.threads.setStatus``; Slack clears
it when the answer is posted); elsewhere, the bot's placeholder message, edited at most once every
``PLACEHOLDER_EDIT_INTERVAL_S`` (counting from when the job started), so a quick answer is not preceded by
a flicker of edits, and a slow one (CLaRa, many files) does not spend Slack's rate limit on them.
Progress is best effort: a Slack error is logged and the answer goes on.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from jobs.payload import QuestionJob
from jobs.slack_text import PROGRESS_EMOJI

log = logging.getLogger(__name__)

PLACEHOLDER_EDIT_INTERVAL_S = 5.0  # quick answers (most, with the default engine) show no progress edit at all


class Progress(Protocol):
    def update(self, text: str) -> None:
        """Show ``text`` (short, lower case, ending in "…") as what is happening now."""
        ...


class NoProgress:
    """For the CLI and anywhere nobody watches."""

    def update(self, text: str) -> None:
        pass


class AssistantStatus:
    """The status line of an assistant thread, which Slack shows after the app's name: "chatops is
    reading 12 documents…"."""

    def __init__(self, client: WebClient, channel: str, thread_ts: str) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts

    def update(self, text: str) -> None:
        try:
            self.client.assistant_threads_setStatus(channel_id=self.channel, thread_ts=self.thread_ts,
                                                    status=f"is {text}")
        except (SlackClientError, OSError) as error:
            log.warning("could not set the assistant status in %s: %s", self.channel, error)


class PlaceholderProgress:
    """The bot's placeholder message, edited into ":hourglass_flowing_sand: Reading 12 documents…"."""

    def __init__(self, client: WebClient, channel: str, placeholder_ts: str,
                 min_interval_s: float = PLACEHOLDER_EDIT_INTERVAL_S) -> None:
        self.client = client
        self.channel = channel
        self.placeholder_ts = placeholder_ts
        self.min_interval_s = min_interval_s
        self._last = time.monotonic()

    def update(self, text: str) -> None:
        now = time.monotonic()
        if now - self._last < self.min_interval_s:
            return
        self._last = now
        try:
            self.client.chat_update(channel=self.channel, ts=self.placeholder_ts,
                                    text=f"{PROGRESS_EMOJI} {text[:1].upper()}{text[1:]}")
        except (SlackClientError, OSError) as error:
            log.warning("could not show progress in %s: %s", self.channel, error)


def progress_for(client: WebClient, job: QuestionJob,
                 min_interval_s: float = PLACEHOLDER_EDIT_INTERVAL_S) -> Progress:
    """The status line of an assistant thread, else the placeholder if there is one, else nothing."""
    if job.placeholder_ts:
        return PlaceholderProgress(client, job.channel, job.placeholder_ts, min_interval_s)
    if job.source == "assistant" and job.thread_ts:
        return AssistantStatus(client, job.channel, job.thread_ts)
    return NoProgress()
