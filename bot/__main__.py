"""``python -m bot``: run the Slack listener in Socket Mode (SLACK_APP_TOKEN) or HTTP mode (served by
uvicorn with request limits: bot/http_server.py)."""

from __future__ import annotations

import logging
import sys

from bot.app import build_app
from bot.http_server import serve_http
from bot.metrics import BotMetrics
from bot.settings import BotSettings
from jobs.env import SettingsError
from jobs.metrics import serve_metrics


def main() -> None:
    try:
        settings = BotSettings.from_env()
    except SettingsError as error:
        sys.exit(f"python -m bot: {error}")
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    metrics = BotMetrics()
    try:
        app = build_app(settings, metrics=metrics)
    except (OSError, ValueError) as error:
        sys.exit(f"python -m bot: channel config: {error}")
    if settings.metrics_port:
        serve_metrics(metrics.registry, settings.metrics_port)
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        SocketModeHandler(app, settings.app_token).start()
    else:
        serve_http(app, settings)


if __name__ == "__main__":
    main()
