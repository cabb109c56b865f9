"""Fixtures of the CLaRa tests: tiny checkpoints (built once per session), loaded models, a Redis db."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tiny_checkpoint

from worker.clara.checkpoint import ClaraModel, load_clara

REDIS_URL = os.environ.get("CHATOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture(scope="session")
def tiny_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return tiny_checkpoint.make_all(tmp_path_factory.mktemp("clara"))


@pytest.fixture(scope="session")
def load(tiny_paths: dict[str, Path]) -> Callable[[str], ClaraModel]:
    """``load("e2e-16")``: a freshly loaded tiny model (cheap: tests may change its adapters)."""

    def _load(name: str) -> ClaraModel:
        return load_clara(tiny_paths[name], tiny_paths["base_model"], "cpu")

    return _load


@pytest.fixture(scope="session")
def e2e16(load: Callable[[str], ClaraModel]) -> ClaraModel:
    """A shared E2E compression-16 model: tests must leave its weights as they found them."""
    return load("e2e-16")


@pytest.fixture
def redis_db() -> Iterator[object]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
