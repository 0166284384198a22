"""The usage rollups in SQL: rebuilding them from `llm_usage_logs` (after rows were inserted
behind the writer's back, or to repair), and reading a period from them.

A period is read in parts, each summed by the database where it lies: the usage rows for
the partial hours at its edges, an hourly rollup for the whole hours beyond them, a daily one
for the whole days beyond those, and a weekly one for the whole weeks (Monday to Monday,
UTC) in the middle — each time the rollup of that grain with the fewest dimensions that
still keeps those asked about (`smallest_rollup`: without the user unless a user is asked
about). A period that starts and ends on a day's boundary thus reads no hourly rows at all.
The parts are summed per group (`UNION ALL`) and the caller sums the parts: every row is
counted once, and the big scans run directly on their tables.

Money on SQLite is REAL (see `_types`): summing doubles is not exact, so there every money sum
is taken over integer units of 10⁻¹⁰ dollars (`CAST(ROUND(cost * 1e10) AS INTEGER)`, exact
for any amount under $100,000) and turned back into a `Decimal` by `money_value`. PostgreSQL
sums NUMERIC exactly as it is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Numeric,
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
    HOURLY,
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
_SQLITE_MONDAY: tuple[ColumnElement[Any], ...] = (
    literal_column("'weekday 0'"),
    literal_column("'-6 days'"),
)


def bucket(dialect: str, grain: Grain, moment: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    """The start of the UTC hour, day or week of a stored timestamp, stored the same way.
    Constants are inline: PostgreSQL matches GROUP BY expressions textually, and bind
    parameters never match."""
    if dialect == "sqlite":  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)
        if grain is Grain.WEEK:  # the coming Sunday (or this one), less six days: Monday
            form: ColumnElement[Any] = literal_column(_SQLITE_FORMAT[Grain.DAY])
            start: ColumnElement[Any] = func.strftime(form, moment, *_SQLITE_MONDAY)
        else:
            start = func.strftime(literal_column(_SQLITE_FORMAT[grain]), moment)
    else:
        utc = func.date_trunc(literal_column(f"'{grain.value}'"), func.timezone(_UTC, moment))
        start = func.timezone(_UTC, utc)
    return type_coerce(start, UTCDateTime)


def money_sum(dialect: str, amount: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    """SUM of a money column; sum such sums with SUM, read the result with `money_value`."""
    if dialect == "sqlite":
        return func.sum(cast(func.round(type_coerce(amount, Float) * _UNITS), Integer))
    return func.sum(amount)


def money_amount(dialect: str, amount: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    """A money column as `money_sum` sums it (SQLite: integer units), to compare with sums."""
    if dialect == "sqlite":
        return cast(func.round(type_coerce(amount, Float) * _UNITS), Integer)
    return type_coerce(amount, Numeric())


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
    """Recompute every rollup from `llm_usage_logs` — all of it, or the UTC weeks (Monday to
    Monday) that [since, until) touches, so that the weekly rollups are whole — and return
    the rows each now holds there. Writers are locked out
    of the rollups until the caller commits (PostgreSQL: EXCLUSIVE table locks; SQLite: the
    database write lock), so none of their rows is lost or counted twice. Does not commit."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        tables = ", ".join(rollup.table.__tablename__ for rollup in ROLLUPS)
        session.execute(text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))
    start = Grain.WEEK.start(since) if since is not None else None
    end = Grain.WEEK.ceil(until) if until is not None else None
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
    coarsest: Grain = Grain.WEEK,
    among: tuple[str, Sequence[object]] | None = None,
) -> tuple[str, Subquery]:
    """Partial sums of `counters` over [since, until) for the dimensions `equal` names (and,
    with `among`, a dimension among some values), per `group_by` (a column named `key`) and
    per part; SUM them per `key` (money with `money_value`). No part is coarser than
    `coarsest`. Returns the dialect too."""
    dialect = session.get_bind().dialect.name
    needed = {*equal, *([among[0]] if among else [])}
    if group_by is not None and group_by != "bucket_start":
        needed.add(group_by)
    rollups = {
        grain: rollup
        for grain in GRAINS[: GRAINS.index(coarsest) + 1]
        if (rollup := smallest_rollup(grain, needed)) is not None
    }
    parts: list[Select[Any]] = []
    raw: list[ColumnElement[bool]] = []
    spans = period_spans(since, until, list(reversed(rollups))) or [(None, since, until)]
    for grain, start, end in spans:
        if grain is None:
            raw.append(and_(LLMUsageLog.created_at >= start, LLMUsageLog.created_at < end))
            continue
        columns = rollups[grain].columns()
        where = [columns.bucket_start >= start, columns.bucket_start < end]
        where += _matching(columns, equal, among)
        parts.append(_part(dialect, columns, where, group_by, counters))
    if raw:
        matching = _matching(LLMUsageLog.__table__.c, equal, among)
        edges = rollup_select(dialect, HOURLY, or_(*raw), *matching).subquery("edges")
        parts.append(_part(dialect, edges.c, [], group_by, counters))
    query = parts[0] if len(parts) == 1 else union_all(*parts)
    return dialect, query.subquery("usage")


GRAINS = (Grain.HOUR, Grain.DAY, Grain.WEEK)
"""From the finest to the coarsest."""


def smallest_rollup(grain: Grain, dimensions: Collection[str]) -> Rollup | None:
    """The rollup of `grain` that keeps every one of `dimensions` with the fewest rows, or
    None: one without the user if it may (users outnumber every other dimension's values),
    then the one with the fewest other dimensions."""
    fitting = [r for r in ROLLUPS if r.grain is grain and set(dimensions) <= set(r.dimensions)]
    return min(
        fitting,
        key=lambda rollup: ("user_id" in rollup.dimensions, len(rollup.dimensions)),
        default=None,
    )


def period_spans(
    since: datetime, until: datetime, grains: Sequence[Grain]
) -> list[tuple[Grain | None, datetime, datetime]]:
    """[since, until) cut into its whole buckets of the first of `grains` (the coarsest),
    the whole buckets of the next ones in what is left at either edge, and usage rows (None)
    in what is left then."""
    if since >= until:
        return []
    if not grains:
        return [(None, since, until)]
    grain, finer = grains[0], grains[1:]
    first, last = grain.ceil(since), grain.start(until)
    if first >= last:
        return period_spans(since, until, finer)
    return [
        *period_spans(since, first, finer),
        (grain, first, last),
        *period_spans(last, until, finer),
    ]


def _matching(
    columns: Any, equal: Mapping[str, object], among: tuple[str, Sequence[object]] | None
) -> list[ColumnElement[bool]]:
    where = [columns[name] == value for name, value in equal.items()]
    if among is not None:
        where.append(columns[among[0]].in_(among[1]))
    return where


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
