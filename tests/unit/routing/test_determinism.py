"""Same snapshot, request and seed: same plan. The memoised part never changes an answer."""

from __future__ import annotations

import random
from decimal import Decimal

from switchboard.catalog.snapshot import CatalogSnapshot
from switchboard.routing import HealthView, RouteRequest, explain_route, plan_route
from switchboard.vocabulary import PowerLevel, Tier
from tests.unit.routing.catalogs import CatalogBuilder, plan, request


def busy_catalog() -> CatalogBuilder:
    catalog = CatalogBuilder()
    providers = [catalog.provider(is_byok_supported=True) for _ in range(3)]
    for number in range(12):
        catalog.routed(
            f"m{number}",
            provider=providers[number % 3],
            context_window=1000 * (number + 1),
            input_price=Decimal(number),
            rule={
                "priority": number % 3,
                "weight": number + 1,
                "task_type": "code" if number % 4 == 0 else "general",
                "max_tokens": 5000 if number % 2 else None,
                "requires_byok": number == 5,
                "is_fallback": number > 9,
                "user_tier": Tier.ENTERPRISE if number == 7 else None,
            },
        )
    catalog.ceiling(PowerLevel.BALANCED, "8")
    return catalog


REQUESTS = [
    request(),
    request(task="code"),
    request(task="code", tokens=100),
    request(task="translate", tokens=4000),
    request(tokens=6000),
    request(tier=Tier.ENTERPRISE),
    request(tier=Tier.FREE, power=PowerLevel.ECO),
    request(require_json_mode=True),
]


def ids(
    snapshot: CatalogSnapshot, route_request: RouteRequest, seed: int, **kw: object
) -> list[int]:
    route = plan(snapshot, route_request, seed=seed, **kw)  # type: ignore[arg-type]
    return [candidate.model.id for candidate in route.candidates]


def test_same_seed_same_plan() -> None:
    snapshot = busy_catalog().build()
    for route_request in REQUESTS:
        for seed in range(25):
            assert ids(snapshot, route_request, seed) == ids(snapshot, route_request, seed)


def test_same_seed_same_plan_on_an_equal_snapshot() -> None:
    first, second = busy_catalog().build(), busy_catalog().build()
    for route_request in REQUESTS:
        assert ids(first, route_request, 3) == ids(second, route_request, 3)


def test_different_seeds_may_differ() -> None:
    snapshot = busy_catalog().build()
    orders = {tuple(ids(snapshot, request(), seed)) for seed in range(50)}
    assert len(orders) > 1


def test_same_seed_same_explanation() -> None:
    snapshot = busy_catalog().build()
    for route_request in REQUESTS:
        first = explain_route(snapshot, route_request, rng=random.Random(11))
        second = explain_route(snapshot, route_request, rng=random.Random(11))
        assert first == second


def test_route_cache_memoises_per_token_independent_key() -> None:
    snapshot = busy_catalog().build()
    assert snapshot.route_cache == {}
    plan(snapshot, request(tokens=10))
    assert len(snapshot.route_cache) == 1
    (groups,) = snapshot.route_cache.values()
    plan(snapshot, request(tokens=999_999), byok=frozenset({1}))
    plan(snapshot, request(), health=HealthView(cooling_models=frozenset({1})))
    assert len(snapshot.route_cache) == 1
    assert next(iter(snapshot.route_cache.values())) is groups
    # A task no rule names shares the `general` entry.
    plan(snapshot, request(task="never-heard-of-it"))
    assert len(snapshot.route_cache) == 1
    plan(snapshot, request(task="code"))
    assert len(snapshot.route_cache) == 2


def test_a_warm_cache_gives_the_same_answers_as_a_cold_one() -> None:
    warm = busy_catalog().build()
    variants: list[dict[str, object]] = [
        {},
        {"byok": frozenset({1, 2, 3})},
        {"health": HealthView(cooling_providers=frozenset({2}))},
    ]
    for _ in range(2):
        for route_request in REQUESTS:
            for extra in variants:
                cold = busy_catalog().build()
                assert ids(warm, route_request, 5, **extra) == ids(cold, route_request, 5, **extra)


def test_repeated_calls_give_the_same_answer() -> None:
    snapshot = busy_catalog().build()
    route_request = request(task="code", tokens=3000)
    first = plan_route(snapshot, route_request, rng=random.Random(1)).candidates
    for _ in range(5):
        assert plan_route(snapshot, route_request, rng=random.Random(1)).candidates == first


def test_without_an_rng_the_candidate_set_is_still_fixed() -> None:
    snapshot = busy_catalog().build()
    seeded = set(ids(snapshot, request(), 0))
    for _ in range(10):
        unseeded = plan_route(snapshot, request())
        assert {candidate.model.id for candidate in unseeded.candidates} == seeded
