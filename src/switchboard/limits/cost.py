"""The most a request can cost on a model: what a budget reserves before calling it."""

from __future__ import annotations

from decimal import Decimal

from switchboard.catalog.snapshot import ModelInfo
from switchboard.limits.money import to_units_ceiling

PER_MILLION = Decimal(1_000_000)


def output_bound(requested: int | None, model: ModelInfo, default_cap: int) -> int:
    """The most output tokens the answer may have: the client's `max_tokens`, else the
    model's output limit, else `default_cap`."""
    if requested is not None:
        return requested
    if model.max_tokens:
        return model.max_tokens
    return default_cap


def max_cost_units(model: ModelInfo, *, prompt_tokens: int, output_tokens: int) -> int:
    """Estimated prompt tokens at the input price plus the output bound at the output
    price, in units of 10⁻¹⁰ dollars, rounded up."""
    cost = (prompt_tokens * model.input_price + output_tokens * model.output_price) / PER_MILLION
    return to_units_ceiling(cost)
