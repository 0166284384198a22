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

A model may give its own price for a five-minute cache write (`cache_write_price`; LiteLLM's
price map calls it `cache_creation_input_token_cost`): a write is then billed at that price
instead of 1.25× input. An hour's write stays at 2× the input price, as Anthropic bills it.

Some models cost more per token once the prompt is long (Gemini's prompts over 200k tokens,
OpenAI's over 272k): `PriceTier`s. A tier applies to the whole request — every input, cached,
written and output token — when `prompt_tokens` (cached and written tokens included) is
above its `above_tokens`; a price the tier leaves out is the one below it. That is how the
providers bill them, and how LiteLLM's map reads (`input_cost_per_token_above_200k_tokens`).

Nothing here rounds: a cost is an exact product of integers and prices. Rounding to the
stored precision (10 decimal places) happens only when a cost is written to the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypedDict

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


@dataclass(frozen=True, slots=True)
class Prices:
    """What one request's tokens cost, per 1M: None where the model has no price of its own
    (cached input then costs the input price; a cache write, 1.25× it)."""

    input_price: Decimal
    output_price: Decimal
    cached_input_price: Decimal | None = None
    cache_write_price: Decimal | None = None

    @property
    def blended(self) -> Decimal:
        return blended_price(self.input_price, self.output_price)


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Prices for a request whose prompt is above `above_tokens`; None: the price below."""

    above_tokens: int
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    cached_input_price: Decimal | None = None
    cache_write_price: Decimal | None = None

    def applied_to(self, prices: Prices) -> Prices:
        given = {
            name: getattr(self, name)
            for name in TIER_PRICE_NAMES
            if getattr(self, name) is not None
        }
        return replace(prices, **given)


TIER_PRICE_NAMES = ("input_price", "output_price", "cached_input_price", "cache_write_price")


def prices_at(prices: Prices, tiers: Iterable[PriceTier], prompt_tokens: int | None) -> Prices:
    """The prices a request with this many prompt tokens pays: every tier it is above, from
    the lowest up. None tokens (unknown): the base prices."""
    if prompt_tokens is None:
        return prices
    for tier in sorted(tiers, key=lambda tier: tier.above_tokens):
        if prompt_tokens > tier.above_tokens:
            prices = tier.applied_to(prices)
    return prices


def price_bands(prices: Prices, tiers: Iterable[PriceTier]) -> list[Prices]:
    """The prices of each band of prompt sizes: the base prices, then above each tier."""
    return [prices] + [prices_at(prices, tiers, tier.above_tokens + 1) for tier in tiers]


def tiers_from_json(value: Any) -> tuple[PriceTier, ...]:
    """Tiers as stored (a JSON list of `{"above_tokens": 200000, "input_price": "2.5", …}`,
    prices as decimal strings), sorted by `above_tokens`. A ValueError names what is wrong."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError("price tiers must be a list")
    tiers = []
    for item in value:
        if not isinstance(item, Mapping):
            raise ValueError("a price tier must be an object")
        unknown = set(item) - {"above_tokens", *TIER_PRICE_NAMES}
        if unknown:
            raise ValueError(f"unknown price tier field(s) {sorted(unknown)}")
        above = item.get("above_tokens")
        if isinstance(above, bool) or not isinstance(above, int) or above < 0:
            raise ValueError(f"above_tokens must be a non-negative integer, got {above!r}")
        given = {name: _tier_price(item.get(name), name) for name in TIER_PRICE_NAMES}
        tiers.append(PriceTier(above_tokens=above, **given))
    thresholds = [tier.above_tokens for tier in tiers]
    if len(set(thresholds)) != len(thresholds):
        raise ValueError("two price tiers start above the same number of tokens")
    return tuple(sorted(tiers, key=lambda tier: tier.above_tokens))


def tiers_to_json(tiers: Iterable[PriceTier]) -> list[dict[str, Any]] | None:
    """Tiers as stored: prices as plain decimal strings, absent prices left out; None when
    there are none."""
    stored = [
        {"above_tokens": tier.above_tokens}
        | {
            name: format(price.normalize(), "f")
            for name in TIER_PRICE_NAMES
            if (price := getattr(tier, name)) is not None
        }
        for tier in sorted(tiers, key=lambda tier: tier.above_tokens)
    ]
    return stored or None


def _tier_price(value: Any, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"{name} must be a decimal string, got {value!r}")
    try:
        price = Decimal(value)
    except ArithmeticError:
        raise ValueError(f"{name} must be a decimal string, got {value!r}") from None
    if not price.is_finite() or price < 0:
        raise ValueError(f"{name} must be a price >= 0, got {value!r}")
    return price


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
    cache_write_price: Decimal | None = None,
    tiers: Sequence[PriceTier] = (),
) -> CostBreakdown:
    """The exact cost of one request, at the prices of the tier its prompt falls in."""
    _check_token_counts(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=cached_tokens,
        cache_write_tokens=cache_write_tokens,
        cache_write_1h_tokens=cache_write_1h_tokens,
    )
    if tiers:
        prices = prices_at(
            Prices(input_price, output_price, cached_input_price, cache_write_price),
            tiers,
            prompt_tokens,
        )
        input_price, output_price = prices.input_price, prices.output_price
        cached_input_price, cache_write_price = prices.cached_input_price, prices.cache_write_price
    cached_price = input_price if cached_input_price is None else cached_input_price
    # Input billed at the input price, in tokens: a write counts as its factor of a token.
    input_units: int | Decimal = prompt_tokens - cached_tokens - cache_write_tokens
    written_cost = Decimal(0)
    if cache_write_tokens:  # (only then: a Decimal factor would change how every cost prints)
        written_5m = cache_write_tokens - cache_write_1h_tokens
        input_units += cache_write_1h_tokens * CACHE_WRITE_1H_FACTOR
        if cache_write_price is None:
            input_units += written_5m * CACHE_WRITE_FACTOR
        else:
            written_cost = written_5m * cache_write_price / PER_MILLION
    cost_input = input_units * input_price / PER_MILLION
    if written_cost:
        cost_input += written_cost
    cost_cached = cached_tokens * cached_price / PER_MILLION
    cost_output = completion_tokens * output_price / PER_MILLION
    return CostBreakdown(
        cost_input_usd=cost_input,
        cost_cached_usd=cost_cached,
        cost_output_usd=cost_output,
        cost_total_usd=cost_input + cost_cached + cost_output,
    )


def _check_token_counts(**counts: int) -> None:
    """Every count a non-negative integer, and the parts of the prompt within it."""
    for name, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {count!r}")
    prompt, cached, written = (
        counts["prompt_tokens"],
        counts["cached_tokens"],
        counts["cache_write_tokens"],
    )
    if cached + written > prompt:
        raise ValueError(
            f"cached_tokens ({cached}) and cache_write_tokens ({written}) "
            f"are parts of prompt_tokens ({prompt}) and cannot exceed them"
        )
    if counts["cache_write_1h_tokens"] > written:
        raise ValueError(
            f"cache_write_1h_tokens ({counts['cache_write_1h_tokens']}) are part of "
            f"cache_write_tokens ({written}) and cannot exceed them"
        )
