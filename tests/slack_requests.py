"""Requests as Slack sends them to the app: Events API and slash-command bodies, signed with the app's
signing secret (v0 HMAC-SHA256 over timestamp and body). Shared by the tests and ``bench/load_test.py``."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

SIGNING_SECRET = "test-signing-secret"


def sign(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Headers of a request signed the way Slack signs them."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"x-slack-signature": f"v0={digest}", "x-slack-request-timestamp": ts}


def event_body(event: dict[str, Any], event_id: str = "Ev001") -> str:
    return json.dumps({
        "token": "legacy", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback",
        "event_id": event_id, "event_time": int(time.time()), "event": event,
        "authorizations": [{"team_id": "T0001", "user_id": "UBOT", "is_bot": True}],
    })


def command_body(command: str, text: str, channel: str = "C1", user: str = "U1",
                 trigger_id: str = "1337.42.abc", response_url: str = "") -> str:
    return urlencode({
        "token": "legacy", "team_id": "T0001", "channel_id": channel, "channel_name": "ops",
        "user_id": user, "user_name": "alice", "command": command, "text": text,
        "response_url": response_url, "trigger_id": trigger_id, "api_app_id": "A0001",
    })
