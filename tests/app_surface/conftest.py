"""A workspace for the AI-app surface tests: a channel, a DM, the bot on the fake Slack Web API and a worker
context wired as ``python -m worker`` wires it (every source, metrics, App Home's records), on real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from redis import Redis
from slack_bolt import App, BoltResponse

from bot.metrics import BotMetrics
from tests.fake_slack import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack
from tests.helpers import QUEUE, dispatch, make_bot, queued, run_worker_burst, wait_for
from tests.slack_requests import event_body
from worker.context import WorkerContext, set_context
from worker.documents.settings import GatheringSettings
from worker.engine.default import ExtractiveEngine
from worker.runtime import build_context
from worker.settings import WorkerSettings

CHANNEL = "C0OPS00001"
DM = "D0ALICE001"
ALICE, BOB = "U0ALICE", "U0BOB"


@dataclass
class Workspace:
    slack: FakeSlack
    redis: Redis
    worker: WorkerContext
    runbooks: Path
    bot_metrics: BotMetrics
    app: App
    engine: ExtractiveEngine

    def restart_worker(self, **gathering: Any) -> None:
        """The worker again, with other gathering settings (e.g. a channel config)."""
        self.worker = build_context(worker_settings(self.slack, GatheringSettings(runbook_dir=self.runbooks,
                                                                                  **gathering)),
                                    self.redis, engine=self.engine)
        set_context(self.worker)

    def restart_bot(self, **settings: Any) -> None:
        """The bot again, with other settings (e.g. a channel config)."""
        self.app = make_bot(self.slack, self.redis, self.bot_metrics, **settings)

    def ask(self, text: str, channel: str = CHANNEL, user: str = ALICE) -> dict[str, Any]:
        """A mention in ``channel``, answered by the worker; returns the bot's answer message."""
        message = self.slack.add_message(channel, text, user=user)
        event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}", "ts": message["ts"],
                 "channel": channel, "event_ts": message["ts"]}
        before = queued(self.redis)
        assert dispatch(self.app, event_body(event, f"Ev{message['ts']}")).status == 200
        wait_for(lambda: queued(self.redis) == before + 1, what="the question to be queued")
        run_worker_burst(self.redis)
        [answer] = [m for m in self.slack.thread_messages(channel, message["ts"]) if m.get("user") == BOT_USER_ID]
        return answer

    def click(self, message: dict[str, Any], action_id: str, user: str, channel: str = CHANNEL,
              trigger_id: str = "trigger-1") -> BoltResponse:
        """A signed ``block_actions`` request: ``user`` clicks the button ``action_id`` under ``message``."""
        block, button = next((b, e) for b in message["blocks"] if b["type"] == "actions"
                             for e in b["elements"] if e["action_id"] == action_id)
        payload = {
            "type": "block_actions", "token": "legacy", "api_app_id": "A0001", "trigger_id": trigger_id,
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "team": {"id": TEAM_ID, "domain": "example"},
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel,
                          "is_ephemeral": False},
            "channel": {"id": channel, "name": self.slack.state.channels[channel]["name"]},
            "message": message, "response_url": f"{self.slack.base_url}/response_url/{action_id}-{user}",
            "actions": [{"type": "button", "action_id": action_id, "block_id": block["block_id"],
                         "value": button["value"], "text": button["text"], "action_ts": f"{time.time():.6f}"}],
        }
        return self.interact(payload)

    def interact(self, payload: dict[str, Any]) -> BoltResponse:
        return dispatch(self.app, urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def ephemeral_replies(self, user: str) -> list[str]:
        """What the bot told ``user`` alone through the response_url of their clicks."""
        return [str(c.args.get("text")) for c in self.slack.calls_to("response_url")
                if c.args.get("response_type") == "ephemeral" and c.path.endswith(f"-{user}")]


def worker_settings(slack: FakeSlack, gathering: GatheringSettings) -> WorkerSettings:
    return WorkerSettings(bot_token=BOT_TOKEN, slack_api_url=slack.api_url, queue_name=QUEUE, job_threads=1,
                          gathering=gathering)


@pytest.fixture
def workspace(slack: FakeSlack, redis: Redis, engine: ExtractiveEngine, runbooks: Path) -> Iterator[Workspace]:
    slack.add_channel(CHANNEL, "ops", members={ALICE, BOB})
    slack.add_channel(DM, "alice-dm", is_im=True, members={ALICE})
    worker = build_context(worker_settings(slack, GatheringSettings(runbook_dir=runbooks)), redis, engine=engine)
    set_context(worker)
    metrics = BotMetrics()
    yield Workspace(slack, redis, worker, runbooks, metrics, make_bot(slack, redis, metrics), engine)
    set_context(None)
