"""Cost arithmetic, exact in Decimal. Prices are US dollars per 1M tokens.

`cached_tokens` are the part of `prompt_tokens` that the provider read from its prompt cache
(OpenAI's `prompt_tokens_details.cached_tokens`; Anthropic's `cache_read_input_tokens`). They
are billed at the cached-input price, or at the input price when the model has none.

Nothing here rounds: a cost is an exact product of integers and prices. Rounding to the
stored precision (10 decimal places) happens only when a cost is written to the database.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypedDict

PER_MILLION = Decimal(1_000_000)


class CostBreakdown(TypedDict):
    cost_input_usd: Decimal
    cost_cached_usd: Decimal
    cost_output_usd: Decimal
    cost_total_usd: Decimal


def as_price(value: Decimal | float | int | str | None) -> Decimal | None:
    """A price as an exact Decimal. Floats go through `str` so that 0.15 stays 0.15."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def blended_price(input_price: Decimal, output_price: Decimal) -> Decimal:
    """One number per model for price ceilings: three input tokens to one output token,
    the usual mix of chat traffic, i.e. (3 × input + output) ÷ 4 dollars per 1M tokens."""
    return (3 * input_price + output_price) / 4


def calculate_cost(
    *,
    input_price: Decimal,
    output_price: Decimal,
    cached_input_price: Decimal | None,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int = 0,
) -> CostBreakdown:
    """The exact cost of one request."""
    for name, count in (
        ("prompt_tokens", prompt_tokens),
        ("completion_tokens", completion_tokens),
        ("cached_tokens", cached_tokens),
    ):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {count!r}")
    if cached_tokens > prompt_tokens:
        raise ValueError(
            f"cached_tokens ({cached_tokens}) are part of prompt_tokens ({prompt_tokens}) "
            "and cannot exceed them"
        )
    cached_price = input_price if cached_input_price is None else cached_input_price
    cost_input = (prompt_tokens - cached_tokens) * input_price / PER_MILLION
    cost_cached = cached_tokens * cached_price / PER_MILLION
    cost_output = completion_tokens * output_price / PER_MILLION
    return CostBreakdown(
        cost_input_usd=cost_input,
        cost_cached_usd=cost_cached,
        cost_output_usd=cost_output,
        cost_total_usd=cost_input + cost_cached + cost_output,
    )
