"""The job payload: what the bot tells the worker about a question. JSON only, no secrets."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

MODES = ("ask", "runbook", "logs")
_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class QuestionJob:
    """One question to answer. Tokens and secrets never go in here: the worker has its own."""

    question: str
    channel: str
    user: str
    mode: str = "ask"  # "ask" | "runbook" | "logs"
    # "mention" | "dm" | "thread" | "command" | "shortcut" | "cli", or "assistant": asked in an AI-app assistant
    # thread, where progress shows in the thread's status line instead of a placeholder message
    source: str = "mention"
    thread_ts: str | None = None  # thread to answer in (None: answer in the channel, e.g. /ask)
    placeholder_ts: str | None = None  # the bot's "working on it" message, edited into the answer
    response_url: str | None = None  # slash commands: where to answer when the bot cannot post
    file_ids: tuple[str, ...] = field(default=())
    context_channel: str | None = None  # "assistant" threads: the channel the user is viewing (its documents are read)
    claim_token: str | None = None  # the bot's claim (jobs/enqueue.py): answered only once it says queued

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["file_ids"] = list(self.file_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuestionJob:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["file_ids"] = tuple(values.get("file_ids") or ())
        return cls(**values)


def job_id_for(*parts: str | None) -> str:
    """A deterministic RQ job id from the parts of a Slack event that identify the question.

    RQ accepts letters, digits, '-' and '_': every other character becomes '_'. Both twin events of a
    mention (``app_mention`` and ``message``) carry the same channel and message ts, and Slack retries
    carry the same ones too, so both map to one id.
    """
    raw = "-".join(p for p in parts if p)
    return "q-" + _JOB_ID_UNSAFE.sub("_", raw)[:200]
