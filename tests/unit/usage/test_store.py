"""What the usage store binds is what the ORM's column types bind, and its shortcuts (rows
given to the driver as they are, the stored request ids looked up first) change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Dialect, create_engine, func, select
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.orm import Session

from switchboard._types import Money, UTCDateTime
from switchboard.errors import ConcurrentWriteError
from switchboard.models import LLMUsageHourly, LLMUsageLog
from switchboard.usage import UsageRecord, write_records
from switchboard.usage._bulk import MatchingQuery, per_connection
from switchboard.usage.store import (
    UsageStatements,
    money_from_units,
    money_parameter,
    store_rows,
    timestamp_parameter,
)

DIALECTS = {"sqlite": create_engine("sqlite://").dialect, "postgresql": PGDialect_psycopg()}
AMOUNTS: list[Any] = [
    Decimal(0),
    Decimal("0.0000000001"),
    Decimal("0.00000000005"),  # half-even: down
    Decimal("0.00000000015"),  # half-even: up
    Decimal("12345.6789012345"),
    Decimal("99999.9999999999"),
    Decimal("0.00000000000000000001"),
    Decimal("-1.23456789012"),
    Decimal("1E+3"),
    0.1,
    7,
    None,
]
MOMENTS = [
    datetime(2025, 6, 1, 12, 30, 45, 123456, tzinfo=UTC),
    datetime(2025, 6, 1, 12, 30, 45, tzinfo=UTC),  # no microseconds
    datetime(2025, 6, 1, 2, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2025, 6, 1, 12, 0),  # noqa: DTZ001 - naive values are taken as UTC
    datetime(987, 6, 5, 4, 3, 2, 1, tzinfo=UTC),
    None,
]


def bound(column_type: Any, dialect: Dialect, value: Any) -> Any:
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    return value if processor is None else processor(value)


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=DIALECTS.keys())
def test_money_is_bound_as_the_money_type_binds_it(dialect: Dialect) -> None:
    bind = money_parameter(dialect)
    for amount in AMOUNTS:
        expected = bound(Money(), dialect, amount)
        assert bind(amount) == expected and type(bind(amount)) is type(expected), amount


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=DIALECTS.keys())
def test_summed_money_is_bound_as_the_money_type_binds_it(dialect: Dialect) -> None:
    bind = money_from_units(dialect)
    for units in (0, 1, 5, 123456789012345, 999999999999999, -42, 10**10 + 1):
        expected = bound(Money(), dialect, Decimal(units).scaleb(-10))
        assert bind(units) == expected and type(bind(units)) is type(expected), units


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=DIALECTS.keys())
def test_times_are_bound_as_the_utc_type_binds_them(dialect: Dialect) -> None:
    bind = timestamp_parameter(dialect)
    for moment in MOMENTS:
        assert bind(moment) == bound(UTCDateTime(), dialect, moment), moment


def test_rows_stored_meanwhile_by_another_transaction_are_not_counted_twice(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request ids already stored are looked up before the insert; one stored by
    another writer in between is found by the insert (which skips it), and the batch is
    refused rather than counted twice."""
    first = UsageRecord(request_id="a", user_id="u", prompt_tokens=3, created_at=MOMENTS[0])
    write_records(db, [first])
    db.commit()
    statements = per_connection(db, UsageStatements)
    monkeypatch.setattr(statements.stored_ids, "fetch", lambda session, values: [])
    again = [first, UsageRecord(request_id="b", user_id="u", created_at=MOMENTS[0])]

    with pytest.raises(ConcurrentWriteError, match="1 of 2"):
        store_rows(db, [record.column_values() for record in again])
    db.rollback()
    monkeypatch.undo()
    assert store_rows(db, [record.column_values() for record in again]) == 1
    db.commit()

    assert db.scalar(select(func.count()).select_from(LLMUsageLog)) == 2
    assert db.scalar(select(func.sum(LLMUsageHourly.requests))) == 2
    assert db.scalar(select(func.sum(LLMUsageHourly.prompt_tokens))) == 3


def test_a_matching_query_takes_any_number_of_values(db: Session) -> None:
    records = [UsageRecord(request_id=f"r{n}", user_id="u") for n in range(3)]
    ids = write_records(db, records)
    db.commit()
    log = LLMUsageLog.__table__
    query = MatchingQuery(
        select(log.c.request_id, log.c.id), log.c.request_id, db.get_bind().dialect
    )

    wanted = [f"r{n}" for n in range(40_000)]  # more than SQLite's bound parameters
    assert dict(query.fetch(db, wanted)) == ids
    assert query.fetch(db, []) == []
