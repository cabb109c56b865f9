"""The Slack manifest and docker-compose.yml agree with what the code registers and needs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.listeners import FILE_SHORTCUT
from bot.settings import BotSettings

ROOT = Path(__file__).resolve().parent.parent


def test_manifest_declares_every_command_shortcut_and_event_the_bot_handles() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    features = manifest["features"]
    assert {c["command"] for c in features["slash_commands"]} == {"/ask", "/runbook", "/logs"}
    assert [s["callback_id"] for s in features["shortcuts"]] == [FILE_SHORTCUT]
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "message.channels"} <= events
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed_scopes(events), \
        "the manifest asks for the scopes the code uses, and no more"


# The bot scopes each Web API method needs (a conversation may be a channel, a private channel, a DM or a
# group DM) and each subscribed event needs.
METHOD_SCOPES = {
    "chat.postMessage": {"chat:write"}, "chat.update": {"chat:write"}, "chat.delete": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "conversations.history": {"channels:history", "groups:history", "im:history", "mpim:history"},
    "conversations.replies": {"channels:history", "groups:history", "im:history", "mpim:history"},
    "conversations.info": {"channels:read", "groups:read", "im:read", "mpim:read"},
    "conversations.members": {"channels:read", "groups:read", "im:read", "mpim:read"},
    "files.info": {"files:read"}, "files.list": {"files:read"},
    "pins.list": {"pins:read"}, "bookmarks.list": {"bookmarks:read"},
}
EVENT_SCOPES = {"app_mention": {"app_mentions:read"}, "message.im": {"im:history"},
                "message.channels": {"channels:history"}, "message.groups": {"groups:history"},
                "message.mpim": {"mpim:history"}, "file_shared": {"files:read"}}
_CALL = re.compile(r"\.(chat|conversations|files|pins|bookmarks|users|usergroups|reactions|views|assistant)_"
                   r"([a-zA-Z_]+)\(")


def web_api_methods() -> set[str]:
    """Every Web API method the bot and the worker call through a slack_sdk client (``client.chat_update(``)."""
    methods = set()
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("jobs/**/*.py"), *ROOT.glob("worker/**/*.py")]:
        for family, name in _CALL.findall(path.read_text()):
            parts = name.split("_")
            methods.add(f"{family}.{parts[0]}{''.join(p.capitalize() for p in parts[1:])}")
    return methods


def needed_scopes(events: set[str]) -> set[str]:
    methods = web_api_methods()
    unknown = methods - set(METHOD_SCOPES)
    assert not unknown, f"add the scopes of {sorted(unknown)} to METHOD_SCOPES"
    return {"commands"} | set().union(*(METHOD_SCOPES[m] for m in methods), *(EVENT_SCOPES[e] for e in events))


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


def test_compose_serves_http_mode_through_the_production_server_with_its_limits() -> None:
    bot = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["bot"]
    assert bot["command"] == ["python", "-m", "bot"]  # HTTP mode: uvicorn (bot/http_server.py), not app.start()
    settings = BotSettings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
                                     **{k: str(v) for k, v in bot["environment"].items() if k.startswith(("CHATOPS_",
                                                                                                       "PORT"))}})
    assert (settings.http_host, settings.port, settings.max_body_bytes) == ("0.0.0.0", 3000, 1 << 20)
    assert "app.start(" not in (ROOT / "bot" / "__main__.py").read_text()
