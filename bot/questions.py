"""Turning a Slack message into question text."""

from __future__ import annotations

import re
from typing import Any

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")

FILE_QUESTION = "Summarise this file: what went wrong, where, and what should I check first?"
USAGE = (
    "Ask me a question about this channel's runbooks, files and logs, for example:\n"
    "• `@chatops how do I fail over the primary database?`\n"
    "• `/ask why did checkout return 502s last night?`\n"
    "• `/runbook payments-api high latency` to open the matching runbook section\n"
    "• `/logs what caused the OutOfMemoryError?` to search the log files uploaded here"
)


def question_text(text: str | None, bot_user_id: str | None) -> str:
    """The question without the bot's own mention(s) and surrounding whitespace."""
    text = text or ""
    if bot_user_id:
        text = _MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else m.group(0), text)
    return " ".join(text.split())


def mentions(text: str | None, user_id: str | None) -> bool:
    return bool(text and user_id and any(m == user_id for m in _MENTION.findall(text)))


def file_ids(event: dict[str, Any]) -> tuple[str, ...]:
    """The ids of the files shared with a message."""
    return tuple(f["id"] for f in event.get("files", []) if isinstance(f, dict) and "id" in f)


def message_question(event: dict[str, Any], bot_user_id: str | None) -> str:
    """The question in a message; a file shared with no words asks about the file."""
    return question_text(event.get("text"), bot_user_id) or (FILE_QUESTION if file_ids(event) else "")
