"""The size-bounded LRU under the worker's in-process caches."""

from __future__ import annotations

from worker.lru import SizedLRU


def test_least_recently_used_values_go_first_once_over_capacity() -> None:
    cache: SizedLRU[str, bytes] = SizedLRU(10, len)
    cache.put_many({"a": b"xxxx", "b": b"xxxx"})
    assert cache.get("a") == b"xxxx"  # "a" is now the most recently used
    cache.put("c", b"xxxx")  # 12 > 10: "b" goes, not "a"
    assert "b" not in cache and cache.get_many(["a", "c", "b"]) == {"a": b"xxxx", "c": b"xxxx"}
    assert cache.total == 8


def test_replacing_a_value_counts_only_the_new_size() -> None:
    cache: SizedLRU[str, bytes] = SizedLRU(10, len)
    cache.put("a", b"x" * 8)
    cache.put("a", b"x" * 2)
    assert cache.total == 2 and len(cache) == 1


def test_the_newest_value_stays_even_when_it_alone_is_over_capacity() -> None:
    cache: SizedLRU[str, bytes] = SizedLRU(4, len)
    cache.put_many({"a": b"x", "big": b"x" * 9})
    assert list(cache.get_many(["a", "big"])) == ["big"] and cache.total == 9
    cache.put("b", b"x")
    assert "big" not in cache and cache.total == 1
