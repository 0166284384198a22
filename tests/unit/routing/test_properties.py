"""Invariants over random small catalogs, checked against an independent statement of the rules.

The oracle below restates the design's routing semantics without calling `routing.checks`, so
a mistake there shows up as a disagreement here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.catalog.snapshot import CatalogSnapshot, ModelInfo, ProviderInfo, RuleInfo
from switchboard.routing import (
    Candidate,
    HealthView,
    RoutePlan,
    RouteRequest,
    Verdict,
    explain_route,
    plan_route,
)
from switchboard.vocabulary import AuthType, HealthStatus, KeySource, PowerLevel, Tier
from tests.unit.routing.catalogs import CatalogBuilder

T = TypeVar("T")
# The tier order, restated rather than read from `Tier.rank`.
TIER_ORDER = ["free", "starter", "professional", "enterprise"]
TASKS = ["general", "code", "writing"]

COIN = st.booleans()
MOSTLY = st.sampled_from([True, True, False])
ANY_TIER = st.sampled_from([*Tier, None])
ANY_POWER = st.sampled_from([*PowerLevel, None])
ANY_USER_TIER = st.sampled_from([None, *Tier])
ANY_TASK = st.sampled_from(TASKS)
SOUND_PRICE = st.sampled_from([Decimal(0), Decimal("0.15"), Decimal("0.5")])
ANY_PRICE = st.sampled_from([Decimal(0), Decimal("0.5"), Decimal("0.6"), Decimal(2), Decimal(8)])
SMALL_INTS = st.integers(1, 3)
WEIGHTS = st.sampled_from([0, 1, 3, 100])
CEILINGS = st.sampled_from([None, None, Decimal("0.5"), Decimal(2)])
TOKENS = st.one_of(st.none(), st.sampled_from([0, 100, 800, 1000, 4000]), st.integers(0, 10**5))
SEEDS = st.integers(0, 2**32)
REQUESTS = st.builds(
    RouteRequest,
    user_tier=st.sampled_from(list(Tier)),
    power_level=st.sampled_from(list(PowerLevel)),
    task_type=st.sampled_from([*TASKS, "unknown"]),
    estimated_tokens=TOKENS,
    require_streaming=MOSTLY,
    require_function_calling=MOSTLY,
    require_vision=MOSTLY,
    require_json_mode=MOSTLY,
)

PROPERTY_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    database=None,
    # tests/conftest.py's autouse fixture (a clean environment) is function-scoped; these
    # tests read neither the environment nor the working directory.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@dataclass(frozen=True)
class Case:
    snapshot: CatalogSnapshot
    request: RouteRequest
    byok: frozenset[int]
    health: HealthView
    seed: int


def tiers_up_to(tier: Tier) -> st.SearchStrategy[Tier]:
    return st.sampled_from([t for t in Tier if t.rank <= tier.rank])


class Row:
    """Draws the fields of one provider, model or rule that decide whether it may serve the
    request. Half the rows are sound (every such field suits the request); most others have one
    wild field, drawn from all values, that may or may not suit it; a few are wild throughout.
    Wholly random rows would leave nearly every plan empty, and a single wild field puts each
    check on its boundary by itself."""

    def __init__(self, draw: st.DrawFn, *names: str) -> None:
        self.draw = draw
        self.wild = draw(st.sampled_from([*["none"] * len(names), *names, "all"]))

    def __call__(self, name: str, sound: st.SearchStrategy[T], wild: st.SearchStrategy[T]) -> T:
        return self.draw(wild if self.wild in (name, "all") else sound)


HEALTH = st.sampled_from([*[HealthStatus.HEALTHY] * 4, *HealthStatus])
YES = st.just(True)
NO = st.just(False)


def draw_provider(draw: st.DrawFn, provider_id: int, request: RouteRequest) -> ProviderInfo:
    row = Row(draw, "active", "streaming", "functions", "vision", "tier")
    return ProviderInfo(
        id=provider_id,
        slug=f"p{provider_id}",
        name=f"Provider {provider_id}",
        auth_type=draw(st.sampled_from(list(AuthType))),
        is_active=row("active", YES, COIN),
        is_byok_supported=draw(COIN),
        supports_streaming=row("streaming", YES, COIN),
        supports_function_calling=row("functions", YES, COIN),
        supports_vision=row("vision", YES, COIN),
        min_tier=row("tier", tiers_up_to(request.user_tier), ANY_TIER),
        health_status=draw(HEALTH),
        has_system_key=draw(COIN),
    )


def draw_model(
    draw: st.DrawFn, model_id: int, provider_ids: st.SearchStrategy[int], request: RouteRequest
) -> ModelInfo:
    row = Row(
        draw, "price", "context", "streaming", "functions", "vision", "json", "active", "tier"
    )
    tokens = request.estimated_tokens
    price = row("price", st.tuples(SOUND_PRICE, SOUND_PRICE), st.tuples(ANY_PRICE, ANY_PRICE))
    return ModelInfo(
        id=model_id,
        provider_id=draw(provider_ids),
        model_id=f"m{model_id}",
        name=f"Model {model_id}",
        input_price=price[0],
        output_price=price[1],
        context_window=row(
            "context",
            st.sampled_from([None, 10**6, tokens]),
            st.sampled_from([None, 500, 4000, max(0, (tokens or 0) - 1)]),
        ),
        supports_streaming=row("streaming", YES, COIN),
        supports_function_calling=row("functions", YES, COIN),
        supports_vision=row("vision", YES, COIN),
        supports_json_mode=row("json", YES, COIN),
        power_level_priority=draw(SMALL_INTS),
        is_active=row("active", YES, COIN),
        is_deprecated=row("active", NO, COIN),
        min_tier=row("tier", tiers_up_to(request.user_tier), ANY_TIER),
    )


def draw_rule(
    draw: st.DrawFn, rule_id: int, model_ids: st.SearchStrategy[int], request: RouteRequest
) -> RuleInfo:
    row = Row(draw, "power", "tier", "task", "min", "max", "byok", "active")
    tokens = request.estimated_tokens
    near = [] if tokens is None else [tokens + 1, max(0, tokens - 1)]
    return RuleInfo(
        id=rule_id,
        model_id=draw(model_ids),
        power_level=row("power", st.just(request.power_level), ANY_POWER),
        user_tier=row("tier", st.sampled_from([None, request.user_tier]), ANY_USER_TIER),
        user_tier_invalid=row("tier", NO, st.sampled_from([False, False, True])),
        task_type=row("task", st.sampled_from(["general", request.task_type]), ANY_TASK),
        priority=draw(SMALL_INTS),
        weight=draw(WEIGHTS),
        min_tokens=row(
            "min", st.sampled_from([None, 0, tokens]), st.sampled_from([None, 100, 1000, *near])
        ),
        max_tokens=row(
            "max", st.sampled_from([None, tokens]), st.sampled_from([None, 800, 5000, *near])
        ),
        requires_byok=row("byok", NO, COIN),
        is_fallback=draw(st.sampled_from([False, False, True])),
        is_active=row("active", YES, COIN),
    )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    request = draw(REQUESTS)
    provider_ids = list(range(1, draw(SMALL_INTS) + 1))
    model_ids = list(range(1, draw(st.integers(1, 6)) + 1))
    rule_count = draw(st.integers(0, 12))
    ceilings = {level: ceiling for level in PowerLevel if (ceiling := draw(CEILINGS)) is not None}
    # Now and then a model of a provider, or a rule for a model, that does not exist.
    model_providers = st.sampled_from([*provider_ids * 8, 99])
    rule_models = st.sampled_from([*model_ids * 8, 77])
    snapshot = CatalogSnapshot(
        providers={pid: draw_provider(draw, pid, request) for pid in provider_ids},
        models={mid: draw_model(draw, mid, model_providers, request) for mid in model_ids},
        rules=tuple(draw_rule(draw, rid, rule_models, request) for rid in range(1, rule_count + 1)),
        price_ceilings=ceilings,
    )
    some_providers = st.frozensets(st.sampled_from(provider_ids), max_size=2)
    some_models = st.frozensets(st.sampled_from(model_ids), max_size=2)
    one_provider = st.frozensets(st.sampled_from(provider_ids), max_size=1)
    health = HealthView(cooling_providers=draw(one_provider), cooling_models=draw(some_models))
    return Case(
        snapshot=snapshot,
        request=request,
        byok=draw(some_providers),
        health=health,
        seed=draw(SEEDS),
    )


def rule_matches(case: Case, rule: RuleInfo) -> bool:
    """The design's "Routing semantics", restated."""
    request = case.request
    model = case.snapshot.models.get(rule.model_id)
    provider = case.snapshot.providers.get(model.provider_id) if model else None
    if model is None or provider is None:
        return False
    tier = TIER_ORDER.index(request.user_tier)
    tokens = request.estimated_tokens
    ceiling = case.snapshot.price_ceilings.get(request.power_level)
    return (
        rule.is_active
        and model.is_active
        and provider.is_active
        and not model.is_deprecated
        and model.min_tier is not None
        and provider.min_tier is not None
        and TIER_ORDER.index(model.min_tier) <= tier
        and TIER_ORDER.index(provider.min_tier) <= tier
        and rule.power_level == request.power_level
        and not rule.user_tier_invalid
        and rule.user_tier in (None, request.user_tier)
        and rule.task_type in (request.task_type, "general")
        and (tokens is None or rule.min_tokens is None or tokens >= rule.min_tokens)
        and (tokens is None or rule.max_tokens is None or tokens <= rule.max_tokens)
        and (tokens is None or model.context_window is None or tokens <= model.context_window)
        and (not request.require_streaming or model.supports_streaming)
        and (not request.require_streaming or provider.supports_streaming)
        and (not request.require_function_calling or model.supports_function_calling)
        and (not request.require_function_calling or provider.supports_function_calling)
        and (not request.require_vision or (model.supports_vision and provider.supports_vision))
        and (not request.require_json_mode or model.supports_json_mode)
        and (ceiling is None or (3 * model.input_price + model.output_price) / 4 <= ceiling)
        and (not rule.requires_byok or provider.id in case.byok)
    )


def order_key(case: Case, rule: RuleInfo) -> tuple[bool, bool, int, int]:
    model = case.snapshot.models[rule.model_id]
    exact = rule.task_type == case.request.task_type
    return (rule.is_fallback, not exact, rule.priority, model.power_level_priority)


def best_keys(case: Case) -> dict[int, tuple[bool, bool, int, int]]:
    """For each model that some rule places, the best place any matching rule gives it."""
    best: dict[int, tuple[bool, bool, int, int]] = {}
    for rule in case.snapshot.rules:
        if rule_matches(case, rule):
            key = order_key(case, rule)
            best[rule.model_id] = min(key, best.get(rule.model_id, key))
    return best


def should_demote(case: Case, model: ModelInfo, provider: ProviderInfo) -> bool:
    return (
        provider.health_status in ("down", "unhealthy")
        or provider.id in case.health.cooling_providers
        or model.id in case.health.cooling_models
    )


def run(case: Case) -> RoutePlan:
    return plan_route(
        case.snapshot,
        case.request,
        byok_providers=case.byok,
        health=case.health,
        rng=random.Random(case.seed),
    )


def no_duplicate_models(case: Case, candidates: tuple[Candidate, ...]) -> None:
    ids = [candidate.model.id for candidate in candidates]
    assert len(ids) == len(set(ids)), f"a model twice in {ids}"


def exactly_the_matching_models(case: Case, candidates: tuple[Candidate, ...]) -> None:
    assert {candidate.model.id for candidate in candidates} == set(best_keys(case))


def each_passes_every_check_through_its_best_rule(
    case: Case, candidates: tuple[Candidate, ...]
) -> None:
    best = best_keys(case)
    for candidate in candidates:
        assert candidate.rule.model_id == candidate.model.id
        assert candidate.provider.id == candidate.model.provider_id
        assert rule_matches(case, candidate.rule), candidate.rule
        assert order_key(case, candidate.rule) == best[candidate.model.id], candidate.rule


def demoted_last_each_part_in_rule_order(case: Case, candidates: tuple[Candidate, ...]) -> None:
    flags = [candidate.demoted for candidate in candidates]
    assert flags == sorted(flags), "a demoted candidate came before one that is not"
    for candidate in candidates:
        assert candidate.demoted == should_demote(case, candidate.model, candidate.provider)
    for part in (False, True):
        keys = [order_key(case, c.rule) for c in candidates if c.demoted is part]
        assert keys == sorted(keys)


def key_source_and_usable_key(case: Case, candidates: tuple[Candidate, ...]) -> None:
    for candidate in candidates:
        provider = candidate.provider
        byok = provider.is_byok_supported and provider.id in case.byok
        assert candidate.key_source == (KeySource.BYOK if byok else KeySource.SYSTEM)
        usable = byok or provider.has_system_key or provider.auth_type is AuthType.NONE
        assert candidate.has_usable_key == usable


@settings(PROPERTY_SETTINGS, max_examples=80)
@given(cases())
def test_plan_invariants(case: Case) -> None:
    route = run(case)
    candidates = route.candidates
    no_duplicate_models(case, candidates)
    exactly_the_matching_models(case, candidates)
    each_passes_every_check_through_its_best_rule(case, candidates)
    demoted_last_each_part_in_rule_order(case, candidates)
    key_source_and_usable_key(case, candidates)
    usable = [c for c in candidates if c.has_usable_key]
    assert route.choice is (candidates[0] if candidates else None)
    assert route.usable_choice is (usable[0] if usable else route.choice)


@PROPERTY_SETTINGS
@given(cases())
def test_plan_equals_what_explain_does_not_reject(case: Case) -> None:
    route = run(case)
    verdicts = explain_route(
        case.snapshot,
        case.request,
        byok_providers=case.byok,
        health=case.health,
        rng=random.Random(case.seed),
    )
    assert sorted(v.model_db_id for v in verdicts) == sorted(case.snapshot.models)
    kept = [v for v in verdicts if v.verdict is not Verdict.REJECTED]
    assert [v.model_db_id for v in kept] == [c.model.id for c in route.candidates]
    assert [v.position for v in kept] == list(range(1, len(kept) + 1))
    chosen = [v.model_db_id for v in verdicts if v.verdict is Verdict.CHOSEN]
    usable = route.usable_choice
    assert chosen == ([usable.model.id] if usable else [])
    for verdict in verdicts:
        assert (verdict.reason is None) == (verdict.verdict is not Verdict.REJECTED)
        # Said only when a model passes every check yet the plan left it out.
        assert verdict.detail != "no rule placed it", verdict


@PROPERTY_SETTINGS
@given(cases())
def test_same_seed_same_plan_warm_or_cold(case: Case) -> None:
    first = run(case).candidates
    assert run(case).candidates == first
    cold = CatalogSnapshot(
        providers=case.snapshot.providers,
        models=case.snapshot.models,
        rules=case.snapshot.rules,
        price_ceilings=case.snapshot.price_ceilings,
    )
    assert run(replace(case, snapshot=cold)).candidates == first


@PROPERTY_SETTINGS
@given(cases(), st.lists(REQUESTS, max_size=6))
def test_same_plan_with_and_without_the_memo(case: Case, others: list[RouteRequest]) -> None:
    """Whatever other requests filled, or evicted from, a one-entry memo first."""

    def rebuilt(route_cache_size: int) -> CatalogSnapshot:
        return CatalogSnapshot(
            providers=case.snapshot.providers,
            models=case.snapshot.models,
            rules=case.snapshot.rules,
            price_ceilings=case.snapshot.price_ceilings,
            route_cache_size=route_cache_size,
        )

    without, tiny = rebuilt(0), rebuilt(1)
    for other in others:
        run(replace(case, snapshot=tiny, request=other))
    expected = run(replace(case, snapshot=without)).candidates
    assert run(replace(case, snapshot=tiny)).candidates == expected
    assert run(replace(case, snapshot=tiny)).candidates == expected
    assert run(case).candidates == expected
    assert len(without.route_cache) == 0
    assert len(tiny.route_cache) == 1


def heavy_first_share(weights: tuple[int, int], draws: int, seed: int) -> float:
    catalog = CatalogBuilder()
    catalog.routed("light", rule={"weight": weights[0]})
    catalog.routed("heavy", rule={"weight": weights[1]})
    snapshot = catalog.build()
    request = RouteRequest(user_tier=Tier.FREE, power_level=PowerLevel.BALANCED)
    rng = random.Random(seed)
    heavy_first = 0
    for _ in range(draws):
        choice = plan_route(snapshot, request, rng=rng).choice
        assert choice is not None
        heavy_first += choice.model.model_id == "heavy"
    return heavy_first / draws


def test_weights_one_and_three_put_the_heavier_first_three_times_in_four() -> None:
    # 4000 draws: the standard deviation of the share is under 0.007; 0.035 is five of them.
    share = heavy_first_share((1, 3), draws=4000, seed=1234)
    assert abs(share - 0.75) < 0.035


def test_equal_weights_are_a_fair_coin() -> None:
    share = heavy_first_share((5, 5), draws=4000, seed=99)
    assert abs(share - 0.5) < 0.04


def test_three_weights_converge() -> None:
    catalog = CatalogBuilder()
    for name, weight in (("a", 1), ("b", 2), ("c", 5)):
        catalog.routed(name, rule={"weight": weight})
    snapshot = catalog.build()
    request = RouteRequest(user_tier=Tier.FREE, power_level=PowerLevel.BALANCED)
    rng = random.Random(7)
    firsts = {"a": 0, "b": 0, "c": 0}
    draws = 4000
    for _ in range(draws):
        choice = plan_route(snapshot, request, rng=rng).choice
        assert choice is not None
        firsts[choice.model.model_id] += 1
    for name, expected in (("a", 1 / 8), ("b", 2 / 8), ("c", 5 / 8)):
        assert abs(firsts[name] / draws - expected) < 0.035
