"""The bot's Prometheus metrics (``CHATOPS_METRICS_PORT``, see docs/operations.md)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter
from redis import Redis

from jobs.metrics import QueueDepthCollector


class BotMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter("chatops_questions_received", "Questions received (once each, duplicates not "
                                "counted)", ["mode", "source"], registry=self.registry)
        self.votes = Counter("chatops_feedback_votes", "Votes on answers (a repeated vote is not counted again)",
                             ["vote"], registry=self.registry)
        self.handoffs = Counter("chatops_handoffs", "'Ask a human' clicks, by what came of them",
                                ["outcome"], registry=self.registry)

    def watch_queue(self, redis: Redis, queue_name: str) -> None:
        self.registry.register(QueueDepthCollector(redis, queue_name))
