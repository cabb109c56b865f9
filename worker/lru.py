"""An in-process LRU mapping bounded by the total size of its values: the caches a worker keeps in front
of Redis (index entries, CLaRa memories on the GPU, redacted texts) are all this, with their own sizes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SizedLRU(Generic[K, V]):
    """Thread-safe. ``size(value)`` is what a value costs (bytes, or 1 to count entries); once the total is
    over ``capacity`` the least recently used entries go, except the newest one, so an entry bigger than
    the whole capacity is still kept until the next one arrives."""

    def __init__(self, capacity: int, size: Callable[[V], int]) -> None:
        self.capacity = capacity
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    @property
    def total(self) -> int:
        return self._total

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The values held of ``keys`` (each once), now the most recently used."""
        with self._lock:
            found = {k: self._entries[k] for k in dict.fromkeys(keys) if k in self._entries}
            for key in found:
                self._entries.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        self.put_many({key: value})

    def put_many(self, items: Mapping[K, V]) -> None:
        with self._lock:
            for key, value in items.items():
                old = self._entries.pop(key, None)
                self._total += self.size(value) - (self.size(old) if old is not None else 0)
                self._entries[key] = value
            while self._total > self.capacity and len(self._entries) > 1:
                _, evicted = self._entries.popitem(last=False)
                self._total -= self.size(evicted)
