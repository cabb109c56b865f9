"""A store of compressed documents: each chunk is compressed once per model.

Key: ``clara:mem:{model fingerprint}:{content hash}``; value: the raw bf16 bytes of the chunk's
``[n_mem, hidden]`` memory embeddings (128 KiB for CLaRa-7B at compression 16). Memory is bounded by
a TTL on every entry (refreshed on use) and an LRU cap on the number of entries per model (a sorted
set of last-use times; the least recently used entries are deleted past the cap).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

import torch

from worker.lru import SizedLRU

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger(__name__)


def content_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def to_bytes(memory: torch.Tensor) -> bytes:
    """[M, D] -> raw bf16 bytes."""
    return memory.detach().to("cpu", torch.bfloat16).contiguous().view(torch.int16).numpy().tobytes()


def from_bytes(raw: bytes, shape: tuple[int, int]) -> torch.Tensor | None:
    """Raw bf16 bytes -> [M, D] bf16 on the CPU; None when the length does not match (a stale entry)."""
    if len(raw) != shape[0] * shape[1] * 2:
        return None
    return torch.frombuffer(bytearray(raw), dtype=torch.bfloat16).view(shape)


class MemoryStore(Protocol):
    def get_many(self, hashes: Iterable[str]) -> dict[str, torch.Tensor]: ...

    def put_many(self, memories: Mapping[str, torch.Tensor]) -> None: ...

    def stored(self) -> int | None:
        """How many documents the store holds (None: it does not count them)."""
        ...


class RedisMemoryStore:
    """Compressed documents in Redis, shared by every worker that loads the same model."""

    def __init__(self, redis: Redis, fingerprint: str, shape: tuple[int, int],
                 ttl_seconds: int | None = 7 * 86400, max_entries: int | None = 200_000,
                 prefix: str = "clara:mem") -> None:
        self.redis = redis
        self.shape = shape  # (n_mem, hidden)
        self.ttl = ttl_seconds if ttl_seconds and ttl_seconds > 0 else None
        self.max_entries = max_entries if max_entries and max_entries > 0 else None
        self.prefix = f"{prefix}:{fingerprint}"
        self.lru_key = f"{self.prefix}:lru"

    def _key(self, digest: str) -> str:
        return f"{self.prefix}:{digest}"

    def get_many(self, hashes: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = list(dict.fromkeys(hashes))
        if not wanted:
            return {}
        found: dict[str, torch.Tensor] = {}
        for digest, raw in zip(wanted, self.redis.mget([self._key(d) for d in wanted]), strict=True):
            if isinstance(raw, bytes) and (memory := from_bytes(raw, self.shape)) is not None:
                found[digest] = memory
        if found:
            now = time.time()
            pipe = self.redis.pipeline(transaction=False)
            for digest in found:
                if self.ttl:
                    pipe.expire(self._key(digest), self.ttl)
            if self.max_entries:
                pipe.zadd(self.lru_key, {digest: now for digest in found})
            pipe.execute()
        return found

    def put_many(self, memories: Mapping[str, torch.Tensor]) -> None:
        if not memories:
            return
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        for digest, memory in memories.items():
            pipe.set(self._key(digest), to_bytes(memory), ex=self.ttl)
        if self.max_entries:
            pipe.zadd(self.lru_key, dict.fromkeys(memories, now))
            if self.ttl:
                pipe.expire(self.lru_key, self.ttl)
        pipe.execute()
        self._evict()

    def stored(self) -> int | None:
        """Documents in the LRU index (None without a cap: the store does not track them)."""
        return int(self.redis.zcard(self.lru_key)) if self.max_entries else None

    def _evict(self) -> None:
        if not self.max_entries:
            return
        excess = int(self.redis.zcard(self.lru_key)) - self.max_entries
        if excess <= 0:
            return
        popped: list[tuple[bytes | str, float]] = self.redis.zpopmin(self.lru_key, excess)  # type: ignore[assignment]
        victims = [m.decode() if isinstance(m, bytes) else str(m) for m, _ in popped]
        if victims:
            self.redis.delete(*(self._key(d) for d in victims))
            log.info("memory store: evicted %d least recently used documents", len(victims))


class LocalMemoryStore:
    """In-process LRU for when no Redis is given (tests, one-off runs)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: SizedLRU[str, torch.Tensor] = SizedLRU(max_entries, lambda _: 1)

    def get_many(self, hashes: Iterable[str]) -> dict[str, torch.Tensor]:
        return self._entries.get_many(hashes)

    def stored(self) -> int | None:
        return len(self._entries)

    def put_many(self, memories: Mapping[str, torch.Tensor]) -> None:
        # clone: a row of a batch is a view that would keep the whole batch alive
        self._entries.put_many({digest: memory.detach().to("cpu", torch.bfloat16).clone()
                                for digest, memory in memories.items()})
