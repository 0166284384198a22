"""Cost arithmetic: exact Decimal results, cached tokens, large counts, bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.pricing import as_price, blended_price, calculate_cost


def cost(
    prompt: int,
    completion: int,
    cached: int = 0,
    *,
    written: int = 0,
    written_1h: int = 0,
    input_price: str = "2.50",
    output_price: str = "10.00",
    cached_price: str | None = "1.25",
) -> dict[str, Decimal]:
    return dict(
        calculate_cost(
            input_price=Decimal(input_price),
            output_price=Decimal(output_price),
            cached_input_price=None if cached_price is None else Decimal(cached_price),
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_tokens=cached,
            cache_write_tokens=written,
            cache_write_1h_tokens=written_1h,
        )
    )


def test_plain_request() -> None:
    assert cost(800, 200, input_price="10", output_price="30") == {
        "cost_input_usd": Decimal("0.008"),
        "cost_cached_usd": Decimal(0),
        "cost_output_usd": Decimal("0.006"),
        "cost_total_usd": Decimal("0.014"),
    }


def test_cached_tokens_are_part_of_the_prompt_and_billed_at_the_cached_price() -> None:
    result = cost(10_000, 1_000, 6_000)
    assert result["cost_input_usd"] == Decimal("0.01")  # 4,000 × $2.50/1M
    assert result["cost_cached_usd"] == Decimal("0.0075")  # 6,000 × $1.25/1M
    assert result["cost_output_usd"] == Decimal("0.01")
    assert result["cost_total_usd"] == Decimal("0.0275")


def test_cached_tokens_without_a_cached_price_cost_the_input_price() -> None:
    result = cost(10_000, 0, 6_000, cached_price=None)
    assert result["cost_cached_usd"] == Decimal("0.015")
    assert result["cost_total_usd"] == Decimal("0.025")


def test_cache_writes_cost_a_quarter_more_than_input_and_an_hours_twice_as_much() -> None:
    # Claude Sonnet 4: $3 input, $0.30 cache reads, $15 output per 1M tokens; Anthropic
    # bills five-minute writes at $3.75 and one-hour writes at $6.
    result = cost(
        10_000,
        1_000,
        2_000,
        written=5_000,
        written_1h=1_000,
        input_price="3",
        output_price="15",
        cached_price="0.30",
    )
    # 3,000 plain × $3 + 4,000 five-minute writes × $3.75 + 1,000 one-hour writes × $6
    assert result["cost_input_usd"] == Decimal("0.03")
    assert result["cost_cached_usd"] == Decimal("0.0006")
    assert result["cost_output_usd"] == Decimal("0.015")
    assert result["cost_total_usd"] == Decimal("0.0456")


def test_without_cache_writes_the_costs_print_as_before() -> None:
    assert str(cost(800, 200, input_price="10")["cost_input_usd"]) == "0.008"


@pytest.mark.parametrize(
    ("cached", "written", "written_1h", "message"),
    [
        (6, 5, 0, r"cached_tokens \(6\) and cache_write_tokens \(5\) are parts of prompt_"),
        (0, 3, 4, r"cache_write_1h_tokens \(4\) are part of cache_write_tokens \(3\)"),
        (0, -1, 0, "cache_write_tokens must be a non-negative integer"),
    ],
)
def test_cache_writes_must_fit_in_the_prompt(
    cached: int, written: int, written_1h: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        cost(10, 0, cached, written=written, written_1h=written_1h)


def test_one_token_at_a_tiny_price_is_exact() -> None:
    result = cost(1, 1, input_price="0.000001", output_price="0.000003")
    assert result["cost_total_usd"] == Decimal("0.000000000004")


def test_large_token_counts_are_exact() -> None:
    result = cost(123_456_789_012, 98_765_432_109, 23_456_789_012, input_price="3.123456")
    assert result["cost_input_usd"] == Decimal("312345.6")
    assert result["cost_cached_usd"] == Decimal("29320.986265")
    assert result["cost_output_usd"] == Decimal("987654.32109")
    assert result["cost_total_usd"] == Decimal("1329320.907355")


@given(
    prompt=st.integers(0, 10**9),
    completion=st.integers(0, 10**9),
    cached_share=st.floats(0, 1),
    prices=st.tuples(*(st.decimals("0", "1000", places=6) for _ in range(3))),
)
def test_total_is_the_exact_sum_of_its_parts(
    prompt: int,
    completion: int,
    cached_share: float,
    prices: tuple[Decimal, Decimal, Decimal],
) -> None:
    cached = int(prompt * cached_share)
    result = calculate_cost(
        input_price=prices[0],
        output_price=prices[1],
        cached_input_price=prices[2],
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached,
    )
    parts = result["cost_input_usd"] + result["cost_cached_usd"] + result["cost_output_usd"]
    assert result["cost_total_usd"] == parts
    assert result["cost_input_usd"] * 1_000_000 == (prompt - cached) * prices[0]


@pytest.mark.parametrize(
    ("prompt", "completion", "cached", "message"),
    [
        (-1, 0, 0, "prompt_tokens must be a non-negative integer"),
        (0, 1.5, 0, "completion_tokens must be a non-negative integer"),
        (10, 0, 11, r"cached_tokens \(11\) and cache_write_tokens \(0\) are parts of prompt_"),
        (True, 0, 0, "prompt_tokens must be a non-negative integer"),
    ],
)
def test_bad_token_counts_are_rejected(
    prompt: int, completion: int, cached: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        cost(prompt, completion, cached)


def test_blended_price_is_three_input_to_one_output() -> None:
    assert blended_price(Decimal("0.15"), Decimal("0.60")) == Decimal("0.2625")


def test_float_prices_keep_their_decimal_value() -> None:
    assert as_price(0.15) == Decimal("0.15")
    assert as_price(10.0) == Decimal("10.0")
    assert as_price(None) is None
