"""The bot process's settings: explicit arguments first, the standard Slack env names as fallback."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BotSettings:
    bot_token: str = field(repr=False)
    redis_url: str = "redis://127.0.0.1:6379/0"
    app_token: str | None = field(default=None, repr=False)  # Socket Mode when set
    signing_secret: str | None = field(default=None, repr=False)  # HTTP mode
    queue_name: str = "chatops"
    job_timeout: int = 600  # seconds a worker may spend on one question
    max_question_chars: int = 2000
    listener_threads: int = 32  # Bolt listeners in flight; slash commands wait for one to ack
    port: int = 3000  # HTTP mode
    slack_api_url: str | None = None  # another Web API base URL (tests, proxies)

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> BotSettings:
        """Read ``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN``, ``SLACK_SIGNING_SECRET``, ``REDIS_URL``,
        ``CHATOPS_QUEUE``, ``CHATOPS_JOB_TIMEOUT``, ``CHATOPS_LISTENER_THREADS``, ``PORT`` and
        ``SLACK_API_URL``; ``overrides`` win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "bot_token": env.get("SLACK_BOT_TOKEN", ""),
            "app_token": env.get("SLACK_APP_TOKEN") or None,
            "signing_secret": env.get("SLACK_SIGNING_SECRET") or None,
            "redis_url": env.get("REDIS_URL", cls.redis_url),
            "queue_name": env.get("CHATOPS_QUEUE", cls.queue_name),
            "job_timeout": int(env.get("CHATOPS_JOB_TIMEOUT", cls.job_timeout)),
            "listener_threads": int(env.get("CHATOPS_LISTENER_THREADS", cls.listener_threads)),
            "port": int(env.get("PORT", cls.port)),
            "slack_api_url": env.get("SLACK_API_URL") or None,
        }
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.bot_token:
            raise ValueError("SLACK_BOT_TOKEN is required")
        if not self.app_token and not self.signing_secret:
            raise ValueError("set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)")
