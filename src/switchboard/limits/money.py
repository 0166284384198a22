"""Money in the limits: integer units of 10⁻¹⁰ dollars (the stored precision of a cost), never
floats, so that Redis and Python add the same amounts exactly."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

UNITS_PER_DOLLAR = 10**10
_UNIT = Decimal(1).scaleb(-10)


def to_units(amount: Decimal) -> int:
    """A cost in units, rounded as it is stored (half-even)."""
    return int(amount.quantize(_UNIT, rounding=ROUND_HALF_EVEN).scaleb(10))


def to_units_ceiling(amount: Decimal) -> int:
    """A reservation in units: rounded up, so that it always covers the cost."""
    return int(amount.quantize(_UNIT, rounding=ROUND_CEILING).scaleb(10))


def to_dollars(units: int) -> Decimal:
    return Decimal(units).scaleb(-10)
