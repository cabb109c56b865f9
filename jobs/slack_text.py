"""Text that goes into Slack messages from both processes."""

from __future__ import annotations

PROGRESS_EMOJI = ":hourglass_flowing_sand:"  # starts every "working on it" text: the placeholder and its updates


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's control characters, so user or document text cannot ping @channel or fake links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
