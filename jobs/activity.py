"""What the workers are and did lately, recorded in Redis by the worker and shown by the bot's App Home.

* each worker process registers itself (its engine, CLaRa checkpoint, runbook folder) under a key that
  expires unless it is renewed, so a dead worker drops out within ``WORKER_TTL_S``;
* answers and failures are counted per minute, for "the last hour";
* after gathering a channel's documents for a question, the worker records how many of each kind it read
  there (runbooks, files, pins, bookmarks, pages), so the bot can say what a channel's answers come from
  without gathering anything itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from redis import Redis

WORKER_TTL_S = 90  # a worker renews its registration every WORKER_TTL_S / 3 seconds
CHANNEL_SOURCES_TTL_S = 30 * 86400
ANSWERED = "answered"
FAILED = "failed"
_MINUTE_TTL_S = 2 * 3600
_WORKER_PREFIX = "chatops:worker:"


@dataclass(frozen=True)
class WorkerInfo:
    name: str  # unique per process: host and pid
    engine: str  # the engine's name, e.g. "default (MiniLM retrieval, extractive)"
    checkpoint: str | None = None  # the CLaRa checkpoint, e.g. "CLaRa-7B-E2E/compression-16"
    runbooks: str | None = None  # the runbook folder's name or base URL
    started_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ChannelSourceCounts:
    """Documents of each kind read for the last question asked in a channel (mode "ask")."""

    runbooks: int = 0
    files: int = 0  # uploads and logs
    pins: int = 0
    bookmarks: int = 0
    pages: int = 0  # linked pages
    at: float = field(default_factory=time.time)


def register_worker(redis: Redis, info: WorkerInfo, ttl: int = WORKER_TTL_S) -> None:
    redis.set(_WORKER_PREFIX + info.name, json.dumps(asdict(info)), ex=ttl)


def unregister_worker(redis: Redis, name: str) -> None:
    redis.delete(_WORKER_PREFIX + name)


def live_workers(redis: Redis, limit: int = 1000) -> list[WorkerInfo]:
    """The registered workers, oldest first (at most ``limit``: SCAN is bounded)."""
    keys = []
    for key in redis.scan_iter(match=_WORKER_PREFIX + "*", count=100):
        keys.append(key)
        if len(keys) >= limit:
            break
    infos = [WorkerInfo(**json.loads(raw)) for raw in redis.mget(keys) if raw] if keys else []
    return sorted(infos, key=lambda info: info.started_at)


def count(redis: Redis, what: str, now: float | None = None) -> None:
    """Count one ``ANSWERED`` or ``FAILED`` question in the current minute."""
    key = f"chatops:activity:{what}:{int((time.time() if now is None else now) // 60)}"
    pipe = redis.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, _MINUTE_TTL_S)
    pipe.execute()


def last_hour(redis: Redis, what: str, now: float | None = None) -> int:
    minute = int((time.time() if now is None else now) // 60)
    values = redis.mget([f"chatops:activity:{what}:{m}" for m in range(minute - 59, minute + 1)])
    return sum(int(v) for v in values if v)


def record_channel_sources(redis: Redis, channel: str, counts: ChannelSourceCounts) -> None:
    redis.set(f"chatops:channel-sources:{channel}", json.dumps(asdict(counts)), ex=CHANNEL_SOURCES_TTL_S)


def channel_sources(redis: Redis, channels: Sequence[str]) -> Mapping[str, ChannelSourceCounts]:
    """The recorded counts of the channels that have any."""
    if not channels:
        return {}
    raw = redis.mget([f"chatops:channel-sources:{c}" for c in channels])
    return {c: ChannelSourceCounts(**json.loads(r)) for c, r in zip(channels, raw, strict=True) if r}
