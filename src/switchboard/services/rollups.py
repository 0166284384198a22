"""The usage rollups in SQL: rebuilding them from `llm_usage_logs` (after rows were inserted
behind the writer's back, or to repair), and reading a period from them.

A period is read in parts, each summed by the database where it lies: the usage rows for
the partial hours at its edges, the daily rollup for its whole days, and an hourly rollup for
the whole hours in between (the one without the user when no user is asked about). The
parts are summed per group (`UNION ALL`) and the caller sums the parts: every row is counted
once, and the big scans run directly on their tables.

Money on SQLite is REAL (see `_types`): summing doubles is not exact, so there every money sum
is taken over integer units of 10⁻¹⁰ dollars (`CAST(ROUND(cost * 1e10) AS INTEGER)`, exact
for any amount under $100,000) and turned back into a `Decimal` by `money_value`. PostgreSQL
sums NUMERIC exactly as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    SQLColumnExpression,
    Subquery,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from switchboard._types import MONEY_PLACES, UTCDateTime
from switchboard.models import LLMUsageLog
from switchboard.models.usage import LATENCY_BUCKETS_MS
from switchboard.usage.store import (
    DAILY,
    HOURLY,
    HOURLY_MODELS,
    LATENCY_COLUMNS,
    MONEY_COUNTERS,
    MONEY_QUANTUM,
    ROLLUP_COUNTERS,
    ROLLUPS,
    Grain,
    Rollup,
)

_UNITS: ColumnElement[Any] = literal_column(str(10**MONEY_PLACES))
_UNITS_REAL: ColumnElement[Any] = literal_column(f"{10**MONEY_PLACES}.0")
_ONE: ColumnElement[Any] = literal_column("1")
_ZERO: ColumnElement[Any] = literal_column("0")
_EMPTY: dict[str, ColumnElement[Any]] = {
    "model_id": _ZERO,
    "provider_id": _ZERO,
    "power_level": literal_column("''"),
    "user_tier": literal_column("''"),
}
_UTC: ColumnElement[Any] = literal_column("'UTC'")
_SQLITE_FORMAT = {Grain.HOUR: "'%Y-%m-%d %H:00:00.000000'", Grain.DAY: "'%Y-%m-%d 00:00:00.000000'"}


def bucket(dialect: str, grain: Grain, moment: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    """The start of the UTC hour or day of a stored timestamp, stored the same way. Constants
    are inline: PostgreSQL matches GROUP BY expressions textually, and bind parameters never
    match."""
    if dialect == "sqlite":  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)
        start: ColumnElement[Any] = func.strftime(literal_column(_SQLITE_FORMAT[grain]), moment)
    else:
        utc = func.date_trunc(literal_column(f"'{grain.value}'"), func.timezone(_UTC, moment))
        start = func.timezone(_UTC, utc)
    return type_coerce(start, UTCDateTime)


def money_sum(dialect: str, amount: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    """SUM of a money column; sum such sums with SUM, read the result with `money_value`."""
    if dialect == "sqlite":
        return func.sum(cast(func.round(type_coerce(amount, Float) * _UNITS), Integer))
    return func.sum(amount)


def money_value(dialect: str, value: object) -> Decimal:
    """The exact `Decimal` of a `money_sum` result (None, for no rows, is zero)."""
    if value is None:
        return MONEY_QUANTUM * 0
    if dialect == "sqlite":
        return Decimal(int(str(value))).scaleb(-MONEY_PLACES).quantize(MONEY_QUANTUM)
    return Decimal(str(value)).quantize(MONEY_QUANTUM)


def counter_sum(dialect: str, name: str, value: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    return money_sum(dialect, value) if name in MONEY_COUNTERS else func.sum(value)


def latency_conditions(latency: SQLColumnExpression[Any]) -> list[ColumnElement[bool]]:
    """The condition for each histogram column, in `LATENCY_COLUMNS` order."""
    conditions: list[ColumnElement[bool]] = []
    lower: int | None = None
    for bound in LATENCY_BUCKETS_MS:
        within = latency <= bound
        conditions.append(within if lower is None else (latency > lower) & within)
        lower = bound
    conditions.append(latency > LATENCY_BUCKETS_MS[-1])
    return conditions


def _log_counters() -> dict[str, ColumnElement[Any]]:
    """What one usage row adds to each counter, as SQL (mirrors `store.rollup_counters`)."""
    log = LLMUsageLog.__table__.c
    error = log.status_code.is_(None) | (log.status_code >= 400)
    byok = log.used_byok.is_(True)

    def when(condition: ColumnElement[bool], value: ColumnElement[Any] = _ONE) -> Any:
        return case((condition, value), else_=_ZERO)

    histogram = [when(condition) for condition in latency_conditions(log.latency_ms)]
    return {
        "requests": _ONE,
        "errors": when(error),
        "byok_requests": when(byok),
        "prompt_tokens": log.prompt_tokens,
        "cached_tokens": log.cached_tokens,
        "cache_write_tokens": log.cache_write_tokens,
        "completion_tokens": log.completion_tokens,
        "cost_total_usd": log.cost_total_usd,
        "byok_errors": when(error & byok),
        "byok_prompt_tokens": when(byok, log.prompt_tokens),
        "byok_cached_tokens": when(byok, log.cached_tokens),
        "byok_cache_write_tokens": when(byok, log.cache_write_tokens),
        "byok_completion_tokens": when(byok, log.completion_tokens),
        "byok_cost_total_usd": when(byok, log.cost_total_usd),
        "latency_ms_sum": func.coalesce(log.latency_ms, _ZERO),
        "latency_count": when(log.latency_ms.is_not(None)),
        **dict(zip(LATENCY_COLUMNS, histogram, strict=True)),
    }


def rollup_select(
    dialect: str, rollup: Rollup, *where: ColumnElement[bool], source: Rollup | None = None
) -> Select[Any]:
    """Rows of `rollup` (its key, then `ROLLUP_COUNTERS`) summed from the usage rows matching
    `where` — or from the rows of a finer rollup, `source`."""
    columns = source.columns() if source else LLMUsageLog.__table__.c
    moment = columns.bucket_start if source else columns.created_at
    counters = {n: columns[n] for n in ROLLUP_COUNTERS} if source else _log_counters()
    keys = [bucket(dialect, rollup.grain, moment)]
    for name in rollup.dimensions:
        empty = _EMPTY.get(name)
        keys.append(columns[name] if empty is None else func.coalesce(columns[name], empty))
    sums = []
    for name in ROLLUP_COUNTERS:
        total = counter_sum(dialect, name, counters[name])
        if name in MONEY_COUNTERS and dialect == "sqlite":  # back from units to stored REAL
            total = func.round(total / _UNITS_REAL, MONEY_PLACES)
        sums.append(type_coerce(total, rollup.columns()[name].type).label(name))
    labelled = [key.label(name) for key, name in zip(keys, rollup.key, strict=True)]
    return select(*labelled, *sums).where(*where).group_by(*keys)


def rebuild_rollups(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, int]:
    """Recompute every rollup from `llm_usage_logs` — all of it, or the UTC days that
    [since, until) touches — and return the rows each now holds there. Writers are locked out
    of the rollups until the caller commits (PostgreSQL: EXCLUSIVE table locks; SQLite: the
    database write lock), so none of their rows is lost or counted twice. Does not commit."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        tables = ", ".join(rollup.table.__tablename__ for rollup in ROLLUPS)
        session.execute(text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))
    start = Grain.DAY.start(since) if since is not None else None
    end = Grain.DAY.ceil(until) if until is not None else None
    written: dict[str, int] = {}
    for rollup in ROLLUPS:
        source = None if rollup is HOURLY else HOURLY
        moment = source.columns().bucket_start if source else LLMUsageLog.created_at
        stored = rollup.columns().bucket_start
        session.execute(delete(rollup.table).where(*_within(stored, start, end)))
        rows = rollup_select(dialect, rollup, *_within(moment, start, end), source=source)
        columns = [*rollup.key, *ROLLUP_COUNTERS]
        session.execute(insert(rollup.table).from_select(columns, rows))
        count = select(func.count()).select_from(rollup.table).where(*_within(stored, start, end))
        written[rollup.table.__tablename__] = int(session.scalar(count) or 0)
    return written


def _within(
    moment: SQLColumnExpression[Any], start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    bounds = []
    if start is not None:
        bounds.append(moment >= start)
    if end is not None:
        bounds.append(moment < end)
    return bounds


def period_parts(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    equal: Mapping[str, object],
    group_by: str | None,
    counters: Sequence[str],
    hourly: bool = False,
) -> tuple[str, Subquery]:
    """Partial sums of `counters` over [since, until) for the dimensions `equal` names, per
    `group_by` (a column named `key`) and per part; SUM them per `key` (money with
    `money_value`). With `hourly`, no part is coarser than an hour. Returns the dialect too."""
    dialect = session.get_bind().dialect.name
    wants_user = "user_id" in equal or group_by == "user_id"
    rollups = {Grain.HOUR: HOURLY if wants_user else HOURLY_MODELS, Grain.DAY: DAILY}
    parts: list[Select[Any]] = []
    raw: list[ColumnElement[bool]] = []
    for grain, start, end in _spans(since, until, hourly):
        if grain is None:
            raw.append(and_(LLMUsageLog.created_at >= start, LLMUsageLog.created_at < end))
            continue
        columns = rollups[grain].columns()
        where = [columns.bucket_start >= start, columns.bucket_start < end]
        where += [columns[name] == value for name, value in equal.items()]
        parts.append(_part(dialect, columns, where, group_by, counters))
    if raw:
        log = LLMUsageLog.__table__.c
        matching = [log[name] == value for name, value in equal.items()]
        edges = rollup_select(dialect, HOURLY, or_(*raw), *matching).subquery("edges")
        parts.append(_part(dialect, edges.c, [], group_by, counters))
    query = parts[0] if len(parts) == 1 else union_all(*parts)
    return dialect, query.subquery("usage")


def _spans(
    since: datetime, until: datetime, hourly: bool
) -> list[tuple[Grain | None, datetime, datetime]]:
    """[since, until) cut into usage rows (None), whole hours and whole days."""
    first_hour, last_hour = Grain.HOUR.ceil(since), Grain.HOUR.start(until)
    if first_hour >= last_hour:
        return [(None, since, until)]
    spans: list[tuple[Grain | None, datetime, datetime]] = [
        (None, since, first_hour),
        (None, last_hour, until),
    ]
    first_day, last_day = Grain.DAY.ceil(first_hour), Grain.DAY.start(last_hour)
    if hourly or first_day >= last_day:
        spans.append((Grain.HOUR, first_hour, last_hour))
    else:
        spans.append((Grain.HOUR, first_hour, first_day))
        spans.append((Grain.DAY, first_day, last_day))
        spans.append((Grain.HOUR, last_day, last_hour))
    return [(grain, start, end) for grain, start, end in spans if start < end]


def _part(
    dialect: str,
    columns: Any,
    where: Sequence[ColumnElement[bool]],
    group_by: str | None,
    counters: Sequence[str],
) -> Select[Any]:
    sums = [counter_sum(dialect, name, columns[name]).label(name) for name in counters]
    if group_by is None:
        return select(*sums).where(*where)
    key = columns[group_by]
    return select(key.label("key"), *sums).where(*where).group_by(key)
