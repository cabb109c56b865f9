"""Helpers shared by the reliability tests (not fixtures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.fake_slack import BOT_USER_ID, FakeSlack

CHANNEL = "C1"
REPO = Path(__file__).resolve().parents[2]


def mention_event(slack: FakeSlack, text: str, channel: str = CHANNEL, **extra: str) -> dict[str, Any]:
    """Post the user's message in the fake workspace and return the ``app_mention`` event Slack would send."""
    message = slack.add_message(channel, text)
    return {"type": "app_mention", "user": "U1", "text": text, "ts": message["ts"], "channel": channel,
            "event_ts": message["ts"], **extra}


def bot_messages(slack: FakeSlack, channel: str = CHANNEL, thread_ts: str | None = None) -> list[dict[str, Any]]:
    """The bot's messages in a channel (or one thread of it), as the workspace holds them now."""
    return [m for m in slack.state.messages.get(channel, []) if m.get("user") == BOT_USER_ID
            and (thread_ts is None or m.get("thread_ts") == thread_ts)]


def python(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.Popen[bytes]:
    """A Python subprocess of this venv, run from the repository root; no metrics server unless ``env``
    names a port (several processes run at once)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "CHATOPS_METRICS_PORT": "0", **(env or {})}
    return subprocess.Popen([sys.executable, *args], cwd=REPO, env=full_env, **kwargs)
