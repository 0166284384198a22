"""The snapshot's `route_cache`: bounded, and invisible in what `plan_route` answers."""

from __future__ import annotations

import itertools

import pytest

from switchboard.catalog.route_cache import RouteCache
from switchboard.catalog.snapshot import CatalogSnapshot
from switchboard.routing import RouteRequest
from switchboard.vocabulary import PowerLevel, Tier
from tests.unit.routing.catalogs import CatalogBuilder, plan, request

TASKS = [f"task-{number}" for number in range(40)]


def many_tasks_catalog(route_cache_size: int) -> CatalogSnapshot:
    """Rules for 40 task types and every power level: thousands of distinct cache keys."""
    catalog = CatalogBuilder()
    providers = [catalog.provider(is_byok_supported=True) for _ in range(3)]
    for number, task in enumerate(TASKS):
        for level in PowerLevel:
            model = catalog.model(
                f"{task}-{level}",
                provider=providers[number % 3],
                power_level=level,
                supports_vision=number % 2 == 0,
                supports_function_calling=number % 3 == 0,
            )
            catalog.rule(model, level, task_type=task, weight=number + 1)
            catalog.rule(model, level, priority=number % 4 + 1)
    return catalog.build(route_cache_size=route_cache_size)


def distinct_requests() -> list[RouteRequest]:
    needs = ("require_streaming", "require_function_calling", "require_vision")
    return [
        request(tier, level, task, 1000, **dict(zip(needs, flags, strict=True)))
        for flags, tier, level, task in itertools.product(
            itertools.product((False, True), repeat=len(needs)), Tier, PowerLevel, TASKS
        )
    ]


def ids(snapshot: CatalogSnapshot, route_request: RouteRequest, seed: int) -> list[int]:
    return [candidate.model.id for candidate in plan(snapshot, route_request, seed=seed).candidates]


def test_the_cache_never_holds_more_than_its_bound() -> None:
    snapshot = many_tasks_catalog(route_cache_size=16)
    requests = distinct_requests()
    assert len(requests) > 3000
    for route_request in requests:
        plan(snapshot, route_request)
        assert len(snapshot.route_cache) <= 16
    assert len(snapshot.route_cache) == 16


def test_plans_are_the_same_with_a_small_cache_a_large_one_and_none() -> None:
    # A bound of 7 evicts all the time; 0 recomputes every plan.
    snapshots = [many_tasks_catalog(size) for size in (0, 7, 100_000)]
    requests = distinct_requests()[::7]
    for round_number in range(2):  # the second round reads what the first one left
        for seed, route_request in enumerate(requests):
            plans = [ids(snapshot, route_request, seed + round_number) for snapshot in snapshots]
            assert plans[0] == plans[1] == plans[2], route_request
    assert len(snapshots[0].route_cache) == 0
    assert len(snapshots[1].route_cache) == 7
    assert len(snapshots[2].route_cache) == len(requests)


def test_the_oldest_entry_goes_first() -> None:
    cache: RouteCache[str, int] = RouteCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 3)
    assert cache.values() == (2, 3)


def test_a_zero_bound_stores_nothing_and_a_negative_one_is_refused() -> None:
    cache: RouteCache[str, int] = RouteCache(0)
    cache.put("a", 1)
    assert len(cache) == 0
    assert cache.get("a") is None
    with pytest.raises(ValueError, match="maxsize"):
        RouteCache(-1)


def test_a_new_snapshot_starts_with_an_empty_cache_of_the_default_size() -> None:
    snapshot = CatalogBuilder().build()
    assert len(snapshot.route_cache) == 0
    assert snapshot.route_cache.maxsize == 1024
