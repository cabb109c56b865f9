"""Progress in the question's placeholder while the worker reads documents it has not indexed yet
("Reading 3 new documents…"): only when reading has taken ``delay_s`` already (a quick read says nothing:
each update is a Slack call the answer would wait for), then at most one ``chat.update`` every
``interval_s`` seconds; failures logged and never raised (the answer still replaces the placeholder)."""

from __future__ import annotations

import logging
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from jobs.payload import QuestionJob

log = logging.getLogger(__name__)


def reading_text(done: int, total: int) -> str:
    noun = "document" if total == 1 else "documents"
    text = f":hourglass_flowing_sand: Reading {total} new {noun}…"
    return text if done == 0 or done >= total else f"{text} ({done} of {total} read)"


class PlaceholderProgress:
    def __init__(self, client: WebClient, job: QuestionJob, delay_s: float = 1.5, interval_s: float = 2.0) -> None:
        self.client = client
        self.job = job
        self.delay_s = delay_s
        self.interval_s = interval_s
        self._started: float | None = None
        self._last = float("-inf")

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self._started is None:
            self._started = now
        if not self.job.placeholder_ts or done >= total:
            return  # the answer replaces the placeholder next
        if now - self._started < self.delay_s or now - self._last < self.interval_s:
            return
        self._last = now
        try:
            self.client.chat_update(channel=self.job.channel, ts=self.job.placeholder_ts,
                                    text=reading_text(done, total))
        except SlackClientError as error:
            log.info("could not show progress in %s: %s", self.job.channel, error)
