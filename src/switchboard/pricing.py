"""Cost arithmetic, exact in Decimal. Prices are US dollars per 1M tokens.

`cached_tokens` are the part of `prompt_tokens` that the provider read from its prompt cache
(OpenAI's `prompt_tokens_details.cached_tokens`; Anthropic's `cache_read_input_tokens`). They
are billed at the cached-input price, or at the input price when the model has none.

`cache_write_tokens` are the part of `prompt_tokens` that the provider wrote to its prompt
cache (Anthropic's `cache_creation_input_tokens`), `cache_write_1h_tokens` the part of those
kept for an hour rather than five minutes. Anthropic bills a write at a multiple of the model's
input price: 1.25× for five minutes, 2× for an hour (`CACHE_WRITE_FACTOR`,
`CACHE_WRITE_1H_FACTOR`; https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching).
Providers that charge nothing for writing their cache report no writes. The premium is part of
`cost_input_usd`: the writes are input.

Nothing here rounds: a cost is an exact product of integers and prices. Rounding to the
stored precision (10 decimal places) happens only when a cost is written to the database.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypedDict

PER_MILLION = Decimal(1_000_000)
CACHE_WRITE_FACTOR = Decimal("1.25")
CACHE_WRITE_1H_FACTOR = Decimal(2)


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
    cache_write_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
) -> CostBreakdown:
    """The exact cost of one request."""
    for name, count in (
        ("prompt_tokens", prompt_tokens),
        ("completion_tokens", completion_tokens),
        ("cached_tokens", cached_tokens),
        ("cache_write_tokens", cache_write_tokens),
        ("cache_write_1h_tokens", cache_write_1h_tokens),
    ):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {count!r}")
    if cached_tokens + cache_write_tokens > prompt_tokens:
        raise ValueError(
            f"cached_tokens ({cached_tokens}) and cache_write_tokens ({cache_write_tokens}) "
            f"are parts of prompt_tokens ({prompt_tokens}) and cannot exceed them"
        )
    if cache_write_1h_tokens > cache_write_tokens:
        raise ValueError(
            f"cache_write_1h_tokens ({cache_write_1h_tokens}) are part of cache_write_tokens "
            f"({cache_write_tokens}) and cannot exceed them"
        )
    cached_price = input_price if cached_input_price is None else cached_input_price
    # Input billed at the input price, in tokens: a write counts as its factor of a token.
    input_units: int | Decimal = prompt_tokens - cached_tokens - cache_write_tokens
    if cache_write_tokens:  # (only then: a Decimal factor would change how every cost prints)
        written_5m = cache_write_tokens - cache_write_1h_tokens
        input_units += (
            written_5m * CACHE_WRITE_FACTOR + cache_write_1h_tokens * CACHE_WRITE_1H_FACTOR
        )
    cost_input = input_units * input_price / PER_MILLION
    cost_cached = cached_tokens * cached_price / PER_MILLION
    cost_output = completion_tokens * output_price / PER_MILLION
    return CostBreakdown(
        cost_input_usd=cost_input,
        cost_cached_usd=cost_cached,
        cost_output_usd=cost_output,
        cost_total_usd=cost_input + cost_cached + cost_output,
    )
