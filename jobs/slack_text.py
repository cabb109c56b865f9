"""Text that goes into Slack messages from both processes."""

from __future__ import annotations


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's control characters, so user or document text cannot ping @channel or fake links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
