"""CLaRa's memory embeddings kept on the device in front of the engine's Redis store (worker/clara/store.py),
so an E2E checkpoint that ranks every candidate in its compressed space reads each chunk's memory from
Redis once per worker, not once per question. Implements the store interface ``ClaraEngine`` uses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from worker.clara.store import MemoryStore
from worker.lru import SizedLRU


class DeviceMemoryCache:
    """An LRU of ``[M, D]`` memories on ``device`` (at most ``max_entries``), over ``backing``."""

    def __init__(self, backing: MemoryStore, device: torch.device, max_entries: int) -> None:
        self.backing = backing
        self.device = device
        self.max_entries = max_entries
        self._entries: SizedLRU[str, torch.Tensor] = SizedLRU(max_entries, lambda _: 1)

    def get_many(self, hashes: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = list(dict.fromkeys(hashes))
        found = self._entries.get_many(wanted)
        missing = [h for h in wanted if h not in found]
        if missing:
            loaded = {h: m.to(self.device) for h, m in self.backing.get_many(missing).items()}
            self._entries.put_many(loaded)
            found.update(loaded)
        return found

    def stored(self) -> int | None:
        """What the store behind counts (the worker's metrics read it)."""
        return self.backing.stored()

    def put_many(self, memories: Mapping[str, torch.Tensor]) -> None:
        self.backing.put_many(memories)
        self._entries.put_many({h: m.detach().to(self.device, torch.bfloat16).clone() for h, m in memories.items()})
