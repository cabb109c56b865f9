"""Prometheus plumbing both processes share: serving a registry over HTTP and the queue depth gauge.

Each process keeps its metrics in its own ``CollectorRegistry`` (``bot.metrics``, ``worker.metrics``), so
a bot and a worker can live in one process (the tests) without their names colliding.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError

from jobs.enqueue import question_queue

log = logging.getLogger(__name__)


class QueueDepthCollector(Collector):
    """``chatops_queue_depth``: questions waiting in the queue, read from Redis at each scrape."""

    def __init__(self, redis: Redis, queue_name: str) -> None:
        self.queue = question_queue(redis, queue_name)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("chatops_queue_depth", "Questions waiting in the queue", labels=["queue"])
        try:
            gauge.add_metric([self.queue.name], self.queue.count)
        except RedisError as error:  # a scrape must not fail because Redis is down: the gauge is left out
            log.warning("queue depth unavailable: %s", error)
            return
        yield gauge


@dataclass
class MetricsServer:
    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def serve_metrics(registry: CollectorRegistry, port: int, addr: str = "0.0.0.0") -> MetricsServer:
    """Serve ``registry`` at ``http://addr:port/metrics`` from a daemon thread (port 0: any free port)."""
    server, thread = start_http_server(port, addr=addr, registry=registry)
    log.info("metrics on http://%s:%d/metrics", addr, server.server_port)
    return MetricsServer(server, thread)
