"""Shared fixtures: a real Redis database per test, the fake Slack Web API, signed Slack requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from redis import Redis

from tests.fake_slack import BOT_TOKEN, FakeSlack
from worker.engine.default import ExtractiveEngine

SIGNING_SECRET = "test-signing-secret"
REDIS_URL = os.environ.get("CHATOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis() -> Iterator[Redis]:
    """A real Redis connection to a database used only by tests, flushed before and after each test."""
    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except Exception as error:  # pragma: no cover - CI always has Redis (.ci/run starts it)
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {error}")
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture(scope="session")
def engine() -> ExtractiveEngine:
    """The embedded default engine (offline MiniLM), loaded once per test session."""
    return ExtractiveEngine.load()


@pytest.fixture
def runbooks(tmp_path: Path) -> Path:
    return write_runbooks(tmp_path / "runbooks")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def sign(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Headers of a request signed the way Slack signs them (v0 HMAC-SHA256 over timestamp and body)."""
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


def write_runbooks(root: Path) -> Path:
    """Three small runbooks with distinct topics."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "db-failover.md").write_text(
        "# Database failover\n\n## When\nThe primary Postgres database is down or unreachable.\n\n"
        "## Steps\n1. Check replication lag with `patronictl list`.\n"
        "2. Promote the replica: `patronictl switchover --master pg-0 --candidate pg-1`.\n"
        "3. Announce the failover in #incidents.\n")
    (root / "payments-latency.md").write_text(
        "# Payments API latency\n\n## Symptoms\nCheckout is slow and the ingress returns 502.\n\n"
        "## Checks\nLook at the HikariCP connection pool: active connections near 50 means exhaustion.\n"
        "Roll back with `kubectl rollout undo deploy/payments-api`.\n")
    (root / "tls-expiry.md").write_text(
        "# TLS certificate expiry\n\nCheck the expiry date with `openssl s_client -connect host:443`.\n"
        "Renew with cert-manager: `cmctl renew payments-tls`.\n")
    return root


__all__ = ["BOT_TOKEN", "SIGNING_SECRET", "command_body", "event_body", "sign", "write_runbooks"]
