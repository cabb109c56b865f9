"""The Slack manifest and docker-compose.yml agree with what the code registers and needs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from bot.listeners import FILE_SHORTCUT
from bot.metrics import BotMetrics
from bot.settings import BotSettings
from worker.metrics import WorkerMetrics

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


def test_manifest_declares_the_ai_app_surface_home_tab_and_their_events() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    features = manifest["features"]
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["assistant_view"]["assistant_description"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True  # the answer buttons and the modal
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"assistant_thread_started", "assistant_thread_context_changed", "app_home_opened"} <= events


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
    # setStatus takes chat:write (or, for now, assistant:write); the other assistant methods assistant:write
    "assistant.threads.setStatus": {"chat:write"},
    "assistant.threads.setSuggestedPrompts": {"assistant:write"},
    "assistant.threads.setTitle": {"assistant:write"},
    "usergroups.list": {"usergroups:read"},
    # App Home lists public and private channels only (types=public_channel,private_channel)
    "users.conversations": {"channels:read", "groups:read"},
    "views.publish": set(), "views.open": set(),
}
EVENT_SCOPES = {"app_mention": {"app_mentions:read"}, "message.im": {"im:history"},
                "message.channels": {"channels:history"}, "message.groups": {"groups:history"},
                "message.mpim": {"mpim:history"}, "assistant_thread_started": {"assistant:write"},
                "assistant_thread_context_changed": {"assistant:write"}, "app_home_opened": set(),
                "file_shared": {"files:read"}}
_CALL = re.compile(r"\.(chat|conversations|files|pins|bookmarks|users|usergroups|reactions|views|assistant)_"
                   r"([a-zA-Z_]+)\(")
# Bolt's listener utilities that call the Web API for us (bot/assistant.py calls them by these names)
BOLT_UTILITIES = {"set_suggested_prompts": "assistant.threads.setSuggestedPrompts",
                  "set_status": "assistant.threads.setStatus", "set_title": "assistant.threads.setTitle",
                  "say": "chat.postMessage"}
_UTILITY_CALL = re.compile(r"\b(" + "|".join(BOLT_UTILITIES) + r")\(")


def web_api_methods() -> set[str]:
    """Every Web API method the bot and the worker call through a slack_sdk client (``client.chat_update(``
    is ``chat.update``: the SDK names a method with ``_`` for ``.``) or through a Bolt utility."""
    methods = set()
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("jobs/**/*.py"), *ROOT.glob("worker/**/*.py")]:
        text = path.read_text()
        for family, name in _CALL.findall(text):
            methods.add(f"{family}.{name.replace('_', '.')}")
        methods.update(BOLT_UTILITIES[name] for name in _UTILITY_CALL.findall(text))
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
    for name, port in (("bot", "9101"), ("worker", "9102")):  # each process on its own metrics port
        assert services[name]["environment"]["CHATOPS_METRICS_PORT"] == port and services[name]["expose"] == [port]


def _metric_names(registry: CollectorRegistry) -> set[str]:
    return {sample.name for family in registry.collect() for sample in family.samples} | {
        family.name for family in registry.collect()}


def test_the_grafana_dashboard_plots_metrics_the_processes_export() -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\b(chatops_[a-z_]+)", expr)}
    bot, worker = BotMetrics(), WorkerMetrics()
    # labelled series appear once used: touch one of each so that their sample names are listed
    bot.received.labels("ask", "mention").inc()
    bot.votes.labels("helpful").inc()
    bot.handoffs.labels("posted").inc()
    worker.answered.labels("ask", "mention").inc()
    worker.failures.labels("NoDocumentsError").inc()
    worker.retries.labels("worker_died").inc()
    worker.latency.labels("ask").observe(1)
    exported = _metric_names(bot.registry) | _metric_names(worker.registry) | {
        "chatops_queue_depth", "chatops_store_size", "chatops_gpu_memory_bytes"}  # read at scrape time
    assert used and used <= exported, sorted(used - exported)


def test_compose_serves_http_mode_through_the_production_server_with_its_limits() -> None:
    bot = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["bot"]
    assert bot["command"] == ["python", "-m", "bot"]  # HTTP mode: uvicorn (bot/http_server.py), not app.start()
    settings = BotSettings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
                                     **{k: str(v) for k, v in bot["environment"].items() if k.startswith(("CHATOPS_",
                                                                                                       "PORT"))}})
    assert (settings.http_host, settings.port, settings.max_body_bytes) == ("0.0.0.0", 3000, 1 << 20)
    assert "app.start(" not in (ROOT / "bot" / "__main__.py").read_text()
