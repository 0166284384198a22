"""Writing usage records to `llm_usage_logs`, idempotent by `request_id`, and keeping the
rollups (`ROLLUPS`: hourly, daily, hourly and daily without the user, daily without the user
or the model, weekly per user and weekly without the user) in step in the same transaction.

Only the rows this call really inserted are added to the rollups, so a batch written again
after a crash is counted once. The request ids already stored are looked up first and the
others inserted (`INSERT … ON CONFLICT DO NOTHING`); should the database report fewer rows
inserted than that, another transaction stored some of the same request ids in between, and
`ConcurrentWriteError` asks the caller to roll back and try again rather than guess which.
The new records are summed per rollup key in Python (exact: money in integer units of
10⁻¹⁰ dollars), then each key is upserted once, counters incremented (`ON CONFLICT … DO
UPDATE SET col = col + excluded.col`). Tables are upserted in one order and keys in sorted
order, so concurrent writers lock rollup rows in the same order and never deadlock.

Every statement runs through the driver's `executemany` (`_bulk.BulkStatement`), compiled once
per database connection: the usage writer stores every request the gateway serves, and
SQLAlchemy's per-row parameter handling used to be most of its cost.
"""

from __future__ import annotations

import enum
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from operator import add, itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Dialect, Table, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from switchboard._types import MONEY_PLACES, UTCDateTime
from switchboard.errors import ConcurrentWriteError
from switchboard.models import Base, LLMUsageLog
from switchboard.models.usage import (
    LATENCY_BUCKETS_MS,
    LLMUsageDaily,
    LLMUsageDailyModel,
    LLMUsageDailyTotal,
    LLMUsageHourly,
    LLMUsageHourlyModel,
    LLMUsageWeeklyModel,
    LLMUsageWeeklyUser,
)
from switchboard.usage._bulk import BulkStatement, MatchingQuery, per_connection
from switchboard.usage.record import UsageRecord, UsageRow

MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
DIMENSIONS = ("user_id", "model_id", "provider_id", "power_level", "user_tier")
"""What usage is counted by, besides time; an empty one is stored as 0 or ""."""

LATENCY_COLUMNS = (
    *(f"latency_le_{bound}" for bound in LATENCY_BUCKETS_MS),
    f"latency_gt_{LATENCY_BUCKETS_MS[-1]}",
)
"""The histogram's columns: one per upper bound (`latency ≤ bound` and above the previous
bound), and a last one for everything slower."""

ROLLUP_COUNTERS = (
    *("requests", "errors", "byok_requests", "prompt_tokens", "cached_tokens"),
    *("cache_write_tokens", "completion_tokens", "cost_total_usd", "byok_errors"),
    *("byok_prompt_tokens", "byok_cached_tokens", "byok_cache_write_tokens"),
    *("byok_completion_tokens", "byok_cost_total_usd"),
    *("latency_ms_sum", "latency_count", *LATENCY_COLUMNS),
)
"""The summed columns of every rollup (`models.usage.UsageCounters`)."""

MONEY_COUNTERS = frozenset({"cost_total_usd", "byok_cost_total_usd"})
_EMPTY: dict[str, int | str] = {"model_id": 0, "provider_id": 0}


class Grain(enum.StrEnum):
    """A rollup's bucket: a UTC hour, day, or week (from Monday 00:00 UTC, as PostgreSQL's
    `date_trunc('week', …)`)."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"

    def start(self, moment: datetime) -> datetime:
        """The start of the UTC hour, day or week `moment` falls in (naive values are UTC)."""
        utc = moment if moment.tzinfo is UTC else as_utc(moment)
        hour = utc.replace(minute=0, second=0, microsecond=0)
        if self is Grain.HOUR:
            return hour
        day = hour.replace(hour=0)
        return day if self is Grain.DAY else day - timedelta(days=day.weekday())

    def ceil(self, moment: datetime) -> datetime:
        """The first start of an hour, day or week at or after `moment`."""
        start = self.start(moment)
        return start if start == as_utc(moment) else start + self.step

    @property
    def step(self) -> timedelta:
        return _STEPS[self]

    def finer(self) -> Grain | None:
        """The next finer grain (None below hours: the usage rows themselves)."""
        return {Grain.WEEK: Grain.DAY, Grain.DAY: Grain.HOUR}.get(self)


_STEPS = {
    Grain.HOUR: timedelta(hours=1),
    Grain.DAY: timedelta(days=1),
    Grain.WEEK: timedelta(days=7),
}


@dataclass(frozen=True, slots=True)
class Rollup:
    """A rollup table: usage summed per `grain` and `dimensions`."""

    table: type[Base]
    grain: Grain
    dimensions: tuple[str, ...]

    @property
    def key(self) -> tuple[str, ...]:
        return ("bucket_start", *self.dimensions)

    def columns(self) -> Any:
        return _table(self.table).c


HOURLY = Rollup(LLMUsageHourly, Grain.HOUR, DIMENSIONS)
DAILY = Rollup(LLMUsageDaily, Grain.DAY, DIMENSIONS)
HOURLY_MODELS = Rollup(LLMUsageHourlyModel, Grain.HOUR, DIMENSIONS[1:])
DAILY_MODELS = Rollup(LLMUsageDailyModel, Grain.DAY, DIMENSIONS[1:])
DAILY_TOTALS = Rollup(LLMUsageDailyTotal, Grain.DAY, DIMENSIONS[2:])
WEEKLY_USERS = Rollup(LLMUsageWeeklyUser, Grain.WEEK, ("user_id", "user_tier"))
WEEKLY_MODELS = Rollup(LLMUsageWeeklyModel, Grain.WEEK, DIMENSIONS[1:])
ROLLUPS = (
    *(HOURLY, DAILY, HOURLY_MODELS, DAILY_MODELS, DAILY_TOTALS, WEEKLY_USERS, WEEKLY_MODELS),
)
"""Every rollup; `HOURLY` first (the others are summed from it when rebuilt)."""


def write_records(session: Session, records: Sequence[UsageRecord]) -> dict[str, int]:
    """Insert the records a row each; a `request_id` already stored is left as it is (so a
    batch may be written again after a crash), and so is a repeat within `records` (the first
    wins). Rows really inserted are added to the rollups. Returns the row id of every
    request id. Writes, does not commit: the caller owns the transaction."""
    if not records:
        return {}
    store_rows(session, [record.column_values() for record in records])
    ids = {record.request_id for record in records}
    found = per_connection(session, UsageStatements).row_ids.fetch(session, ids)
    return {request_id: row_id for request_id, row_id in found}


def store_rows(session: Session, rows: Sequence[UsageRow]) -> int:
    """`write_records` for records given as their rows (`UsageRecord.column_values()`), and
    without reading the row ids back: what the usage writer needs. The number of rows added."""
    first: dict[str, UsageRow] = {}
    for row in rows:
        first.setdefault(row["request_id"], row)
    if not first:
        return 0
    statements = per_connection(session, UsageStatements)
    stored = {request_id for (request_id,) in statements.stored_ids.fetch(session, first)}
    new = [row for request_id, row in first.items() if request_id not in stored]
    inserted = statements.rows.execute(session, [_log_values(row) for row in new])
    if inserted != len(new):
        raise ConcurrentWriteError(
            f"{len(new) - inserted} of {len(new)} usage rows were stored meanwhile by another"
            " transaction; roll back and write them again"
        )
    sums = rollup_sums(new)
    for rollup, statement in statements.rollups:
        statement.execute(session, _rollup_rows(sums[rollup]))
    return inserted


class UsageStatements:
    """The statements `store_rows` runs, compiled for one kind of database."""

    def __init__(self, dialect: Dialect) -> None:
        insert = postgresql_insert if dialect.name == "postgresql" else sqlite_insert
        log = _table(LLMUsageLog)
        self.stored_ids = MatchingQuery(select(log.c.request_id), log.c.request_id, dialect)
        self.row_ids = MatchingQuery(select(log.c.request_id, log.c.id), log.c.request_id, dialect)
        skip = insert(log).on_conflict_do_nothing(index_elements=["request_id"])
        converters = dict.fromkeys(_MONEY_FIELDS, money_parameter(dialect))
        converters["created_at"] = timestamp_parameter(dialect)
        self.rows = BulkStatement(skip, LOG_COLUMNS, dialect, converters)
        self.rollups = [(rollup, _upsert(rollup, dialect)) for rollup in ROLLUPS]


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def rollup_counters(row: UsageRow) -> list[int]:
    """What one usage row adds to its rollup rows (`add_to_counters`)."""
    counters = [0] * len(ROLLUP_COUNTERS)
    add_to_counters(counters, row)
    return counters


def add_to_counters(counters: list[int], row: UsageRow) -> None:
    """Add what one usage row adds to its rollup rows to `counters` (in `ROLLUP_COUNTERS`
    order; money in integer units of 10⁻¹⁰ dollars, rounded as stored: half-even)."""
    status = row["status_code"]
    spent = (
        1,
        1 if status is None or status >= 400 else 0,
        row["prompt_tokens"],
        row["cached_tokens"],
        row["cache_write_tokens"],
        row["completion_tokens"],
        money_units(row["cost_total_usd"]),
    )
    for index, value in zip(_SPENT_AT, spent, strict=True):
        counters[index] += value
    if row["used_byok"]:
        for index, value in zip(_BYOK_SPENT_AT, spent, strict=True):
            counters[index] += value
    latency = row["latency_ms"]
    if latency is not None:
        counters[_LATENCY_SUM] += latency
        counters[_LATENCY_COUNT] += 1
        counters[_FIRST_BUCKET + bisect_left(LATENCY_BUCKETS_MS, latency)] += 1


_SPENT = (
    *("requests", "errors", "prompt_tokens", "cached_tokens", "cache_write_tokens"),
    *("completion_tokens", "cost_total_usd"),
)
_SPENT_AT = tuple(map(ROLLUP_COUNTERS.index, _SPENT))
_BYOK_SPENT_AT = tuple(ROLLUP_COUNTERS.index(f"byok_{name}") for name in _SPENT)
_LATENCY_SUM, _LATENCY_COUNT, _FIRST_BUCKET = map(
    ROLLUP_COUNTERS.index, ("latency_ms_sum", "latency_count", LATENCY_COLUMNS[0])
)


def money_units(amount: Decimal) -> int:
    """An amount in integer units of 10⁻¹⁰ dollars, rounded as stored (half-even)."""
    return int(amount.quantize(MONEY_QUANTUM).scaleb(MONEY_PLACES))


Sums = dict[tuple[Any, ...], list[int]]
"""Rollup rows: key (`Rollup.key`) → counters (`add_to_counters`)."""


def rollup_sums(rows: Iterable[UsageRow]) -> dict[Rollup, Sums]:
    """Each rollup's rows for usage `rows`. They are summed per hour and every dimension
    (`HOURLY`), and the coarser rollups from those sums."""
    hourly: Sums = {}
    hour = end = datetime.min.replace(tzinfo=UTC)
    for row in rows:
        moment = row["created_at"]
        if moment.tzinfo is not UTC:
            moment = as_utc(moment)
        if not hour <= moment < end:  # rows come in time order: mostly, the hour of the last
            hour = Grain.HOUR.start(moment)
            end = hour + Grain.HOUR.step
        dimensions = _dimension_values(row)
        if None in dimensions:
            dimensions = tuple(map(_or_empty, dimensions, _EMPTY_VALUES))
        key = (hour, *dimensions)
        counters = hourly.get(key)
        if counters is None:
            counters = hourly[key] = [0] * len(ROLLUP_COUNTERS)
        add_to_counters(counters, row)
    return {rollup: _coarser(rollup, hourly) for rollup in ROLLUPS}


_dimension_values = itemgetter(*DIMENSIONS)
_EMPTY_VALUES = tuple(_EMPTY.get(name, "") for name in DIMENSIONS)


def _or_empty(value: Any, empty: int | str) -> Any:
    return empty if value is None else value


def _coarser(rollup: Rollup, hourly: Sums) -> Sums:
    """`hourly` summed per `rollup.key` (for `HOURLY` itself, `hourly`)."""
    if rollup.grain is Grain.HOUR and rollup.dimensions == DIMENSIONS:
        return hourly
    dimensions = itemgetter(*(1 + DIMENSIONS.index(name) for name in rollup.dimensions))
    starts: dict[datetime, datetime] = {}
    sums: Sums = {}
    for hourly_key, counters in hourly.items():
        hour = hourly_key[0]
        start = starts.get(hour)
        if start is None:
            start = starts[hour] = rollup.grain.start(hour)
        key = (start, *dimensions(hourly_key))
        total = sums.get(key)
        sums[key] = counters if total is None else list(map(add, total, counters))
    return sums


def _rollup_rows(sums: Sums) -> list[tuple[Any, ...]]:
    """Upsert rows (key, then counters), keys in sorted order."""
    return [(*key, *sums[key]) for key in sorted(sums)]


def _upsert(rollup: Rollup, dialect: Dialect) -> BulkStatement:
    insert = postgresql_insert if dialect.name == "postgresql" else sqlite_insert
    table = _table(rollup.table)
    statement = insert(table)
    increments: dict[str, ColumnElement[Any]] = {
        name: _increment(dialect.name, table.c[name], statement.excluded[name])
        for name in ROLLUP_COUNTERS
    }
    statement = statement.on_conflict_do_update(index_elements=list(rollup.key), set_=increments)
    bucket = table.c.bucket_start.type.dialect_impl(dialect).bind_processor(dialect)
    converters = dict.fromkeys(MONEY_COUNTERS, money_from_units(dialect))
    if bucket is not None:  # the same few hours in every row
        converters["bucket_start"] = lru_cache(maxsize=64)(bucket)
    return BulkStatement(statement, (*rollup.key, *ROLLUP_COUNTERS), dialect, converters)


def money_parameter(dialect: Dialect) -> Callable[[Any], Decimal | float | None]:
    """An amount as `_types.Money` binds it — rounded half-even to ten places, a float on
    SQLite — without the cost of its generality (which was most of a usage row's)."""
    as_float = dialect.name == "sqlite"

    def bind(amount: Any) -> Decimal | float | None:
        if amount is None:
            return None
        exact = amount if isinstance(amount, Decimal) else Decimal(str(amount))
        rounded = exact.quantize(MONEY_QUANTUM)
        return float(rounded) if as_float else rounded

    return bind


def timestamp_parameter(dialect: Dialect) -> Callable[[datetime | None], Any]:
    """A time as `_types.UTCDateTime` binds it — in UTC, then as the database's timestamp
    type binds it — but for its making the time naive on SQLite, a costly no-op: SQLite's
    DATETIME writes the fields as they are, with a zone or not."""
    column_type = UTCDateTime().dialect_impl(dialect)
    assert isinstance(column_type, UTCDateTime)
    then = column_type.impl_instance.bind_processor(dialect)

    def bind(moment: datetime | None) -> Any:
        if moment is None:
            return None
        utc = moment if moment.tzinfo is UTC else as_utc(moment)
        return utc if then is None else then(utc)

    return bind


def money_from_units(dialect: Dialect) -> Callable[[int], Decimal | float]:
    """An amount in units of 10⁻¹⁰ dollars as `money_parameter` binds it: on SQLite, the
    double nearest the exact amount (Python's int division rounds correctly, as `float` of
    a `Decimal` does, and faster)."""
    if dialect.name == "sqlite":
        return lambda units: units / _UNITS_PER_DOLLAR
    return lambda units: Decimal(units).scaleb(-MONEY_PLACES)


_UNITS_PER_DOLLAR = 10**MONEY_PLACES
LOG_COLUMNS = tuple(column.key for column in LLMUsageLog.__table__.columns if column.key != "id")
"""The columns of a usage row `store_rows` writes: the record's fields and `total_tokens`."""
_MONEY_FIELDS = ("cost_input_usd", "cost_cached_usd", "cost_output_usd", "cost_total_usd")
_log_values = itemgetter(*LOG_COLUMNS)


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _increment(
    dialect: str, column: ColumnElement[Any], excluded: ColumnElement[Any]
) -> ColumnElement[Any]:
    if column.key in MONEY_COUNTERS and dialect == "sqlite":
        # SQLite keeps money as REAL: rounding each sum back to ten places keeps it the double
        # nearest the exact decimal sum, for any total under $100,000 (15 significant digits).
        return func.round(column + excluded, literal_column(str(MONEY_PLACES)))
    return column + excluded
