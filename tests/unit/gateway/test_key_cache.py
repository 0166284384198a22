"""The key cache's rules, with a loader the test controls and a clock it moves: an entry is
fresh for its TTL and until the cache is expired; an expired entry is still the fallback
while the store is unreachable, a forgotten one is not; and a look-up under way when the
cache changes answers its callers but stores nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
from sqlalchemy.exc import OperationalError

from switchboard.errors import KeyStoreUnavailableError
from switchboard.gateway.keys import _TTLCache

T = TypeVar("T")
TTL_S = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Store:
    """What the loader reads: `value`, or an error while `down`; a look-up can be held."""

    def __init__(self, value: str | None) -> None:
        self.value = value
        self.down = False
        self.reads = 0
        self.held: asyncio.Event | None = None

    async def read(self) -> str | None:
        self.reads += 1
        value = self.value
        if self.held is not None:
            await self.held.wait()
        if self.down:
            raise OperationalError("SELECT", {}, Exception("the database is down"))
        return value


async def reading(store: Store) -> None:
    """Until the store's read has begun (it runs in a task of the cache's own)."""
    while store.reads == 0:
        await asyncio.sleep(0)


def run(test: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(test())


def make_cache() -> tuple[_TTLCache[str], Clock]:
    clock = Clock()
    return _TTLCache(TTL_S, clock), clock


def test_an_entry_is_served_for_its_ttl_then_read_again() -> None:
    async def test() -> None:
        cache, clock = make_cache()
        store = Store("ada")
        assert await cache.get("k", store.read) == "ada"
        store.value = "ada-2"
        clock.now += TTL_S - 0.1
        assert await cache.get("k", store.read) == "ada"
        clock.now += 0.1
        assert await cache.get("k", store.read) == "ada-2"
        assert store.reads == 2

    run(test)


def test_expire_all_reads_every_entry_again_before_its_ttl() -> None:
    async def test() -> None:
        cache, _ = make_cache()
        first, second = Store("ada"), Store(None)
        await cache.get("k1", first.read)
        await cache.get("k2", second.read)
        first.value, second.value = "revoked", "now valid"

        cache.expire_all()

        assert await cache.get("k1", first.read) == "revoked"
        assert await cache.get("k2", second.read) == "now valid"
        assert await cache.get("k1", first.read) == "revoked"  # fresh again: not read
        assert (first.reads, second.reads) == (2, 2)

    run(test)


def test_an_expired_entry_is_the_fallback_while_the_store_is_unreachable() -> None:
    async def test() -> None:
        cache, _ = make_cache()
        store = Store("ada")
        await cache.get("k", store.read)
        cache.expire_all()
        store.down = True
        assert await cache.get("k", store.read) == "ada"

    run(test)


def test_a_forgotten_entry_is_not_the_fallback() -> None:
    async def test() -> None:
        cache, _ = make_cache()
        store = Store("ada")
        await cache.get("k", store.read)
        cache.forget("k")
        store.down = True
        with pytest.raises(KeyStoreUnavailableError):
            await cache.get("k", store.read)

    run(test)


def test_forget_matching_drops_only_the_entries_that_match() -> None:
    async def test() -> None:
        cache, _ = make_cache()
        stores = {key: Store(f"{key}-value") for key in ("ada-1", "ada-2", "bob-1")}
        for key, store in stores.items():
            await cache.get(key, store.read)

        cache.forget_matching(lambda value: value.startswith("ada"))

        for key, store in stores.items():
            await cache.get(key, store.read)
        assert {key: store.reads for key, store in stores.items()} == {
            "ada-1": 2,
            "ada-2": 2,
            "bob-1": 1,
        }

    run(test)


@pytest.mark.parametrize("change", ["expire_all", "forget"])
def test_a_look_up_under_way_during_a_change_answers_but_is_not_kept(change: str) -> None:
    """It may have read the store before the change: what it read must not be served after."""

    async def test() -> None:
        cache, _ = make_cache()
        store = Store("before")
        store.held = asyncio.Event()
        under_way = asyncio.create_task(cache.get("k", store.read))
        await reading(store)

        cache.expire_all() if change == "expire_all" else cache.forget("k")
        store.value = "after"
        store.held.set()

        assert await under_way == "before"
        store.held = None
        assert await cache.get("k", store.read) == "after"
        assert store.reads == 2

    run(test)


def test_a_look_up_after_a_change_does_not_wait_for_one_from_before() -> None:
    async def test() -> None:
        cache, _ = make_cache()
        old, new = Store("before"), Store("after")
        old.held = asyncio.Event()
        under_way = asyncio.create_task(cache.get("k", old.read))
        await reading(old)

        cache.expire_all()

        assert await cache.get("k", new.read) == "after"
        old.held.set()
        assert await under_way == "before"
        assert await cache.get("k", new.read) == "after"  # the older look-up stored nothing
        assert new.reads == 1

    run(test)


def test_look_ups_of_one_key_at_one_moment_share_one_read() -> None:
    async def test() -> None:
        cache, _ = make_cache()
        store = Store("ada")
        store.held = asyncio.Event()
        waiting = [asyncio.create_task(cache.get("k", store.read)) for _ in range(3)]
        await reading(store)
        store.held.set()
        assert await asyncio.gather(*waiting) == ["ada"] * 3
        assert store.reads == 1

    run(test)


def test_a_caller_that_goes_away_leaves_the_look_up_to_the_others() -> None:
    """Its client hung up: the read it began still answers everyone else waiting for it."""

    async def test() -> None:
        cache, _ = make_cache()
        store = Store("ada")
        store.held = asyncio.Event()
        first = asyncio.create_task(cache.get("k", store.read))
        await reading(store)
        second = asyncio.create_task(cache.get("k", store.read))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        store.held.set()
        assert await asyncio.wait_for(second, 2) == "ada"
        assert first.cancelled()
        assert await cache.get("k", store.read) == "ada"
        assert store.reads == 1

    run(test)


def test_the_cache_keeps_at_most_its_limit_the_least_recently_used_going_first() -> None:
    """Keys found to be nobody's (a flood of made-up keys) are kept apart: memory stays
    bounded, and they push out no real key."""

    async def test() -> None:
        clock = Clock()
        cache: _TTLCache[str] = _TTLCache(TTL_S, clock, max_entries=2)
        stores = {name: Store(name) for name in ("ada", "bob", "carl")}
        for name in ("ada", "bob"):
            assert await cache.get(name, stores[name].read) == name
        for i in range(50):
            assert await cache.get(f"made-up-{i}", Store(None).read) is None
        assert await cache.get("ada", stores["ada"].read) == "ada"  # used last: kept
        assert await cache.get("carl", stores["carl"].read) == "carl"  # bob goes
        assert await cache.get("ada", stores["ada"].read) == "ada"
        assert await cache.get("bob", stores["bob"].read) == "bob"
        assert {name: store.reads for name, store in stores.items()} == {
            "ada": 1,
            "bob": 2,
            "carl": 1,
        }

    run(test)
