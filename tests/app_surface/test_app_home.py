"""App Home: the user's channels with their sources and feedback, the service's state for everyone, within
Block Kit's limits; the worker's records (registration, per-channel source counts) read by the bot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.home import MAX_CHANNELS
from jobs.activity import live_workers
from jobs.answer_actions import VOTE_HELPFUL
from tests.app_surface.conftest import ALICE, BOB, CHANNEL, Workspace, worker_settings
from tests.fake_slack import BOT_USER_ID
from tests.helpers import dispatch, wait_for
from tests.slack_requests import event_body
from worker.activity import WorkerRegistration, worker_info
from worker.documents.settings import GatheringSettings


def open_home(workspace: Workspace, user: str) -> dict[str, Any]:
    workspace.slack.state.home_views.pop(user, None)
    event = {"type": "app_home_opened", "user": user, "channel": "D0HOME0001", "tab": "home",
             "event_ts": "1700000000.000100"}
    assert dispatch(workspace.app, event_body(event, f"EvHome{user}")).status == 200
    wait_for(lambda: user in workspace.slack.state.home_views, what="the Home tab to be published")
    return workspace.slack.state.home_views[user]


def home_text(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def test_home_shows_the_users_channels_their_sources_and_feedback_and_the_service(workspace: Workspace,
                                                                                 tmp_path: Path) -> None:
    slack = workspace.slack
    slack.add_channel("C0PAYMENT1", "payments", members={ALICE})
    slack.add_channel("C0BOBONLY1", "bob-only", members={BOB})
    slack.add_channel("G0NOBOT001", "no-bot", private=True, members={ALICE})
    slack.state.members["G0NOBOT001"].discard(BOT_USER_ID)
    config = tmp_path / "channels.yml"
    config.write_text('default: [runbooks, thread_files, channel_files, bookmarks, pins, links]\n'
                      '"#ops": [runbooks, pins]\n')
    workspace.restart_bot(channel_config_path=config)
    workspace.restart_worker(channel_config_path=config)
    settings = worker_settings(slack, GatheringSettings(runbook_dir=workspace.runbooks))
    registration = WorkerRegistration(workspace.redis, worker_info(settings, workspace.engine.name, "w-1")).start()
    try:
        answer = workspace.ask("how do I fail over the primary postgres database?")
        workspace.click(answer, VOTE_HELPFUL, ALICE)
        wait_for(lambda: workspace.ephemeral_replies(ALICE), what="the vote")
        view = open_home(workspace, ALICE)
    finally:
        registration.stop()
    text = home_text(view)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert f"<#{CHANNEL}>" in text and "<#C0PAYMENT1>" in text
    assert "C0BOBONLY1" not in text and "G0NOBOT001" not in text, "only channels Alice shares with the bot"
    ops = next(b["text"]["text"] for b in view["blocks"] if f"<#{CHANNEL}>" in b.get("text", {}).get("text", ""))
    assert ops.startswith(f"*<#{CHANNEL}>* reads runbooks, pinned items\nLast question (<!date^")
    assert "read 3 runbooks, 0 files, 0 pins, 0 bookmarks, 0 pages." in ops
    assert ops.endswith("Feedback, 7 days: :thumbsup: 1 · :thumbsdown: 0")
    payments = next(b["text"]["text"] for b in view["blocks"] if "<#C0PAYMENT1>" in b.get("text", {}).get("text", ""))
    assert "reads runbooks, files in the thread, recent uploads" in payments
    assert "No question asked here yet." in payments
    service = view["blocks"][-1]["text"]["text"]
    assert "*Engine:* default (MiniLM retrieval, extractive) on 1 worker" in service
    assert "*Runbook folder:* `runbooks`" in service
    assert "*Queue:* 0 questions waiting" in service and "*Last hour:* 1 answered · 0 failed" in service
    assert "patronictl" not in text, "counts and names only, never a document"
    assert live_workers(workspace.redis) == [], "a stopped worker unregisters"


def test_home_stays_within_block_kit_limits_with_hundreds_of_channels(workspace: Workspace) -> None:
    for i in range(250):
        workspace.slack.add_channel(f"C0MANY{i:04d}", f"team-{i:04d}", members={ALICE})
    view = open_home(workspace, ALICE)  # the fake Slack refuses a view over 100 blocks, as Slack does
    assert len(view["blocks"]) <= 100
    listed = [b["text"]["text"] for b in view["blocks"] if b.get("text", {}).get("text", "").startswith("*<#")]
    assert len(listed) == MAX_CHANNELS and listed[0].startswith(f"*<#{CHANNEL}>*"), "by name: #ops first"
    assert f"…and {251 - MAX_CHANNELS} more channels." in home_text(view)  # + #ops
    pages = [c.args for c in workspace.slack.calls_to("users.conversations")]
    assert len([p for p in pages if p.get("user") == ALICE]) == 2, "both pages of Alice's channels were read"


def test_home_says_when_no_worker_runs(workspace: Workspace) -> None:
    service = open_home(workspace, BOB)["blocks"][-1]["text"]["text"]
    assert service.startswith(":warning: *No worker is running:*")
