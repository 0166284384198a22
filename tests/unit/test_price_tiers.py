"""Prices that depend on the request: long-context tiers and a model's own cache-write price.

Golden figures at both sides of each boundary, worked by hand: a tier applies when the prompt
(cached and written tokens included) is *above* its `above_tokens`, to every token of the
request, and a price the tier leaves out is the one below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from decimal import Decimal

import pytest

from switchboard.pricing import (
    Prices,
    PriceTier,
    calculate_cost,
    price_bands,
    prices_at,
    tiers_from_json,
    tiers_to_json,
)


# Gemini 2.5 Pro in LiteLLM's map: $1.25 / $0.125 cached / $10 per 1M, and above 200k prompt
# tokens $2.50 / $0.25 / $15.
def above(tokens: int, **prices: str) -> PriceTier:
    """A tier above `tokens` prompt tokens, its prices ($ per 1M) written as strings."""
    return PriceTier(tokens, **{name: Decimal(price) for name, price in prices.items()})


PRO = Prices(Decimal("1.25"), Decimal("10"), Decimal("0.125"))
PRO_TIERS = (above(200_000, input_price="2.5", output_price="15", cached_input_price="0.25"),)


def cost(
    prices: Prices, prompt: int, completion: int, tiers: Sequence[PriceTier] = (), **tokens: int
) -> dict[str, Decimal]:
    """`calculate_cost` at `prices` and `tiers`, for these tokens."""
    return dict(
        calculate_cost(
            **asdict(prices),
            prompt_tokens=prompt,
            completion_tokens=completion,
            tiers=tiers,
            **tokens,
        )
    )


def pro_cost(prompt: int, completion: int, cached: int = 0) -> dict[str, Decimal]:
    return cost(PRO, prompt, completion, PRO_TIERS, cached_tokens=cached)


@pytest.mark.parametrize(
    ("prompt", "costs"),
    [
        # 200,000 × $1.25 + 1,000 × $10, per 1M.
        pytest.param(200_000, ("0.25", "0", "0.01", "0.26"), id="the boundary: base prices"),
        # 200,001 × $2.50 + 1,000 × $15, per 1M: the whole request, not only the excess.
        pytest.param(
            200_001, ("0.5000025", "0", "0.015", "0.5150025"), id="one above: the tier's, for all"
        ),
    ],
)
def test_a_prompt_above_the_boundary_pays_the_tier_for_every_token(
    prompt: int, costs: tuple[str, str, str, str]
) -> None:
    fields = ("cost_input_usd", "cost_cached_usd", "cost_output_usd", "cost_total_usd")
    assert pro_cost(prompt, 1_000) == dict(zip(fields, map(Decimal, costs), strict=True))


def test_cached_tokens_count_towards_the_boundary_and_pay_the_tiers_cached_price() -> None:
    below = pro_cost(200_000, 0, cached=150_000)
    above = pro_cost(200_001, 0, cached=150_000)
    assert below["cost_cached_usd"] == Decimal("0.01875")  # 150,000 × $0.125
    assert below["cost_input_usd"] == Decimal("0.0625")  # 50,000 × $1.25
    assert above["cost_cached_usd"] == Decimal("0.0375")  # 150,000 × $0.25
    assert above["cost_input_usd"] == Decimal("0.1250025")  # 50,001 × $2.50


def test_a_price_the_tier_leaves_out_is_the_one_below() -> None:
    only_input = (PriceTier(above_tokens=100, input_price=Decimal(2)),)
    base = Prices(Decimal(1), Decimal(4), Decimal("0.1"), Decimal("1.25"))
    assert prices_at(base, only_input, 101) == Prices(
        Decimal(2), Decimal(4), Decimal("0.1"), Decimal("1.25")
    )
    assert prices_at(base, only_input, 100) == base
    assert prices_at(base, only_input, None) == base


def test_several_tiers_stack_from_the_lowest_up() -> None:
    tiers = (
        PriceTier(above_tokens=256_000, output_price=Decimal(9)),
        PriceTier(above_tokens=32_000, input_price=Decimal(2), output_price=Decimal(6)),
    )
    base = Prices(Decimal(1), Decimal(3))
    assert prices_at(base, tiers, 32_000) == base
    assert prices_at(base, tiers, 32_001) == Prices(Decimal(2), Decimal(6))
    assert prices_at(base, tiers, 256_001) == Prices(Decimal(2), Decimal(9))
    assert [band.blended for band in price_bands(base, sorted(tiers, key=_above))] == [
        Decimal("1.5"),  # (3 × 1 + 3) / 4
        Decimal(3),
        Decimal("3.75"),
    ]


def _above(tier: PriceTier) -> int:
    return tier.above_tokens


@pytest.mark.parametrize(
    ("prompt", "expected_input"),
    [
        # 1,000 plain + 2,000 written (5 min) + 1,000 written (1 h), Claude Haiku 5.5 in the
        # map: $0.10 input, $0.125 a write; above 100k, $0.50 and $0.625.
        # Below: 1,000 × 0.10 + 2,000 × 0.125 + 1,000 × 2 × 0.10 = 550 µ$.
        (4_000, Decimal("0.00055")),
        # Above (prompt padded with 96,001 plain tokens): 97,001 × 0.50 + 2,000 × 0.625 +
        # 1,000 × 2 × 0.50 = 50,750.5 µ$.
        (100_001, Decimal("0.0507505")),
    ],
)
def test_a_models_own_cache_write_price_replaces_the_factor_for_five_minute_writes(
    prompt: int, expected_input: Decimal
) -> None:
    haiku = Prices(Decimal("0.1"), Decimal("0.5"), Decimal("0.01"), Decimal("0.125"))
    tiers = (
        above(
            100_000,
            input_price="0.5",
            output_price="2.5",
            cached_input_price="0.05",
            cache_write_price="0.625",
        ),
    )
    costs = cost(haiku, prompt, 0, tiers, cache_write_tokens=3_000, cache_write_1h_tokens=1_000)
    assert costs["cost_input_usd"] == expected_input


def test_without_a_cache_write_price_a_write_is_still_a_quarter_more_than_input() -> None:
    costs = cost(Prices(Decimal(4), Decimal(20)), 1_000, 0, cache_write_tokens=1_000)
    assert costs["cost_input_usd"] == Decimal("0.005")  # 1,000 × 1.25 × $4


def test_tiers_round_trip_through_their_stored_form() -> None:
    stored = tiers_to_json(PRO_TIERS)
    assert stored == [
        {
            "above_tokens": 200_000,
            "input_price": "2.5",
            "output_price": "15",
            "cached_input_price": "0.25",
        }
    ]
    assert tiers_from_json(stored) == PRO_TIERS
    assert tiers_to_json(()) is None
    assert tiers_from_json(None) == ()


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ({"above_tokens": 1}, "must be a list"),
        ([{"above_tokens": -1}], "above_tokens"),
        ([{"above_tokens": True}], "above_tokens"),
        ([{"above_tokens": 1, "input_price": "-1"}], "input_price must be a price >= 0"),
        ([{"above_tokens": 1, "input_price": "lots"}], "input_price must be a decimal"),
        ([{"above_tokens": 1, "input_price": 1.5}], "input_price must be a decimal"),
        ([{"above_tokens": 1, "speed": "fast"}], "unknown price tier field"),
        ([{"above_tokens": 1}, {"above_tokens": 1}], "the same number of tokens"),
    ],
)
def test_malformed_stored_tiers_are_refused(stored: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tiers_from_json(stored)
