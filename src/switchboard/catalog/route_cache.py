"""`RouteCache`: the one mutable part of a `CatalogSnapshot`, a bounded memo.

The routing engine stores here the part of a decision that depends only on the snapshot and
a small key (tier, power level, task, needs). Filling it cannot change an answer: a value is
a pure function of the snapshot and its key, so a cached value, a recomputed one and one
computed by another thread are interchangeable. It lives and dies with its snapshot: a
catalog reload builds a new snapshot with an empty cache, so nothing in it is ever stale.

It is bounded because the number of keys grows with the catalog (every task type a rule
names, times tiers, power levels and combinations of needs), and each value holds a
candidate for every matching rule. When full, the oldest entry goes: the bound is a safety
net sized above what a real catalog's traffic produces, not a working-set policy, so a hit
stays a single dictionary read.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_ROUTE_CACHE_SIZE = 1024
"""About 50 MB at most with a 10,000-rule catalog (the routing benchmark's), which fills
about 700 keys."""


class RouteCache(Generic[K, V]):
    """At most `maxsize` values by key, oldest evicted first; `maxsize` 0 stores nothing."""

    def __init__(self, maxsize: int = DEFAULT_ROUTE_CACHE_SIZE) -> None:
        if maxsize < 0:
            raise ValueError(f"maxsize must be 0 or more, got {maxsize}")
        self.maxsize = maxsize
        self._items: dict[K, V] = {}
        # Reads take no lock (a dict read is atomic); writes do, so that two threads filling
        # it at once cannot both evict, or evict while the other walks the dict.
        self._write_lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        if self.maxsize == 0:
            return
        with self._write_lock:
            self._items[key] = value
            while len(self._items) > self.maxsize:
                del self._items[next(iter(self._items))]

    def __len__(self) -> int:
        return len(self._items)

    def values(self) -> tuple[V, ...]:
        return tuple(self._items.values())

    def __repr__(self) -> str:
        return f"RouteCache({len(self._items)} of {self.maxsize})"
