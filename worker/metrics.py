"""The worker's Prometheus metrics (``CHATOPS_METRICS_PORT``, see docs/operations.md).

The job threads of one worker process share these objects (RQ SimpleWorkers in threads), so plain
in-process metrics count every question the process answers.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, Info
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import Redis

from jobs.metrics import QueueDepthCollector
from worker.engine.base import Answer, Engine, Question

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
ENGINE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 120)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.answered = Counter("chatops_questions_answered", "Questions answered", ["mode", "source"],
                                registry=self.registry)
        self.failures = Counter("chatops_question_failures",
                                "Questions that failed for good, by reason (a user-facing error's type, "
                                "internal_error, worker_died)", ["reason"], registry=self.registry)
        self.retries = Counter("chatops_question_retries", "Questions retried after a failed attempt", ["reason"],
                               registry=self.registry)
        self.latency = Histogram("chatops_answer_latency_seconds",
                                 "From the question's arrival (its job's creation) to its answer in Slack",
                                 ["mode"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.engine_seconds = Histogram("chatops_engine_seconds", "Time of one engine call (one batch)",
                                        buckets=ENGINE_BUCKETS, registry=self.registry)
        self.engine_info = Info("chatops_engine", "The answer engine this worker runs", registry=self.registry)

    def watch_queue(self, redis: Redis, queue_name: str) -> None:
        self.registry.register(QueueDepthCollector(redis, queue_name))

    def watch_sizes(self, sizes: Callable[[], dict[str, int | None]]) -> None:
        """``chatops_store_size{store=...}``: what ``sizes()`` returns at each scrape (None: left out)."""
        self.registry.register(_SizeCollector(sizes))

    def watch_gpu_memory(self) -> None:
        self.registry.register(_GpuMemoryCollector())


class TimedEngine:
    """An engine whose every ``answer_batch`` call is timed into ``chatops_engine_seconds``."""

    def __init__(self, engine: Engine, histogram: Histogram) -> None:
        self.inner = engine
        self.name = engine.name
        self.max_chunk_tokens = engine.max_chunk_tokens
        self.histogram = histogram

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        with self.histogram.time():
            return self.inner.answer_batch(questions)


class _SizeCollector(Collector):
    def __init__(self, sizes: Callable[[], dict[str, int | None]]) -> None:
        self.sizes = sizes

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("chatops_store_size", "Entries in the worker's document stores and caches",
                                  labels=["store"])
        try:
            sizes = self.sizes()
        except Exception as error:  # a scrape must not fail because one store cannot say its size
            log.warning("store sizes unavailable: %s", error)
            return
        for name, size in sizes.items():
            if size is not None:
                gauge.add_metric([name], size)
        yield gauge


class _GpuMemoryCollector(Collector):
    """``chatops_gpu_memory_bytes{device, kind}``: PyTorch's allocated and reserved memory per GPU."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        torch = sys.modules.get("torch")  # loaded by the CLaRa engine; never imported for a scrape
        if torch is None or not torch.cuda.is_available():
            return
        gauge = GaugeMetricFamily("chatops_gpu_memory_bytes", "GPU memory held by PyTorch",
                                  labels=["device", "kind"])
        for device in range(torch.cuda.device_count()):
            gauge.add_metric([str(device), "allocated"], torch.cuda.memory_allocated(device))
            gauge.add_metric([str(device), "reserved"], torch.cuda.memory_reserved(device))
        yield gauge
