"""Typed access to lists in Slack Web API responses."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.slack_response import SlackResponse


def response_items(response: SlackResponse, key: str) -> list[dict[str, Any]]:
    """``response[key]`` as a list of objects; missing or malformed: empty."""
    value = response.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
