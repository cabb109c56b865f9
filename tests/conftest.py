"""Shared fixtures: a real Redis database per test, the fake Slack Web API, the default engine, runbooks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from tests.fake_slack import FakeSlack
from tests.helpers import CHANNEL, worker_context
from tests.runbooks import write_runbooks
from worker.engine.default import ExtractiveEngine

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


@pytest.fixture
def world(slack: FakeSlack, redis: Redis, engine: ExtractiveEngine, runbooks: Path) -> Iterator[FakeSlack]:
    """The fake workspace (channel C1 and a DM D1, with user U1), and this process set up as a worker with
    the default engine."""
    slack.add_channel(CHANNEL, "ops", members={"U1"})
    slack.add_channel("D1", "dm", is_im=True, members={"U1"})
    with worker_context(slack, redis, engine, runbooks):
        yield slack
