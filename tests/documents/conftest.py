"""Shared fixtures: a fake Slack workspace (real WebClient), a loopback page server, runbooks, settings."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

from tests.fake_pages import FakePages
from tests.fake_slack import BOT_TOKEN, FakeSlack
from worker.documents.settings import GatheringSettings

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE_LOG = Path(__file__).parents[2] / "examples" / "logs" / "checkout-api.log"

PUBLIC = "C0PUBLIC01"  # #ops, public: U1, U2
PRIVATE = "G0PRIVATE1"  # #sec-incident, private: U1 only
OTHER_PUBLIC = "C0PUBLIC02"  # #random, public
DM_U1 = "D0DMUSER01"  # U1 <-> bot
DM_U2 = "D0DMUSER02"  # U2 <-> bot


@pytest.fixture(scope="session")
def _slack_server() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def slack(_slack_server: FakeSlack) -> FakeSlack:
    """The fake workspace, emptied and filled with the channels above for each test."""
    fake = _slack_server
    fake.reset()
    fake.add_channel(PUBLIC, "ops", members={"U1", "U2"})
    fake.add_channel(OTHER_PUBLIC, "random", members={"U1", "U2"})
    fake.add_channel(PRIVATE, "sec-incident", private=True, members={"U1"})
    fake.add_channel(DM_U1, "dm-u1", is_im=True, members={"U1"})
    fake.add_channel(DM_U2, "dm-u2", is_im=True, members={"U2"})
    return fake


def now_ts() -> str:
    """A message timestamp of now (the fake's own timestamps are in 2023, older than any recent window)."""
    return f"{time.time():.6f}"


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url)


@pytest.fixture
def pages() -> Iterator[FakePages]:
    with FakePages(slow_s=3.0, huge_bytes=3_000_000) as server:
        yield server


@pytest.fixture
def runbook_dir(tmp_path: Path) -> Path:
    target = tmp_path / "runbooks"
    shutil.copytree(FIXTURES / "runbooks", target)
    return target


@pytest.fixture
def settings(runbook_dir: Path, pages: FakePages) -> GatheringSettings:
    return GatheringSettings(
        runbook_dir=runbook_dir, link_allowlist=(pages.host,), fetch_timeout_s=0.5, max_page_bytes=50_000,
        download_timeout_s=3.0, max_file_bytes=1_000_000, max_scan_bytes=50_000_000,
    )


def words(text: str) -> int:
    """A stand-in token counter: whitespace-separated words."""
    return len(text.split())
