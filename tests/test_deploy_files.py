"""The Slack manifest and docker-compose.yml agree with what the code registers and needs."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.listeners import FILE_SHORTCUT

ROOT = Path(__file__).resolve().parent.parent


def test_manifest_declares_every_command_shortcut_and_event_the_bot_handles() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    features = manifest["features"]
    assert {c["command"] for c in features["slash_commands"]} == {"/ask", "/runbook", "/logs"}
    assert [s["callback_id"] for s in features["shortcuts"]] == [FILE_SHORTCUT]
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "message.channels"} <= events
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # what the bot and worker call: chat.postMessage/update, files.info, bookmarks.list, pins.list, history
    assert {"chat:write", "commands", "files:read", "bookmarks:read", "pins:read", "channels:history",
            "app_mentions:read", "im:history"} <= scopes


def test_compose_requires_tokens_and_gives_the_worker_a_gpu() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert set(services) == {"redis", "bot", "worker"}
    assert "healthcheck" in services["redis"]
    assert "${SLACK_BOT_TOKEN:?" in text
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    for name in ("bot", "worker"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
