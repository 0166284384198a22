"""`CatalogSnapshot` lookups: models by name, and which model serves a deprecated one."""

from __future__ import annotations

import pytest

from switchboard.catalog.snapshot import CatalogSnapshot, parse_power_level, parse_tier
from switchboard.vocabulary import PowerLevel, Tier
from tests.unit.routing.catalogs import CatalogBuilder


def named_catalog() -> CatalogSnapshot:
    catalog = CatalogBuilder()
    openai = catalog.provider("openai")
    azure = catalog.provider("azure")
    catalog.model("gpt-x", provider=azure, id=7)
    catalog.model("gpt-x", provider=openai, id=3)
    catalog.model("mini", provider=openai, id=4)
    catalog.model("meta/llama", provider=azure, id=5)
    catalog.model("stray", provider=catalog.provider(id=9), id=6)
    del catalog.providers[9]
    return catalog.build()


@pytest.mark.parametrize(
    ("name", "expected_ids"),
    [
        ("gpt-x", [3, 7]),
        ("openai/gpt-x", [3]),
        ("azure/gpt-x", [7]),
        ("mini", [4]),
        ("openai/mini", [4]),
        ("azure/mini", []),
        ("meta/llama", [5]),
        ("azure/meta/llama", [5]),
        # A model whose provider is missing is found only by its bare id.
        ("stray", [6]),
        ("p9/stray", []),
        ("GPT-X", []),
        ("", []),
        ("openai/", []),
        ("unknown", []),
    ],
)
def test_find_models(name: str, expected_ids: list[int]) -> None:
    assert [model.id for model in named_catalog().find_models(name)] == expected_ids


def chain_catalog(links: dict[int, tuple[bool, int | None]]) -> CatalogSnapshot:
    """Models by id: (is_deprecated, replacement_id)."""
    catalog = CatalogBuilder()
    for db_id, (deprecated, replacement) in links.items():
        catalog.model(f"m{db_id}", id=db_id, is_deprecated=deprecated, replacement_id=replacement)
    return catalog.build()


@pytest.mark.parametrize(
    ("links", "start", "served_by"),
    [
        pytest.param({1: (False, None)}, 1, 1, id="current model serves itself"),
        pytest.param({1: (False, 2), 2: (False, None)}, 1, 1, id="replacement of a live model"),
        pytest.param({1: (True, None)}, 1, 1, id="deprecated without replacement"),
        pytest.param({1: (True, 2), 2: (False, None)}, 1, 2, id="one step"),
        pytest.param({1: (True, 2), 2: (True, 3), 3: (False, None)}, 1, 3, id="chain"),
        pytest.param({1: (True, 2), 2: (False, 3), 3: (False, None)}, 1, 2, id="stops at live"),
        pytest.param({1: (True, 99)}, 1, 1, id="missing replacement"),
        pytest.param({1: (True, 2), 2: (True, 99)}, 1, 2, id="missing further along"),
        pytest.param({1: (True, 1)}, 1, 1, id="self loop"),
        pytest.param({1: (True, 2), 2: (True, 1)}, 1, 2, id="two cycle"),
        pytest.param({1: (True, 2), 2: (True, 3), 3: (True, 2)}, 1, 3, id="cycle further along"),
    ],
)
def test_serving_model(
    links: dict[int, tuple[bool, int | None]], start: int, served_by: int
) -> None:
    snapshot = chain_catalog(links)
    assert snapshot.serving_model(snapshot.models[start]).id == served_by


def test_rules_are_indexed_by_power_level_and_task_types_collected() -> None:
    catalog = CatalogBuilder()
    model = catalog.model("m")
    eco = catalog.rule(model, PowerLevel.ECO, task_type="code")
    balanced = catalog.rule(model, PowerLevel.BALANCED)
    catalog.rule(model, None, task_type="orphan")
    snapshot = catalog.build()
    assert snapshot.rules_by_power == {
        PowerLevel.ECO: (eco,),
        PowerLevel.BALANCED: (balanced,),
        PowerLevel.PRECISION: (),
    }
    assert snapshot.task_types == {"code", "general", "orphan"}
    assert snapshot.price_ceiling(PowerLevel.ECO) is None


@pytest.mark.parametrize(
    ("value", "tier", "power"),
    [
        ("free", Tier.FREE, None),
        ("enterprise", Tier.ENTERPRISE, None),
        ("eco", None, PowerLevel.ECO),
        ("precision", None, PowerLevel.PRECISION),
        ("Free", None, None),
        ("gold", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_parse_tier_and_power_level(
    value: str | None, tier: Tier | None, power: PowerLevel | None
) -> None:
    assert parse_tier(value) is tier
    assert parse_power_level(value) is power


def test_tier_ranks_are_ordered() -> None:
    assert [
        tier.rank for tier in (Tier.FREE, Tier.STARTER, Tier.PROFESSIONAL, Tier.ENTERPRISE)
    ] == [
        0,
        1,
        2,
        3,
    ]
