"""``python -m bot``: run the Slack listener in Socket Mode (SLACK_APP_TOKEN) or HTTP mode."""

from __future__ import annotations

import logging
import os

from bot.app import build_app
from bot.settings import BotSettings


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = BotSettings.from_env()
    app = build_app(settings)
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        SocketModeHandler(app, settings.app_token).start()
    else:
        app.start(port=settings.port)


if __name__ == "__main__":
    main()
