"""The bot process's settings: explicit arguments first, the standard Slack env names as fallback.

=============================  =========================================================================
``SLACK_BOT_TOKEN``            the bot token (xoxb-…); required
``SLACK_APP_TOKEN``            an app-level token (xapp-…): Socket Mode
``SLACK_SIGNING_SECRET``       HTTP mode (when there is no app token): verifies Slack's requests
``REDIS_URL``                  the Redis the workers read (default ``redis://127.0.0.1:6379/0``)
``CHATOPS_QUEUE``              the RQ queue questions go on (default ``chatops``; the workers' too)
``CHATOPS_JOB_TIMEOUT``        seconds a worker may spend on one question (default 600)
``CHATOPS_MAX_QUESTION_CHARS`` longer questions are refused with a hint to attach a file (default 2000)
``CHATOPS_LISTENER_THREADS``   Bolt listeners in flight at once (default 32)
``CHATOPS_INTAKE_THREADS``     questions being claimed, announced and queued at once, after their ack
                               (default 16)
``CHATOPS_REDIS_TIMEOUT_S``    seconds one Redis command may take before the bot gives up on it (default 2)
``CHATOPS_CHANNEL_CONFIG``     the channels YAML (jobs/channel_config.py): each channel's on-call user group
                               for "Ask a human", and the sources App Home lists; unset: nobody on call
``CHATOPS_HANDOFF_COOLDOWN_S`` one "Ask a human" ping per thread in this many seconds (default 1800)
``CHATOPS_HANDOFF_PER_HOUR``   "Ask a human" pings per channel per hour, at most (default 6)
``CHATOPS_METRICS_PORT``       the port Prometheus scrapes ``/metrics`` on (default 9101; 0: none)
``PORT``                       HTTP mode's port (default 3000)
``CHATOPS_HTTP_HOST``          HTTP mode's address to listen on (default ``0.0.0.0``)
``CHATOPS_MAX_BODY_BYTES``     HTTP mode: longer requests are refused before they are read (default 1 MiB)
``CHATOPS_REQUEST_TIMEOUT_S``  HTTP mode: seconds to receive a request's body (default 5)
``CHATOPS_MAX_CONNECTIONS``    HTTP mode: connections served at once; more get 503 (default 500)
``SLACK_API_URL``              another Web API base URL (a proxy, the tests' fake Slack)
``LOG_LEVEL``                  DEBUG, INFO, WARNING or ERROR (default INFO)
=============================  =========================================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jobs import defaults
from jobs.env import Env, SettingsError


@dataclass(frozen=True)
class BotSettings:
    bot_token: str = field(repr=False)
    redis_url: str = defaults.REDIS_URL
    app_token: str | None = field(default=None, repr=False)  # Socket Mode when set
    signing_secret: str | None = field(default=None, repr=False)  # HTTP mode
    queue_name: str = defaults.QUEUE_NAME
    job_timeout: int = defaults.JOB_TIMEOUT_S  # seconds a worker may spend on one question
    max_question_chars: int = 2000
    listener_threads: int = 32  # Bolt listeners in flight; slash commands wait for one to ack
    intake_threads: int = 16  # questions claimed and queued at once (after the ack, off Bolt's threads)
    redis_timeout_s: float = 2.0  # one Redis command
    channel_config_path: Path | None = None  # on-call groups and App Home's source lists
    handoff_cooldown_s: int = 1800  # one "Ask a human" ping per thread in this long
    handoff_per_hour: int = 6  # "Ask a human" pings per channel per hour
    metrics_port: int = defaults.BOT_METRICS_PORT  # 0: no metrics server
    port: int = 3000  # HTTP mode
    http_host: str = "0.0.0.0"  # HTTP mode: address to listen on
    max_body_bytes: int = 1 << 20  # HTTP mode: refused before reading (Slack's requests are a few KB)
    request_timeout_s: float = 5.0  # HTTP mode: to receive a request's body
    max_connections: int = 500  # HTTP mode: at once; more are refused with 503
    slack_api_url: str | None = None  # another Web API base URL (tests, proxies)
    log_level: str = defaults.LOG_LEVEL

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> BotSettings:
        """The variables in the module docstring; ``overrides`` win. Raises ``SettingsError`` (a
        ValueError) naming the variable that is missing or malformed."""
        env = Env(os.environ if environ is None else environ)
        values: dict[str, object] = {
            "bot_token": env.text("SLACK_BOT_TOKEN", ""),
            "app_token": env.text("SLACK_APP_TOKEN"),
            "signing_secret": env.text("SLACK_SIGNING_SECRET"),
            "redis_url": env.text("REDIS_URL", cls.redis_url),
            "queue_name": env.text("CHATOPS_QUEUE", cls.queue_name),
            "job_timeout": env.number("CHATOPS_JOB_TIMEOUT", cls.job_timeout, minimum=1),
            "max_question_chars": env.number("CHATOPS_MAX_QUESTION_CHARS", cls.max_question_chars, minimum=1),
            "listener_threads": env.number("CHATOPS_LISTENER_THREADS", cls.listener_threads, minimum=1),
            "intake_threads": env.number("CHATOPS_INTAKE_THREADS", cls.intake_threads, minimum=1),
            "redis_timeout_s": env.number("CHATOPS_REDIS_TIMEOUT_S", cls.redis_timeout_s, minimum=0.1),
            "channel_config_path": env.path("CHATOPS_CHANNEL_CONFIG"),
            "handoff_cooldown_s": env.number("CHATOPS_HANDOFF_COOLDOWN_S", cls.handoff_cooldown_s, minimum=1),
            "handoff_per_hour": env.number("CHATOPS_HANDOFF_PER_HOUR", cls.handoff_per_hour, minimum=1),
            "metrics_port": env.number("CHATOPS_METRICS_PORT", cls.metrics_port, minimum=0),
            "port": env.number("PORT", cls.port, minimum=0),
            "http_host": env.text("CHATOPS_HTTP_HOST", cls.http_host),
            "max_body_bytes": env.size("CHATOPS_MAX_BODY_BYTES", cls.max_body_bytes),
            "request_timeout_s": env.number("CHATOPS_REQUEST_TIMEOUT_S", cls.request_timeout_s, minimum=0.1),
            "max_connections": env.number("CHATOPS_MAX_CONNECTIONS", cls.max_connections, minimum=1),
            "slack_api_url": env.text("SLACK_API_URL"),
            "log_level": env.log_level(),
        }
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.bot_token:
            raise SettingsError("SLACK_BOT_TOKEN is required")
        if not self.app_token and not self.signing_secret:
            raise SettingsError("set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)")
