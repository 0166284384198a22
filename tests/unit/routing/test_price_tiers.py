"""Price ceilings at the tier a request falls in: a model whose long prompts cost more fits a
ceiling for short prompts only. Golden cases at both sides of the boundary."""

from __future__ import annotations

from decimal import Decimal

import pytest

from switchboard.pricing import PriceTier
from switchboard.routing import RouteRequest
from switchboard.routing.reasons import Rejection
from switchboard.vocabulary import PowerLevel, Tier
from tests.unit.routing.catalogs import CatalogBuilder, explain, outcome

PLANNED = "planned"
# Claude Haiku 5.5 in LiteLLM's map: blended (3 × 0.10 + 0.50) / 4 = $0.20 per 1M; above
# 100k prompt tokens (3 × 0.50 + 2.50) / 4 = $1.00, over eco's $0.50.
HAIKU_TIER = PriceTier(
    above_tokens=100_000, input_price=Decimal("0.5"), output_price=Decimal("2.5")
)


def tiered_catalog() -> CatalogBuilder:
    catalog = CatalogBuilder()
    catalog.routed(
        "haiku",
        input_price=Decimal("0.1"),
        output_price=Decimal("0.5"),
        price_tiers=(HAIKU_TIER,),
        rule={"power_level": PowerLevel.ECO},
    )
    catalog.routed(
        "flat",
        input_price=Decimal("0.2"),
        output_price=Decimal("0.4"),
        rule={"power_level": PowerLevel.ECO},
    )
    catalog.ceiling(PowerLevel.ECO, "0.50")
    return catalog


def eco(tokens: int | None, max_output: int | None = None) -> RouteRequest:
    return RouteRequest(
        user_tier=Tier.FREE,
        power_level=PowerLevel.ECO,
        estimated_tokens=tokens,
        max_output_tokens=max_output,
    )


@pytest.mark.parametrize(
    ("tokens", "max_output", "expected"),
    [
        (100_000, None, PLANNED),  # at the boundary: the base tier
        (100_001, None, Rejection.PRICE_CEILING),  # one above: the long-context tier
        (None, None, PLANNED),  # size unknown: the base tier
        # The answer's tokens (max_tokens) are part of the estimate, not of the prompt.
        (104_000, 4_000, PLANNED),
        (104_001, 4_000, Rejection.PRICE_CEILING),
    ],
)
def test_the_ceiling_applies_to_the_tier_the_prompt_falls_in(
    tokens: int | None, max_output: int | None, expected: str
) -> None:
    snapshot = tiered_catalog().build()
    assert outcome(snapshot, eco(tokens, max_output), "haiku") == expected
    assert outcome(snapshot, eco(tokens, max_output), "flat") == PLANNED


def test_the_rejection_names_the_prompt_and_the_tiers_price() -> None:
    verdict = explain(tiered_catalog().build(), eco(150_000))["haiku"]
    assert verdict.detail == (
        "blended price $1/1M for a prompt of 150000 tokens is over the eco ceiling $0.5/1M"
    )


def test_a_model_cheaper_only_for_long_prompts_is_planned_for_them() -> None:
    """Odd, but the rule is the same both ways: the tier the request falls in decides."""
    catalog = CatalogBuilder()
    catalog.routed(
        "inverted",
        input_price=Decimal(1),
        output_price=Decimal(1),
        price_tiers=(PriceTier(above_tokens=1_000, input_price=Decimal("0.1")),),
        rule={"power_level": PowerLevel.ECO},
    )
    catalog.ceiling(PowerLevel.ECO, "0.50")
    snapshot = catalog.build()
    assert outcome(snapshot, eco(1_000), "inverted") == Rejection.PRICE_CEILING
    assert outcome(snapshot, eco(1_001), "inverted") == PLANNED


def test_without_a_ceiling_tiers_never_reject() -> None:
    catalog = tiered_catalog()
    catalog.ceilings.clear()
    assert outcome(catalog.build(), eco(1_000_000), "haiku") == PLANNED


def test_unreadable_tiers_are_a_configuration_error() -> None:
    catalog = CatalogBuilder()
    catalog.routed("broken", prices_invalid=True)
    request = RouteRequest(user_tier=Tier.FREE, power_level=PowerLevel.BALANCED)
    assert outcome(catalog.build(), request, "broken") == Rejection.INVALID_CONFIG
