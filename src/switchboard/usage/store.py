"""Writing usage records to `llm_usage_logs`, idempotent by `request_id`, and keeping the
rollups (`ROLLUPS`: hourly, daily, hourly without the user) in step in the same transaction.

Only the rows this call really inserted are added to the rollups (`INSERT … ON CONFLICT DO
NOTHING RETURNING request_id`), so a batch written again after a crash is counted once. The
records of one call are summed per rollup key in Python (exact `Decimal`), then each key is
upserted once, counters incremented (`ON CONFLICT … DO UPDATE SET col = col + excluded.col`).
Tables are upserted in one order and keys in sorted order, so concurrent writers lock rollup
rows in the same order and never deadlock.
"""

from __future__ import annotations

import enum
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from switchboard._types import MONEY_PLACES
from switchboard.models import Base, LLMUsageLog
from switchboard.models.usage import (
    LATENCY_BUCKETS_MS,
    LLMUsageDaily,
    LLMUsageHourly,
    LLMUsageHourlyModel,
)
from switchboard.usage.record import UsageRecord

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
    *("completion_tokens", "cost_total_usd", "byok_errors", "byok_prompt_tokens"),
    *("byok_cached_tokens", "byok_completion_tokens", "byok_cost_total_usd"),
    *("latency_ms_sum", "latency_count", *LATENCY_COLUMNS),
)
"""The summed columns of every rollup (`models.usage.UsageCounters`)."""

MONEY_COUNTERS = frozenset({"cost_total_usd", "byok_cost_total_usd"})
_EMPTY: dict[str, int | str] = {"model_id": 0, "provider_id": 0}


class Grain(enum.StrEnum):
    HOUR = "hour"
    DAY = "day"

    def start(self, moment: datetime) -> datetime:
        """The start of the UTC hour or day `moment` falls in (naive values are UTC)."""
        hour = as_utc(moment).replace(minute=0, second=0, microsecond=0)
        return hour if self is Grain.HOUR else hour.replace(hour=0)

    def ceil(self, moment: datetime) -> datetime:
        """The first start of an hour or day at or after `moment`."""
        start = self.start(moment)
        return start if start == as_utc(moment) else start + self.step

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self is Grain.HOUR else timedelta(days=1)


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
ROLLUPS = (HOURLY, DAILY, HOURLY_MODELS)


def write_records(session: Session, records: Sequence[UsageRecord]) -> dict[str, int]:
    """Insert the records a row each; a `request_id` already stored is left as it is (so a
    batch may be written again after a crash), and so is a repeat within `records` (the first
    wins). Rows really inserted are added to the rollups. Returns the row id of every
    request id. Flushes, does not commit: the caller owns the transaction."""
    if not records:
        return {}
    first: dict[str, UsageRecord] = {}
    for record in records:
        first.setdefault(record.request_id, record)
    unique = list(first.values())
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    log = _table(LLMUsageLog)  # Core: the ORM's bulk insert path takes half as long again
    statement = (
        insert(log)
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(log.c.request_id, log.c.id)
    )
    rows = session.execute(statement, [_row(record) for record in unique])
    inserted: dict[str, int] = {request_id: row_id for request_id, row_id in rows}
    new = [record for record in unique if record.request_id in inserted]
    counters = [rollup_counters(record) for record in new]
    hours = [hour_of(record.created_at) for record in new]
    for rollup in ROLLUPS:
        _add_to_rollup(session, dialect, rollup, list(zip(new, hours, counters, strict=True)))
    missing = [record.request_id for record in unique if record.request_id not in inserted]
    if missing:
        stored = session.execute(
            select(LLMUsageLog.request_id, LLMUsageLog.id).where(
                LLMUsageLog.request_id.in_(missing)
            )
        )
        inserted.update({request_id: row_id for request_id, row_id in stored})
    return inserted


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour `moment` falls in (naive values are taken as UTC)."""
    return Grain.HOUR.start(moment)


def rollup_key(rollup: Rollup, record: UsageRecord, hour: datetime) -> tuple[Any, ...]:
    """The rollup row `record` adds to; `hour` is the start of its hour."""
    start = hour if rollup.grain is Grain.HOUR else hour.replace(hour=0)
    values = (getattr(record, name) for name in rollup.dimensions)
    dimensions = (
        _EMPTY.get(name, "") if value is None else value
        for name, value in zip(rollup.dimensions, values, strict=True)
    )
    return (start, *dimensions)


def rollup_counters(record: UsageRecord) -> dict[str, int | Decimal]:
    """What one record adds to its rollup rows."""
    error = int(record.status_code is None or record.status_code >= 400)
    byok = int(record.used_byok)
    cost = record.cost_total_usd.quantize(MONEY_QUANTUM)  # as stored, half-even
    counters: dict[str, int | Decimal] = dict.fromkeys(LATENCY_COLUMNS, 0)
    counters.update(
        requests=1,
        errors=error,
        byok_requests=byok,
        prompt_tokens=record.prompt_tokens,
        cached_tokens=record.cached_tokens,
        completion_tokens=record.completion_tokens,
        cost_total_usd=cost,
        byok_errors=error * byok,
        byok_prompt_tokens=record.prompt_tokens * byok,
        byok_cached_tokens=record.cached_tokens * byok,
        byok_completion_tokens=record.completion_tokens * byok,
        byok_cost_total_usd=cost if byok else Decimal(0),
        latency_ms_sum=record.latency_ms or 0,
        latency_count=int(record.latency_ms is not None),
    )
    if record.latency_ms is not None:
        counters[LATENCY_COLUMNS[bisect_left(LATENCY_BUCKETS_MS, record.latency_ms)]] = 1
    return counters


def _add_to_rollup(
    session: Session,
    dialect: str,
    rollup: Rollup,
    records: Sequence[tuple[UsageRecord, datetime, dict[str, int | Decimal]]],
) -> None:
    sums: dict[tuple[Any, ...], dict[str, int | Decimal]] = {}
    for record, hour, added in records:
        key = rollup_key(rollup, record, hour)
        total = sums.get(key)
        if total is None:
            sums[key] = dict(added)
            continue
        for name, value in added.items():
            total[name] += value
    if not sums:
        return
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_table(rollup.table))
    columns = rollup.columns()
    increments: dict[str, ColumnElement[Any]] = {
        name: _increment(dialect, columns[name], statement.excluded[name])
        for name in ROLLUP_COUNTERS
    }
    statement = statement.on_conflict_do_update(index_elements=list(rollup.key), set_=increments)
    rows = [dict(zip(rollup.key, key, strict=True)) | sums[key] for key in sorted(sums)]
    session.execute(statement, rows)


def _row(record: UsageRecord) -> dict[str, Any]:
    """`record.column_values()` without its deep copies (every value is immutable)."""
    values = {name: getattr(record, name) for name in _RECORD_FIELDS}
    values["total_tokens"] = record.total_tokens
    return values


_RECORD_FIELDS = tuple(UsageRecord.__dataclass_fields__)


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
        return func.round(column + excluded, MONEY_PLACES)
    return column + excluded
