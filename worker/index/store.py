"""Where index entries live: Redis, shared by every worker and surviving their restarts (or, for the CLI
and one-off runs, this process only).

Keys, under ``chatops:index:{fingerprint}`` (the fingerprint names the embedder and the chunker, so two
engines never read each other's chunks):

* ``…:doc:{content key}``: one document's entry (entry.py), with a TTL refreshed when it is used;
* ``…:file:{name}``: which entries a Slack file's read produced (its id and a stamp of its size and
  dates), so a file shared again is not downloaded again;
* ``…:lru`` (sorted set, key → last use) and ``…:sizes`` (hash, key → bytes) with ``…:total``: memory is
  bounded by ``max_bytes``; past it the least recently used entries are deleted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from worker.index.entry import EntryFormatError, IndexEntry
from worker.lru import SizedLRU

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger(__name__)


class IndexStore(Protocol):
    where: str  # "redis" or "this process", for logs and benchmarks

    def get_many(self, keys: Iterable[str]) -> dict[str, IndexEntry]: ...

    def put_many(self, entries: Iterable[IndexEntry]) -> None: ...

    def has(self, keys: Iterable[str]) -> set[str]: ...

    def get_file(self, name: str) -> str | None: ...

    def put_file(self, name: str, value: str) -> None: ...


class RedisIndexStore:
    where = "redis"

    def __init__(self, redis: Redis, fingerprint: str, *, max_bytes: int = 2 << 30,
                 ttl_seconds: int | None = 30 * 86400, prefix: str = "chatops:index") -> None:
        self.redis = redis
        self.prefix = f"{prefix}:{fingerprint}"
        self.max_bytes = max_bytes
        self.ttl = ttl_seconds if ttl_seconds and ttl_seconds > 0 else None
        self.lru_key, self.sizes_key, self.total_key = (f"{self.prefix}:{n}" for n in ("lru", "sizes", "total"))

    def _doc(self, key: str) -> str:
        return f"{self.prefix}:doc:{key}"

    def get_many(self, keys: Iterable[str]) -> dict[str, IndexEntry]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, IndexEntry] = {}
        for start in range(0, len(wanted), 256):  # bounded replies
            batch = wanted[start:start + 256]
            for key, raw in zip(batch, self.redis.mget([self._doc(k) for k in batch]), strict=True):
                if not isinstance(raw, bytes):
                    continue
                try:
                    found[key] = IndexEntry.from_bytes(raw)
                except EntryFormatError as error:
                    log.warning("index entry %s unreadable (%s): it will be indexed again", key, error)
        self.touch(found)
        return found

    def touch(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        pipe = self.redis.pipeline(transaction=False)
        if self.ttl:
            for key in keys:
                pipe.expire(self._doc(key), self.ttl)
        pipe.zadd(self.lru_key, dict.fromkeys(keys, time.time()))
        pipe.execute()

    def has(self, keys: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        pipe = self.redis.pipeline(transaction=False)
        for key in wanted:
            pipe.exists(self._doc(key))
        present = {key for key, there in zip(wanted, pipe.execute(), strict=True) if there}
        self.touch(present)
        return present

    def put_many(self, entries: Iterable[IndexEntry]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        now = time.time()
        added = 0
        for entry in entries:
            raw = entry.to_bytes()
            pipe.set(self._doc(entry.key), raw, ex=self.ttl)
            pipe.zadd(self.lru_key, {entry.key: now})
            pipe.hset(self.sizes_key, entry.key, len(raw))
            added += len(raw)
        if not added:
            return
        pipe.incrby(self.total_key, added)
        pipe.execute()
        self._evict()

    def get_file(self, name: str) -> str | None:
        raw = self.redis.get(f"{self.prefix}:file:{name}")
        return raw.decode() if isinstance(raw, bytes) else None

    def put_file(self, name: str, value: str) -> None:
        self.redis.set(f"{self.prefix}:file:{name}", value, ex=self.ttl)

    def stored_bytes(self) -> int:
        return int(self.redis.get(self.total_key) or 0)

    def _evict(self) -> None:
        while int(self.redis.get(self.total_key) or 0) > self.max_bytes:
            popped: list[tuple[bytes, float]] = self.redis.zpopmin(self.lru_key, 64)  # type: ignore[assignment]
            if not popped:
                self.redis.set(self.total_key, 0)  # the sizes drifted (entries expired by TTL): start over
                return
            keys = [k.decode() if isinstance(k, bytes) else str(k) for k, _ in popped]
            sizes = self.redis.hmget(self.sizes_key, keys)
            freed = sum(int(s or 0) for s in sizes)
            pipe = self.redis.pipeline(transaction=False)
            pipe.delete(*(self._doc(k) for k in keys))
            pipe.hdel(self.sizes_key, *keys)
            pipe.decrby(self.total_key, freed)
            pipe.execute()
            log.info("index: evicted %d least recently used documents (%d bytes)", len(keys), freed)


class LocalIndexStore:
    """The same, in this process (the CLI without ``REDIS_URL``, tests of one worker)."""

    where = "this process"

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self._entries: SizedLRU[str, IndexEntry] = SizedLRU(max_bytes, lambda entry: entry.nbytes)
        self._files: dict[str, str] = {}

    def get_many(self, keys: Iterable[str]) -> dict[str, IndexEntry]:
        return self._entries.get_many(keys)

    def has(self, keys: Iterable[str]) -> set[str]:
        return set(self.get_many(keys))

    def put_many(self, entries: Iterable[IndexEntry]) -> None:
        self._entries.put_many({entry.key: entry for entry in entries})

    def get_file(self, name: str) -> str | None:
        return self._files.get(name)

    def put_file(self, name: str, value: str) -> None:
        self._files[name] = value

    def stored_bytes(self) -> int:
        return self._entries.total
