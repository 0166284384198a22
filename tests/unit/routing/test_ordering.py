"""In which order the candidates come: rule kind, task, priority, model priority, weight, health."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.routing import HealthView, Verdict
from switchboard.vocabulary import HealthStatus
from tests.unit.routing.catalogs import CatalogBuilder, explain, plan, planned_ids, request

Spec = tuple[str, dict[str, Any], dict[str, Any]]
"""A model id, the fields of its one rule, and the model's own fields."""


def build(specs: list[Spec]) -> CatalogBuilder:
    catalog = CatalogBuilder()
    for model_id, rule, fields in specs:
        catalog.routed(model_id, rule=rule, **fields)
    return catalog


@pytest.mark.parametrize(
    ("specs", "task", "expected"),
    [
        pytest.param(
            [("fb", {"is_fallback": True, "priority": 1}, {}), ("main", {"priority": 50}, {})],
            "general",
            ["main", "fb"],
            id="non-fallback before fallback",
        ),
        pytest.param(
            [
                ("fb-exact", {"is_fallback": True, "task_type": "code", "priority": 1}, {}),
                ("main-general", {"priority": 90}, {}),
            ],
            "code",
            ["main-general", "fb-exact"],
            id="fallback loses even with an exact task",
        ),
        pytest.param(
            [("gen", {"priority": 1}, {}), ("exact", {"task_type": "code", "priority": 50}, {})],
            "code",
            ["exact", "gen"],
            id="exact task before general, whatever the priority",
        ),
        pytest.param(
            [
                ("p3", {"priority": 3}, {}),
                ("p1", {"priority": 1}, {}),
                ("p2", {"priority": 2}, {}),
            ],
            "general",
            ["p1", "p2", "p3"],
            id="priority 1 first",
        ),
        pytest.param(
            [
                ("m-late", {"priority": 5}, {"power_level_priority": 9}),
                ("m-early", {"priority": 5}, {"power_level_priority": 1}),
            ],
            "general",
            ["m-early", "m-late"],
            id="power_level_priority breaks a priority tie",
        ),
        pytest.param(
            [
                ("rule-first", {"priority": 1}, {"power_level_priority": 99}),
                ("model-first", {"priority": 2}, {"power_level_priority": 1}),
            ],
            "general",
            ["rule-first", "model-first"],
            id="rule priority before power_level_priority",
        ),
        pytest.param(
            [
                ("zero", {"weight": 0}, {}),
                ("heavy", {"weight": 1}, {}),
                ("negative", {"weight": -5}, {}),
            ],
            "general",
            ["heavy", "zero", "negative"],
            id="weight zero or less comes last among equals",
        ),
        pytest.param(
            [
                ("fb-2", {"is_fallback": True, "priority": 2}, {}),
                ("gen-1", {"priority": 1}, {}),
                ("fb-1", {"is_fallback": True, "priority": 1}, {}),
                ("exact-2", {"task_type": "code", "priority": 2}, {}),
                ("gen-2", {"priority": 2}, {}),
                ("exact-1", {"task_type": "code", "priority": 1}, {}),
            ],
            "code",
            ["exact-1", "exact-2", "gen-1", "gen-2", "fb-1", "fb-2"],
            id="all keys together",
        ),
    ],
)
def test_candidate_order(specs: list[Spec], task: str, expected: list[str]) -> None:
    snapshot = build(specs).build()
    for seed in range(20):
        assert planned_ids(snapshot, request(task=task), seed=seed) == expected


def test_equal_weights_are_shuffled() -> None:
    snapshot = build([("a", {}, {}), ("b", {}, {}), ("c", {}, {})]).build()
    orders = {tuple(planned_ids(snapshot, request(), seed=seed)) for seed in range(200)}
    assert len(orders) == 6


def test_weighted_choice_only_among_true_ties() -> None:
    """A heavy weight never lifts a rule above a better priority."""
    specs: list[Spec] = [
        ("light", {"priority": 1, "weight": 1}, {}),
        ("heavy", {"priority": 2, "weight": 10**6}, {}),
    ]
    snapshot = build(specs).build()
    for seed in range(50):
        assert planned_ids(snapshot, request(), seed=seed) == ["light", "heavy"]


THREE: list[Spec] = [
    ("a", {"priority": 1}, {}),
    ("b", {"priority": 2}, {}),
    ("c", {"priority": 3}, {}),
]


@pytest.mark.parametrize(
    ("statuses", "cooling_providers", "cooling_models", "expected"),
    [
        ({}, set(), set(), ["a", "b", "c"]),
        ({}, {"a"}, set(), ["b", "c", "a"]),
        ({}, set(), {"b"}, ["a", "c", "b"]),
        ({}, {"a", "b"}, set(), ["c", "a", "b"]),
        ({}, {"a"}, {"b", "c"}, ["a", "b", "c"]),
        ({"a": HealthStatus.DOWN}, set(), set(), ["b", "c", "a"]),
        ({"a": HealthStatus.UNHEALTHY}, set(), set(), ["b", "c", "a"]),
        ({"a": "down"}, set(), set(), ["b", "c", "a"]),
        ({"a": HealthStatus.DEGRADED}, set(), set(), ["a", "b", "c"]),
        ({"a": HealthStatus.HEALTHY}, set(), set(), ["a", "b", "c"]),
        ({"a": HealthStatus.UNKNOWN}, set(), set(), ["a", "b", "c"]),
        # Demoted candidates keep their relative order behind the others.
        ({"a": HealthStatus.DOWN}, set(), {"b"}, ["c", "a", "b"]),
        ({"b": HealthStatus.UNHEALTHY}, {"a"}, set(), ["c", "a", "b"]),
    ],
)
def test_unhealthy_and_cooling_go_last_never_dropped(
    statuses: dict[str, str],
    cooling_providers: set[str],
    cooling_models: set[str],
    expected: list[str],
) -> None:
    """Each model has its own provider, named like it."""
    catalog = CatalogBuilder()
    ids: dict[str, tuple[int, int]] = {}
    for model_id, rule, _ in THREE:
        provider = catalog.provider(
            model_id, health_status=statuses.get(model_id, HealthStatus.UNKNOWN)
        )
        model = catalog.routed(model_id, provider=provider, rule=rule)
        ids[model_id] = (provider.id, model.id)
    health = HealthView(
        cooling_providers=frozenset(ids[name][0] for name in cooling_providers),
        cooling_models=frozenset(ids[name][1] for name in cooling_models),
    )
    snapshot = catalog.build()
    route = plan(snapshot, request(), health=health)
    assert [c.model.model_id for c in route.candidates] == expected
    demoted = {
        name
        for name in ids
        if name in cooling_providers
        or name in cooling_models
        or statuses.get(name) in {HealthStatus.DOWN, HealthStatus.UNHEALTHY}
    }
    assert {c.model.model_id for c in route.candidates if c.demoted} == demoted

    verdicts = explain(snapshot, request(), health=health)
    for name, verdict in verdicts.items():
        assert verdict.position == expected.index(name) + 1
        noted = any("tried last" in note for note in verdict.notes)
        assert noted is (name in demoted)


def test_cooling_primary_goes_behind_a_healthy_fallback() -> None:
    catalog = CatalogBuilder()
    primary = catalog.routed("primary")
    catalog.routed("backup", provider=catalog.provider(), rule={"is_fallback": True})
    health = HealthView(cooling_providers=frozenset({primary.provider_id}))
    assert planned_ids(catalog.build(), request(), health=health) == ["backup", "primary"]


def test_a_cooling_model_does_not_demote_its_provider_siblings() -> None:
    catalog = CatalogBuilder()
    first = catalog.routed("first", rule={"priority": 1})
    catalog.routed("second", rule={"priority": 2})
    health = HealthView(cooling_models=frozenset({first.id}))
    assert planned_ids(catalog.build(), request(), health=health) == ["second", "first"]


@pytest.mark.parametrize(
    ("x_rules", "task", "tokens", "byok", "expected", "x_rule"),
    [
        pytest.param(
            [{"priority": 5, "id": 10}, {"priority": 1, "id": 11}],
            "general",
            None,
            False,
            ["x", "y"],
            11,
            id="best priority wins",
        ),
        pytest.param(
            [{"is_fallback": True, "priority": 1, "id": 10}, {"priority": 9, "id": 11}],
            "general",
            None,
            False,
            ["y", "x"],
            11,
            id="non-fallback rule wins over fallback",
        ),
        pytest.param(
            [{"priority": 1, "id": 10}, {"task_type": "code", "priority": 9, "id": 11}],
            "code",
            None,
            False,
            ["x", "y"],
            11,
            id="exact task rule wins",
        ),
        pytest.param(
            [{"priority": 1, "id": 10, "max_tokens": 100}, {"priority": 9, "id": 11}],
            "general",
            500,
            False,
            ["y", "x"],
            11,
            id="best rule out of bounds, next one places it",
        ),
        pytest.param(
            [{"priority": 1, "id": 10, "requires_byok": True}, {"priority": 9, "id": 11}],
            "general",
            None,
            False,
            ["y", "x"],
            11,
            id="best rule needs BYOK, next one places it",
        ),
        pytest.param(
            [{"priority": 1, "id": 10, "requires_byok": True}, {"priority": 9, "id": 11}],
            "general",
            None,
            True,
            ["x", "y"],
            10,
            id="best rule needs BYOK and has it",
        ),
        pytest.param(
            [{"is_fallback": True, "id": 10}, {"is_fallback": True, "priority": 7, "id": 11}],
            "general",
            None,
            False,
            ["y", "x"],
            11,
            id="two fallback rules",
        ),
    ],
)
def test_model_reachable_by_several_rules_appears_once_at_its_best(
    x_rules: list[dict[str, Any]],
    task: str,
    tokens: int | None,
    byok: bool,
    expected: list[str],
    x_rule: int,
) -> None:
    catalog = CatalogBuilder()
    provider = catalog.provider(is_byok_supported=True)
    x = catalog.model("x", provider=provider)
    for fields in x_rules:
        catalog.rule(x, **fields)
    catalog.routed("y", provider=provider, rule={"priority": 3, "id": 20})
    snapshot = catalog.build()
    keys = frozenset({provider.id}) if byok else frozenset()
    for seed in range(10):
        route = plan(snapshot, request(task=task, tokens=tokens), byok=keys, seed=seed)
        assert [c.model.model_id for c in route.candidates] == expected
        (candidate,) = [c for c in route.candidates if c.model.model_id == "x"]
        assert candidate.rule.id == x_rule
    verdict = explain(snapshot, request(task=task, tokens=tokens), byok=keys)["x"]
    assert verdict.rule_id == x_rule
    assert verdict.verdict in {Verdict.CHOSEN, Verdict.FALLBACK}


def test_same_model_twice_in_one_tie_group_appears_once() -> None:
    catalog = CatalogBuilder()
    x = catalog.model("x")
    catalog.rule(x, weight=1)
    catalog.rule(x, weight=50)
    catalog.routed("y")
    snapshot = catalog.build()
    for seed in range(50):
        ids = planned_ids(snapshot, request(), seed=seed)
        assert sorted(ids) == ["x", "y"]
