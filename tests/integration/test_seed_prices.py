"""The starter catalog against the price map it was taken from (the trimmed copy of LiteLLM's
map in the test data): every seeded model of a real provider has the map's prices, tiers and
limits, and every provider family serves every tier at every power level with a current model.

After `make refresh-prices PRICE_MAP=… VERSION=…` this is the test to run."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from switchboard.pricing import blended_price, tiers_from_json
from switchboard.services.price_map import PriceMap, load_price_map
from switchboard.services.seed_prices import (
    MAP_PROVIDERS,
    dump_seed,
    refresh_seed,
    seed_differences,
    seeded_entries,
)
from switchboard.services.seeding import CATALOG_PACKAGE, CATALOG_RESOURCE
from switchboard.settings import Settings
from switchboard.vocabulary import PowerLevel, Tier
from tests.price_maps import PRICE_MAP

SEED_FILE = resources.files(CATALOG_PACKAGE).joinpath(CATALOG_RESOURCE)


def price_map() -> PriceMap:
    return load_price_map(PRICE_MAP.read_bytes(), source=str(PRICE_MAP), providers=MAP_PROVIDERS)


def seed_document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SEED_FILE.read_text("utf-8"), parse_float=Decimal)
    return loaded


def test_every_seeded_model_has_the_maps_prices_tiers_and_limits() -> None:
    assert seed_differences(seed_document(), price_map()) == []


def test_every_seeded_model_of_a_map_provider_names_its_entry_or_is_retired() -> None:
    entries = seeded_entries(seed_document())
    assert {slug for slug, _, _ in entries} == set(MAP_PROVIDERS)
    retired = [model["model_id"] for _, model, key in entries if key is None]
    assert retired == [
        "claude-3-5-haiku-20241022",
        "claude-sonnet-4-20250514",
        "claude-opus-4-20250514",
        "gemini-2.0-flash",
        "llama-3.1-8b-instant",
        "llama-3.3-70b-versatile",
    ]


def test_the_seed_records_the_maps_version_and_date() -> None:
    seed = seed_document()
    assert seed["prices_as_of"] == "2026-12-05"
    assert seed["price_map"]["version"] == "1.110.2"
    assert "MIT" in seed["price_map"]["license"]


def test_a_difference_is_named() -> None:
    seed = seed_document()
    luna = next(m for _, m, _ in seeded_entries(seed) if m["model_id"] == "gpt-6-luna")
    luna["cost_per_1m_output_tokens"] = Decimal("0.6")
    assert seed_differences(seed, price_map()) == [
        "openai/gpt-6-luna: cost_per_1m_output_tokens is Decimal('0.6'), the map's "
        "Decimal('0.500000')"
    ]


def test_refreshing_from_the_same_map_rewrites_the_same_file() -> None:
    seed = seed_document()
    notes = refresh_seed(seed, price_map(), as_of=date(2026, 12, 5))
    assert notes == []
    assert dump_seed(seed) == SEED_FILE.read_text("utf-8")


def _current(model: dict[str, Any]) -> bool:
    return not model.get("is_deprecated") and model.get("is_active", True)


@pytest.mark.parametrize("slug", MAP_PROVIDERS)
def test_every_family_serves_every_tier_and_power_level_with_a_current_model(slug: str) -> None:
    """A rule for the level (any tier) on a current model the tier may use and the level's
    ceiling allows; where no current model of the family is under the ceiling, none is
    expected (DeepSeek at eco)."""
    ceilings = {
        PowerLevel.ECO: Settings(_env_file=None).price_ceiling_eco,
        PowerLevel.BALANCED: None,
        PowerLevel.PRECISION: None,
    }
    provider = next(p for p in seed_document()["providers"] if p["provider_slug"] == slug)
    current = [m for m in provider["models"] if _current(m)]
    for level in PowerLevel:
        ceiling = ceilings[level]

        def affordable(model: dict[str, Any], ceiling: Decimal | None = ceiling) -> bool:
            blended = blended_price(
                Decimal(model["cost_per_1m_input_tokens"]),
                Decimal(model["cost_per_1m_output_tokens"]),
            )
            return ceiling is None or blended <= ceiling

        if not any(affordable(m) for m in current):
            assert (slug, level) == ("deepseek", PowerLevel.ECO)
            continue
        for tier in Tier:
            serving = [
                m["model_id"]
                for m in current
                if Tier(m["min_tier_required"]).rank <= tier.rank
                and affordable(m)
                and any(rule["power_level"] == level for rule in m["rules"])
            ]
            assert serving, f"{slug}: nothing current serves {tier} at {level}"


def test_deprecated_seeded_models_have_no_rules_and_a_current_replacement() -> None:
    for provider in seed_document()["providers"]:
        models = {m["model_id"]: m for m in provider["models"]}
        for model in models.values():
            if model.get("is_deprecated"):
                assert model["rules"] == []
                assert _current(models[model["replacement_model"]])


def test_seeded_price_tiers_are_well_formed() -> None:
    for _, model, _ in seeded_entries(seed_document()):
        tiers_from_json(model.get("price_tiers"))
