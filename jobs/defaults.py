"""Defaults the bot and the worker must agree on: where Redis is, the queue they meet on, how long a job
may run. Each process's settings object takes its defaults from here."""

from __future__ import annotations

REDIS_URL = "redis://127.0.0.1:6379/0"
QUEUE_NAME = "chatops"
JOB_TIMEOUT_S = 600  # seconds a worker may spend on one question before RQ stops it
LOG_LEVEL = "INFO"
BOT_METRICS_PORT = 9101  # Prometheus scrapes each process on its own port (docs/operations.md)
WORKER_METRICS_PORT = 9102
