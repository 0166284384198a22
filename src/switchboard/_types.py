"""Column types that behave the same on SQLite and PostgreSQL: money and UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_PLACES = 10
PRICE_PLACES = 6


def utcnow() -> datetime:
    return datetime.now(UTC)


class _ExactDecimal(TypeDecorator[Decimal]):
    """A decimal amount with a fixed number of places, exact on PostgreSQL (NUMERIC).

    SQLite has no exact decimal type; there the value is stored as REAL (15 significant
    digits, enough for any amount under $100,000 at 10 places) and quantized back when
    read, so what Python sees is the exact stored Decimal on both databases.
    """

    precision = 20
    places = MONEY_PLACES
    impl = Numeric(precision, places)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(self.precision, self.places, asdecimal=False))
        return dialect.type_descriptor(Numeric(self.precision, self.places))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        amount = amount.quantize(Decimal(1).scaleb(-self.places))
        return float(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        amount = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
        return amount.quantize(Decimal(1).scaleb(-self.places))


class Money(_ExactDecimal):
    """US dollars, 10 decimal places: NUMERIC(20, 10)."""

    cache_ok = True


class Price(_ExactDecimal):
    """Dollars per 1M tokens, 6 decimal places: NUMERIC(14, 6)."""

    precision = 14
    places = PRICE_PLACES
    impl = Numeric(precision, places)
    cache_ok = True


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp with time zone, always UTC. Naive values (as `datetime.utcnow()` makes)
    are taken to be UTC; values read back are aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        moment: datetime = value
        utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
