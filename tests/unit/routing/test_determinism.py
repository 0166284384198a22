"""Same snapshot, request and seed: same plan. The memoised part never changes an answer."""

from __future__ import annotations

import random
from decimal import Decimal

from switchboard.routing import HealthView, RoutePlan, explain_route, plan_route
from switchboard.routing.health import HEALTHY
from switchboard.vocabulary import PowerLevel, Tier
from tests.unit.routing.catalogs import CatalogBuilder, plan, planned_ids, request


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


def ids_of(route: RoutePlan) -> list[str]:
    return [candidate.model.model_id for candidate in route.candidates]


def test_same_seed_same_plan() -> None:
    snapshot = busy_catalog().build()
    for route_request in REQUESTS:
        for seed in range(25):
            first = planned_ids(snapshot, route_request, seed=seed)
            assert planned_ids(snapshot, route_request, seed=seed) == first


def test_same_seed_same_plan_on_an_equal_snapshot() -> None:
    first, second = busy_catalog().build(), busy_catalog().build()
    for route_request in REQUESTS:
        expected = planned_ids(first, route_request, seed=3)
        assert planned_ids(second, route_request, seed=3) == expected


def test_different_seeds_may_differ() -> None:
    snapshot = busy_catalog().build()
    orders = {tuple(planned_ids(snapshot, request(), seed=seed)) for seed in range(50)}
    assert len(orders) > 1


def test_same_seed_same_explanation() -> None:
    snapshot = busy_catalog().build()
    for route_request in REQUESTS:
        first = explain_route(snapshot, route_request, rng=random.Random(11))
        second = explain_route(snapshot, route_request, rng=random.Random(11))
        assert first == second


def test_route_cache_memoises_per_token_independent_key() -> None:
    snapshot = busy_catalog().build()
    assert len(snapshot.route_cache) == 0
    plan(snapshot, request(tokens=10))
    assert len(snapshot.route_cache) == 1
    (groups,) = snapshot.route_cache.values()
    plan(snapshot, request(tokens=999_999), byok=frozenset({1}))
    plan(snapshot, request(), health=HealthView(cooling_models=frozenset({1})))
    assert len(snapshot.route_cache) == 1
    assert snapshot.route_cache.values()[0] is groups
    # A task no rule names shares the `general` entry.
    plan(snapshot, request(task="never-heard-of-it"))
    assert len(snapshot.route_cache) == 1
    plan(snapshot, request(task="code"))
    assert len(snapshot.route_cache) == 2


def test_a_warm_cache_gives_the_same_answers_as_a_cold_one() -> None:
    warm = busy_catalog().build()
    variants = [
        (frozenset[int](), HEALTHY),
        (frozenset({1, 2, 3}), HEALTHY),
        (frozenset[int](), HealthView(cooling_providers=frozenset({2}))),
    ]
    for _ in range(2):
        for route_request in REQUESTS:
            for byok, health in variants:
                cold = busy_catalog().build()
                options = {"seed": 5, "byok": byok, "health": health}
                expected = planned_ids(cold, route_request, **options)
                assert planned_ids(warm, route_request, **options) == expected


def test_repeated_calls_give_the_same_answer() -> None:
    snapshot = busy_catalog().build()
    route_request = request(task="code", tokens=3000)
    first = plan_route(snapshot, route_request, rng=random.Random(1))
    for _ in range(5):
        again = plan_route(snapshot, route_request, rng=random.Random(1))
        assert again.candidates == first.candidates


def test_without_an_rng_the_candidate_set_is_still_fixed() -> None:
    snapshot = busy_catalog().build()
    seeded = set(planned_ids(snapshot, request(), seed=0))
    for _ in range(10):
        assert set(ids_of(plan_route(snapshot, request()))) == seeded


def test_walking_a_plan_in_steps_gives_the_same_order() -> None:
    """The plan is produced lazily; how it is read must not change what it says."""
    snapshot = busy_catalog().build()
    for seed in range(20):
        expected = planned_ids(snapshot, request(), seed=seed)
        route = plan(snapshot, request(), seed=seed)
        choice = route.choice
        usable = route.usable_choice
        assert choice is not None
        assert usable is not None
        assert choice.model.model_id == expected[0]
        assert [candidate.model.model_id for candidate in route] == expected
        assert ids_of(route) == expected
        assert ids_of(route) == expected


def test_plans_from_one_rng_read_at_once_match_an_eager_planner() -> None:
    snapshot = busy_catalog().build()
    rng = random.Random(8)
    first = ids_of(plan_route(snapshot, request(), rng=rng))
    second = ids_of(plan_route(snapshot, request(), rng=rng))
    rng = random.Random(8)
    assert ids_of(plan_route(snapshot, request(), rng=rng)) == first
    assert ids_of(plan_route(snapshot, request(), rng=rng)) == second


def test_the_plan_is_fixed_when_plan_route_returns() -> None:
    snapshot = busy_catalog().build()
    expected = ids_of(plan_route(snapshot, request(), rng=random.Random(8)))
    rng = random.Random(8)
    route = plan_route(snapshot, request(), rng=rng)
    _ = plan_route(snapshot, request(), rng=rng).candidates  # another plan, read first
    assert ids_of(route) == expected
