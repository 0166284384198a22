"""Usage analytics: totals per user, top models by cost, time series, usage row export.

Every query reads the rollups for the whole days and hours of the period and the usage rows
themselves only for the partial hours at its edges (see `services.rollups`), so a period may
start and end at any instant and the numbers equal the spec's SQL over `llm_usage_logs`
exactly. Money is summed exactly. Periods are half-open, [since, until), in UTC.

One module, over 600 lines: every reader here (totals, rankings, series, breakdowns, time
zones) shares the private period reader `_parts`, the summing `_totals`/`_add` and the
folding `_series`; split, they would have to be a public API of their own.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Subquery, and_, case, exists, func, literal_column, select
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.errors import InvalidFieldError, NotFoundError
from switchboard.models import LLMModel, LLMProvider, LLMUsageHourly, LLMUsageLog, User
from switchboard.models.usage import LATENCY_BUCKETS_MS
from switchboard.services.paging import FIRST_PAGE, Page, Window
from switchboard.services.rollups import (
    money_amount,
    money_sum,
    money_value,
    period_parts,
    smallest_rollup,
)
from switchboard.usage.store import (
    DIMENSIONS,
    LATENCY_COLUMNS,
    MONEY_QUANTUM,
    ROLLUP_COUNTERS,
    Grain,
    Rollup,
    as_utc,
)

DEFAULT_PERIOD = timedelta(days=7)
MAX_PERIOD = timedelta(days=366)
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
PERCENTILES = (0.50, 0.95, 0.99)


class Granularity(enum.StrEnum):
    """A time series' step: UTC hours or days."""

    HOUR = "hour"
    DAY = "day"

    @property
    def grain(self) -> Grain:
        return Grain(self.value)


TOTALS = tuple(name for name in ROLLUP_COUNTERS if name not in LATENCY_COLUMNS)


@dataclass(frozen=True, slots=True)
class UsageFilters:
    """What to count: a period [since, until) and optional equality filters."""

    since: datetime
    until: datetime
    user_id: str | None = None
    model_id: int | None = None
    provider_id: int | None = None
    user_tier: str | None = None
    power_level: str | None = None

    @classmethod
    def build(
        cls,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        now: datetime | None = None,
        **dimensions: Any,
    ) -> UsageFilters:
        """Filters over [since, until): `until` defaults to now, `since` to 7 days before
        `until`; naive times are UTC. Times are kept within 1970–9998 (no usage lies
        outside). InvalidFieldError (naming the `since` query parameter) for a period that
        ends before it starts, or one longer than 366 days: neither is silently changed into
        another period."""

        def clamp(moment: datetime) -> datetime:
            return min(max(as_utc(moment), EARLIEST), LATEST)

        end = clamp(until) if until is not None else (now or utcnow())
        start = clamp(since) if since is not None else max(end - DEFAULT_PERIOD, EARLIEST)
        named_end = "until" if until is not None else "until (now)"
        if start > end:
            raise _period_error(
                f"since ({start.isoformat()}) is after {named_end} ({end.isoformat()})"
            )
        if end - start > MAX_PERIOD:
            raise _period_error(
                f"the period from since to {named_end} covers {_days(end - start)} days; "
                f"it may cover at most {MAX_PERIOD.days} days"
            )
        return cls(since=start, until=end, **dimensions)

    def dimensions(self) -> dict[str, object]:
        """The equality filters that are set."""
        values = {name: getattr(self, name) for name in DIMENSIONS}
        return {name: value for name, value in values.items() if value is not None}


def _period_error(message: str) -> InvalidFieldError:
    return InvalidFieldError("since", message, location="query")


def _days(span: timedelta) -> int:
    """Whole days, counting a part of a day as one: 366 days and an hour is 367."""
    return -(-span // timedelta(days=1))


@dataclass(frozen=True, slots=True)
class Spend:
    """Requests, tokens and money of some part of the usage."""

    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    completion_tokens: int = 0
    cost_total_usd: Decimal = MONEY_QUANTUM * 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def minus(self, part: Spend) -> Spend:
        return Spend(*(getattr(self, f.name) - getattr(part, f.name) for f in fields(Spend)))


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """All usage matching some filters; `byok` is the part served with users' own keys."""

    spend: Spend
    byok: Spend
    latency_ms_sum: int = 0
    latency_count: int = 0

    @property
    def system(self) -> Spend:
        return self.spend.minus(self.byok)

    @property
    def avg_latency_ms(self) -> float | None:
        """The mean over requests with a latency (as SQL's AVG skips NULLs)."""
        return self.latency_ms_sum / self.latency_count if self.latency_count else None

    @property
    def byok_share(self) -> float:
        return self.byok.requests / self.spend.requests if self.spend.requests else 0.0


@dataclass(frozen=True, slots=True)
class UserUsage:
    user_id: str
    totals: UsageTotals


@dataclass(frozen=True, slots=True)
class ModelCost:
    model_db_id: int
    model_id: str
    model_name: str
    provider_id: int
    provider_name: str
    request_count: int
    total_cost: Decimal

    @property
    def avg_cost_per_request(self) -> Decimal:
        return (self.total_cost / self.request_count).quantize(MONEY_QUANTUM)


@dataclass(frozen=True, slots=True)
class TimePoint:
    """One hour or day: its start, sums, and latency percentiles in ms (None: no latency)."""

    start: datetime
    totals: UsageTotals
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


def usage_totals(session: Session, *, filters: UsageFilters) -> UsageTotals:
    """Everything matching `filters`, summed (the spec's "User Usage Statistics" when
    `filters.user_id` is set)."""
    dialect, parts = _parts(session, filters, None, TOTALS)
    row = session.execute(select(*_sums(parts, TOTALS))).one()
    return _totals(dialect, row._mapping)


def users_usage(
    session: Session, *, filters: UsageFilters, window: Window = FIRST_PAGE
) -> Page[UserUsage]:
    """Totals per user, the most expensive first (then by user id), one page of them, and
    how many users have usage in the period.

    Ranked first by cost alone, then summed in full for the page's users only: with many
    users a period has about as many rollup rows as usage rows, and carrying every counter
    through the grouping and sort of all of them took seconds where the ranking takes less.
    Counting the users groups them all anyway, so the ranking is that grouping's; a page
    that needs no count takes `top_users`, which groups only a few."""
    _, costs = _parts(session, filters, "user_id", ("cost_total_usd",))
    ranking = (
        select(costs.c.key, func.count().over().label("users"))
        .group_by(costs.c.key)
        .order_by(func.sum(costs.c.cost_total_usd).desc(), costs.c.key)
        .limit(window.limit)
        .offset(window.offset)
    )
    ranked = session.execute(ranking).all()
    if not ranked:
        return Page(items=[], total=_count_keys(session, costs) if window.offset else 0)
    items = _user_totals(session, filters, [row.key for row in ranked])
    return Page(items=items, total=int(ranked[0].users))


def top_users(
    session: Session, *, filters: UsageFilters, window: Window = FIRST_PAGE
) -> list[UserUsage]:
    """`users_usage`'s page of users, without counting them all: ranked among the
    `spend_candidates` when there are few, then summed in full."""
    candidates = spend_candidates(session, filters, "user_id", window.offset + window.limit)
    if candidates == []:
        return []
    among = None if candidates is None else ("user_id", candidates)
    _, costs = _parts(session, filters, "user_id", ("cost_total_usd",), among=among)
    ranking = (
        select(costs.c.key)
        .group_by(costs.c.key)
        .order_by(func.sum(costs.c.cost_total_usd).desc(), costs.c.key)
        .limit(window.limit)
        .offset(window.offset)
    )
    return _user_totals(session, filters, list(session.scalars(ranking)))


def _user_totals(session: Session, filters: UsageFilters, users: list[str]) -> list[UserUsage]:
    """The totals of `users`, in their order."""
    if not users:
        return []
    dialect, parts = _parts(session, filters, "user_id", TOTALS, among=("user_id", users))
    query = select(parts.c.key, *_sums(parts, TOTALS)).group_by(parts.c.key)
    summed = {row.key: row for row in session.execute(query)}
    return [UserUsage(key, _totals(dialect, summed[key]._mapping)) for key in users]


CANDIDATES_AT_MOST = 2000
"""More candidates than this, and `spend_candidates` gives up: the plain ranking is as quick."""
ROWS_PER_KEY_AT_MOST = 64
"""`spend_candidates` looks for candidates by their largest rollup row up to this bound."""


def spend_candidates(
    session: Session,
    filters: UsageFilters,
    key: str,
    count: int,
    *,
    valid: Callable[[ColumnElement[Any]], ColumnElement[bool]] | None = None,
) -> list[Any] | None:
    """Every `key` (user, model) that may rank among the first `count` by cost over the
    period — a superset of them, exact but for a few extra — read from a weekly rollup, or
    None when no weekly rollup keeps `key` and the filters, or the candidates are too many
    (then rank them all). `valid` limits the keys ranked (to models that still exist).

    A key's cost over some rollup rows that lie within the period is a lower bound of its
    cost over the period, and its cost over the weeks the period touches an upper bound:
    costs are never negative, which is what makes these bounds, and the answer exact. Let L
    be the `count`-th highest lower bound: `count` keys cost at least L, so a key whose upper
    bound is below L costs less than each of them and cannot rank among the first `count`,
    ties and all. The candidates are the keys whose upper bound reaches L (every key, when
    fewer than `count` have usage); the caller sums their exact costs and ranks them.

    The lower bounds come from the costliest rows of the weeks within the period (or of its
    whole days, from the daily rollup). When a key has at most R rows in the touched weeks
    (their number times the values the rollup's other dimensions take there), an upper bound
    that reaches L needs a row of at least L / R: only the keys with such a row are summed.
    Otherwise every key of the touched weeks is summed, if the period has a whole week."""
    weekly = smallest_rollup(Grain.WEEK, {key, *filters.dimensions()})
    if weekly is None:
        return None
    scope = _CandidateScope(session, filters, key, weekly, valid)
    rows_per_key = scope.rows_per_key()
    found = None
    if rows_per_key <= ROWS_PER_KEY_AT_MOST:
        found = scope.by_largest_rows(count, rows_per_key)
    if found is None and Grain.WEEK.ceil(filters.since) < Grain.WEEK.start(filters.until):
        found = scope.by_sums(count)  # without a whole week every lower bound would be 0
    return None if found is None or len(found) > CANDIDATES_AT_MOST else found


class _CandidateScope:
    """The rows `spend_candidates` reads: of `weekly`, in the weeks the period touches, that
    match the filters and `valid`."""

    def __init__(
        self,
        session: Session,
        filters: UsageFilters,
        key: str,
        weekly: Rollup,
        valid: Callable[[ColumnElement[Any]], ColumnElement[bool]] | None,
    ) -> None:
        self.session, self.filters, self.key, self.weekly = session, filters, key, weekly
        self.dialect = session.get_bind().dialect.name
        self.valid = valid
        self.touched = (Grain.WEEK.start(filters.since), Grain.WEEK.ceil(filters.until))

    def where(self, rollup: Rollup, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
        columns = rollup.columns()
        where = [columns.bucket_start >= start, columns.bucket_start < end]
        where += [columns[name] == value for name, value in self.filters.dimensions().items()]
        if self.valid is not None:
            where.append(self.valid(columns[self.key]))
        return where

    def rows_per_key(self) -> int:
        """At most how many rows of the touched weeks one key has: the weeks, times the
        values each other dimension (not filtered) takes in them (the same in every rollup
        that keeps it: the smallest is asked)."""
        start, end = self.touched
        bound = (end - start) // Grain.WEEK.step
        fixed = {self.key, *self.filters.dimensions()}
        for name in (name for name in self.weekly.dimensions if name not in fixed):
            rollup = smallest_rollup(Grain.DAY, {name})
            assert rollup is not None
            columns = rollup.columns()
            distinct = select(func.count(func.distinct(columns[name]))).where(
                columns.bucket_start >= start, columns.bucket_start < end
            )
            bound *= int(self.session.scalar(distinct) or 0)
            if bound > ROWS_PER_KEY_AT_MOST:  # too many to look for: no need to know more
                break
        return bound

    def by_largest_rows(self, count: int, rows_per_key: int) -> list[Any] | None:
        """The candidates, from the keys with a row of at least L / R (see
        `spend_candidates`); None when the rows within the period name fewer than `count`
        keys."""
        lower = self.lower_bound(count)
        if lower is None:
            return None
        columns = self.weekly.columns()
        cost = money_amount(self.dialect, columns.cost_total_usd)
        # cost ≥ L / R, rounded down to a unit that costs are whole multiples of: the same
        # rows as cost × R ≥ L, found by the index on cost
        if isinstance(lower, int):  # SQLite: integer units
            least: int | Decimal = lower // rows_per_key
        else:
            least = (lower / rows_per_key).quantize(MONEY_QUANTUM, rounding=ROUND_FLOOR)
        large = (
            select(columns[self.key])
            .where(*self.where(self.weekly, *self.touched), cost >= least)
            .distinct()
            .limit(CANDIDATES_AT_MOST + 1)
        )
        keys = list(self.session.scalars(large))
        if len(keys) > CANDIDATES_AT_MOST:
            return None
        query = (
            select(columns[self.key])
            .where(*self.where(self.weekly, *self.touched), columns[self.key].in_(keys))
            .group_by(columns[self.key])
            .having(money_sum(self.dialect, columns.cost_total_usd) >= lower)
        )
        return list(self.session.scalars(query))

    def lower_bound(self, count: int) -> Any:
        """L' ≤ L: the `count`-th highest sum per key of the costliest rows within the period
        (of whole weeks, else of whole days); None when they name fewer than `count` keys."""
        first, last = Grain.WEEK.ceil(self.filters.since), Grain.WEEK.start(self.filters.until)
        rollup: Rollup | None = self.weekly
        if first >= last:
            first, last = Grain.DAY.ceil(self.filters.since), Grain.DAY.start(self.filters.until)
            rollup = smallest_rollup(Grain.DAY, {self.key, *self.filters.dimensions()})
        if rollup is None or first >= last:
            return None
        columns = rollup.columns()
        cost = money_amount(self.dialect, columns.cost_total_usd)
        top = (
            select(columns[self.key], cost)
            .where(*self.where(rollup, first, last))
            .order_by(cost.desc())
            .limit(count * LARGEST_ROWS_PER_KEY)
        )
        sums: dict[Any, Any] = {}
        for found, amount in self.session.execute(top):
            sums[found] = sums.get(found, 0) + amount
        if len(sums) < count:
            return None
        return sorted(sums.values(), reverse=True)[count - 1]

    def by_sums(self, count: int) -> list[Any]:
        """The candidates, from every key's sums over the touched weeks."""
        columns = self.weekly.columns()
        week = columns.bucket_start
        whole = and_(
            week >= Grain.WEEK.ceil(self.filters.since), week < Grain.WEEK.start(self.filters.until)
        )
        cost = columns.cost_total_usd
        per_key = (
            select(
                columns[self.key].label("key"),
                money_sum(self.dialect, case((whole, cost), else_=literal_column("0"))).label(
                    "lower"
                ),
                money_sum(self.dialect, cost).label("upper"),
            )
            .where(*self.where(self.weekly, *self.touched))
            .group_by(columns[self.key])
            .cte("per_key")
        )
        threshold = (
            select(per_key.c.lower)
            .order_by(per_key.c.lower.desc())
            .offset(count - 1)
            .limit(1)
            .scalar_subquery()
        )
        reaching = per_key.c.upper >= func.coalesce(threshold, literal_column("-1"))
        query = select(per_key.c.key).where(reaching).limit(CANDIDATES_AT_MOST + 1)
        return list(self.session.scalars(query))


LARGEST_ROWS_PER_KEY = 8
"""How many of the costliest rows per key `count` `_CandidateScope.lower_bound` reads."""


def top_models(session: Session, *, filters: UsageFilters, limit: int = 10) -> list[ModelCost]:
    """The spec's "Top Cost Models": models by total cost, highest first (then by name).
    Usage rows whose model was deleted are not counted, as the spec's JOIN does not. Summed
    for the `spend_candidates` alone, when there are few."""
    counters = ("requests", "cost_total_usd")

    def existing(model_id: ColumnElement[Any]) -> ColumnElement[bool]:
        return model_id.in_(select(LLMModel.id))

    candidates = spend_candidates(session, filters, "model_id", limit, valid=existing)
    if candidates == []:
        return []
    among = None if candidates is None else ("model_id", candidates)
    dialect, parts = _parts(session, filters, "model_id", counters, among=among)
    per_model = (
        select(parts.c.key, *_sums(parts, counters))
        .where(parts.c.key != 0)
        .group_by(parts.c.key)
        .subquery("per_model")
    )
    query = (
        select(
            LLMModel.id,
            LLMModel.model_id,
            LLMModel.model_name,
            LLMProvider.id,
            LLMProvider.provider_name,
            per_model.c.requests,
            per_model.c.cost_total_usd,
        )
        .join(LLMModel, LLMModel.id == per_model.c.key)
        .join(LLMProvider, LLMProvider.id == LLMModel.provider_id)
        .order_by(per_model.c.cost_total_usd.desc(), LLMModel.model_name, LLMModel.id)
        .limit(limit)
    )
    return [
        ModelCost(
            db_id, model_id, name, provider_id, provider, int(requests), money_value(dialect, cost)
        )
        for db_id, model_id, name, provider_id, provider, requests, cost in session.execute(query)
    ]


def time_series(
    session: Session, *, filters: UsageFilters, granularity: Granularity
) -> list[TimePoint]:
    """One point per UTC hour or day of the period, empty ones included. The latency
    percentiles are interpolated linearly within the rollup's histogram buckets
    (`LATENCY_BUCKETS_MS`), so they are estimates, exact only to the bucket; above the last
    bound the bound itself is reported."""
    grain = granularity.grain
    return _series(session, filters, grain, grain.start, _point_starts(filters, granularity))


def _series(
    session: Session,
    filters: UsageFilters,
    coarsest: Grain,
    point_of: Callable[[datetime], datetime],
    starts: Iterable[datetime],
) -> list[TimePoint]:
    """The rollup buckets of the period (none coarser than `coarsest`) folded into the point
    `point_of` each bucket's start falls in, one point per start of `starts`."""
    dialect, parts = _parts(session, filters, "bucket_start", ROLLUP_COUNTERS, coarsest=coarsest)
    query = select(parts.c.key, *_sums(parts, ROLLUP_COUNTERS)).group_by(parts.c.key)
    folded: dict[datetime, tuple[UsageTotals, list[int]]] = {}
    for row in session.execute(query):
        start = point_of(row.key)
        totals = _totals(dialect, row._mapping)
        counts = [int(row._mapping[name] or 0) for name in LATENCY_COLUMNS]
        if start in folded:
            before, before_counts = folded[start]
            totals = _add(before, totals)
            counts = [a + b for a, b in zip(before_counts, counts, strict=True)]
        folded[start] = (totals, counts)
    points = []
    for start in starts:
        totals, counts = folded.get(start, (UsageTotals(Spend(), Spend()), []))
        p50, p95, p99 = (latency_percentile(counts, q) for q in PERCENTILES)
        points.append(TimePoint(start, totals, p50, p95, p99))
    return points


@dataclass(frozen=True, slots=True)
class LatencyPercentiles:
    """Over a whole period, in ms (None: no request with a latency), estimated as a time
    series point's are."""

    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


def period_latency(session: Session, *, filters: UsageFilters) -> LatencyPercentiles:
    """The latency percentiles of all usage matching `filters`, from the same histogram
    buckets as `time_series`."""
    _, parts = _parts(session, filters, None, LATENCY_COLUMNS)
    row = session.execute(select(*_sums(parts, LATENCY_COLUMNS))).one()
    return _percentiles(row._mapping)


def usage_summary(
    session: Session, *, filters: UsageFilters
) -> tuple[UsageTotals, LatencyPercentiles]:
    """`usage_totals` and `period_latency` from one read of the rollups, for a page that shows
    both: over a month of a large platform each read is a scan of a million rollup rows."""
    counters = (*TOTALS, *LATENCY_COLUMNS)
    dialect, parts = _parts(session, filters, None, counters)
    row = session.execute(select(*_sums(parts, counters))).one()
    return _totals(dialect, row._mapping), _percentiles(row._mapping)


def _percentiles(sums: Any) -> LatencyPercentiles:
    counts = [int(sums[name] or 0) for name in LATENCY_COLUMNS]
    p50, p95, p99 = (latency_percentile(counts, q) for q in PERCENTILES)
    return LatencyPercentiles(p50, p95, p99)


def latency_percentile(counts: Sequence[int], quantile: float) -> float | None:
    """The `quantile` of a histogram with `LATENCY_BUCKETS_MS` bounds (the first bucket
    starting at 0 ms), interpolated linearly inside the bucket it falls in."""
    total = sum(counts)
    if total == 0:
        return None
    rank, seen, lower = quantile * total, 0, 0
    for count, upper in zip(counts, (*LATENCY_BUCKETS_MS, None), strict=True):
        if count and seen + count >= rank:
            if upper is None:
                return float(lower)
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = upper or lower
    return float(lower)


def check_user_known(session: Session, *, user_id: str) -> None:
    """NotFoundError unless `user_id` is a gateway user or has ever had usage recorded."""
    known = session.scalar(
        select(
            exists().where(User.id == user_id)
            | exists().where(LLMUsageHourly.user_id == user_id)
            | exists().where(LLMUsageLog.user_id == user_id)
        )
    )
    if not known:
        raise NotFoundError(f"user {user_id!r} does not exist")


ROW_COLUMNS = tuple(
    column.key
    for column in LLMUsageLog.__table__.columns
    if column.key not in {"id", "error_message", "request_ip", "user_agent", "user_key_id"}
)
"""The columns of a usage row export (no free text or client details)."""


def usage_rows(
    session: Session, *, filters: UsageFilters, batch: int = 1000
) -> Iterator[Sequence[object]]:
    """The usage rows matching `filters` (`ROW_COLUMNS`), oldest first, fetched `batch` rows
    at a time (a server-side cursor on PostgreSQL), so an export of any size streams."""
    log = LLMUsageLog.__table__.c
    query = (
        select(*(log[name] for name in ROW_COLUMNS))
        .where(log.created_at >= filters.since, log.created_at < filters.until)
        .where(*(log[name] == value for name, value in filters.dimensions().items()))
        .order_by(log.created_at, log.id)
        .execution_options(yield_per=batch)
    )
    yield from session.execute(query)


def _totals(dialect: str, row: Any) -> UsageTotals:
    def count(name: str) -> int:
        return int(row[name] or 0)

    def money(name: str) -> Decimal:
        return money_value(dialect, row[name])

    return UsageTotals(
        spend=Spend(
            count("requests"),
            count("errors"),
            count("prompt_tokens"),
            count("cached_tokens"),
            count("cache_write_tokens"),
            count("completion_tokens"),
            money("cost_total_usd"),
        ),
        byok=Spend(
            count("byok_requests"),
            count("byok_errors"),
            count("byok_prompt_tokens"),
            count("byok_cached_tokens"),
            count("byok_cache_write_tokens"),
            count("byok_completion_tokens"),
            money("byok_cost_total_usd"),
        ),
        latency_ms_sum=count("latency_ms_sum"),
        latency_count=count("latency_count"),
    )


def _add(a: UsageTotals, b: UsageTotals) -> UsageTotals:
    def plus(x: Spend, y: Spend) -> Spend:
        return Spend(*(getattr(x, f.name) + getattr(y, f.name) for f in fields(Spend)))

    return replace(
        a,
        spend=plus(a.spend, b.spend),
        byok=plus(a.byok, b.byok),
        latency_ms_sum=a.latency_ms_sum + b.latency_ms_sum,
        latency_count=a.latency_count + b.latency_count,
    )


def _parts(
    session: Session,
    filters: UsageFilters,
    group_by: str | None,
    counters: Sequence[str],
    *,
    coarsest: Grain = Grain.WEEK,
    among: tuple[str, Sequence[object]] | None = None,
) -> tuple[str, Subquery]:
    return period_parts(
        session,
        since=filters.since,
        until=filters.until,
        equal=filters.dimensions(),
        group_by=group_by,
        counters=counters,
        coarsest=coarsest,
        among=among,
    )


def _sums(parts: Subquery, counters: Sequence[str]) -> list[ColumnElement[Any]]:
    return [func.sum(parts.c[name]).label(name) for name in counters]


def _count_keys(session: Session, parts: Subquery) -> int:
    return int(session.scalar(select(func.count(func.distinct(parts.c.key)))) or 0)


def _point_starts(filters: UsageFilters, granularity: Granularity) -> Iterator[datetime]:
    start = granularity.grain.start(filters.since)
    while start < filters.until:
        yield start
        start += granularity.grain.step


class Breakdown(enum.StrEnum):
    """What a spend breakdown splits the spend by."""

    PROVIDER = "provider"
    MODEL = "model"


@dataclass(frozen=True, slots=True)
class SpendSeries:
    """One part of a spend breakdown: a provider's or model's spend per point (`key` None:
    everything else, "Other")."""

    key: int | None
    name: str
    costs: list[Decimal]


def spend_breakdown(
    session: Session,
    *,
    filters: UsageFilters,
    granularity: Granularity,
    by: Breakdown,
    limit: int = 5,
    zone: ZoneInfo | None = None,
) -> tuple[list[datetime], list[SpendSeries]]:
    """The spend per point of `time_series`, split into the `limit` providers or models that
    cost the most over the period (then by id) and "Other", the rest (deleted models and
    rows without one included), when it is not zero everywhere. Each part is `time_series`
    filtered to it, and Other the total minus the parts, so the parts add up to the total
    exactly. With `zone`, days start at midnight there (see `local_time_series`)."""

    def series_of(only: UsageFilters) -> list[TimePoint]:
        if zone is None:
            return time_series(session, filters=only, granularity=granularity)
        return local_time_series(session, filters=only, granularity=granularity, zone=zone)

    column = "provider_id" if by is Breakdown.PROVIDER else "model_id"
    _, parts = _parts(session, filters, column, ("cost_total_usd",))
    cost = func.sum(parts.c.cost_total_usd)
    ranking = (
        select(parts.c.key)
        .where(parts.c.key != 0)
        .group_by(parts.c.key)
        .order_by(cost.desc(), parts.c.key)
        .limit(limit)
    )
    keys = [int(key) for key in session.scalars(ranking)]
    names = _names(session, by, keys)
    total = series_of(filters)
    starts = [point.start for point in total]
    rest = [point.totals.spend.cost_total_usd for point in total]
    series = []
    for key in keys:
        only = (
            replace(filters, provider_id=key)
            if by is Breakdown.PROVIDER
            else replace(filters, model_id=key)
        )
        part = series_of(only)
        costs = [point.totals.spend.cost_total_usd for point in part]
        rest = [left - spent for left, spent in zip(rest, costs, strict=True)]
        series.append(SpendSeries(key, names.get(key, f"#{key} (deleted)"), costs))
    if any(rest):
        series.append(SpendSeries(None, "Other", rest))
    return starts, series


def _names(session: Session, by: Breakdown, keys: Sequence[int]) -> dict[int, str]:
    if by is Breakdown.PROVIDER:
        query = select(LLMProvider.id, LLMProvider.provider_name).where(LLMProvider.id.in_(keys))
    else:
        query = select(LLMModel.id, LLMModel.model_name).where(LLMModel.id.in_(keys))
    return {int(key): str(name) for key, name in session.execute(query)}


def fallback_count(session: Session, *, filters: UsageFilters) -> int:
    """The usage rows matching `filters` whose request took more than one attempt: its first
    deployment failed with a retryable error and at least one more was tried (whether that
    one served it or not). Read from the usage rows through the partial index of those rows
    only (`ix_llm_usage_logs_fallback_created`): fallbacks are rare."""
    log = LLMUsageLog.__table__.c
    query = (
        select(func.count())
        .select_from(LLMUsageLog)
        .where(log.attempts > 1, log.created_at >= filters.since, log.created_at < filters.until)
        .where(*(log[name] == value for name, value in filters.dimensions().items()))
    )
    return int(session.scalar(query) or 0)


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (`UTC`, `Europe/Paris`); InvalidFieldError naming the `tz`
    query parameter when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidFieldError(
            "tz", f"{name!r} is not an IANA time zone (e.g. UTC, Europe/Paris)", location="query"
        ) from None


def local_time_series(
    session: Session, *, filters: UsageFilters, granularity: Granularity, zone: ZoneInfo
) -> list[TimePoint]:
    """`time_series` with days that start at midnight in `zone` (hours are the same in every
    zone this accepts). The rollups are hourly in UTC, so their hours are folded into local
    days: exact only where the zone's offset from UTC is whole hours over the whole period;
    InvalidFieldError naming `tz` for another (India's +05:30, Nepal's +05:45, ...)."""
    check_whole_hours(zone, filters)
    if granularity is Granularity.HOUR or zone.key == "UTC":
        return time_series(session, filters=filters, granularity=granularity)
    return _series(
        session,
        filters,
        Grain.HOUR,
        lambda start: _local_day(as_utc(start), zone),
        _local_day_starts(filters, zone),
    )


def _local_day_starts(filters: UsageFilters, zone: ZoneInfo) -> Iterator[datetime]:
    start = _local_day(filters.since, zone)
    while start < filters.until:
        yield start
        start = datetime.combine(start.date() + timedelta(days=1), time(), zone)


def _local_day(moment: datetime, zone: ZoneInfo) -> datetime:
    return datetime.combine(moment.astimezone(zone).date(), time(), zone)


def check_whole_hours(zone: ZoneInfo, filters: UsageFilters) -> None:
    """InvalidFieldError naming `tz` unless `zone`'s offset from UTC is whole hours
    throughout the period of `filters`: only then do its days start on a rollup's hour."""
    moment = Grain.HOUR.start(filters.since)
    while moment < filters.until:
        offset = moment.astimezone(zone).utcoffset() or timedelta(0)
        if offset % timedelta(hours=1):
            raise InvalidFieldError(
                "tz",
                f"{zone.key} is {_offset(offset)} from UTC at {moment:%Y-%m-%d %H:%M} UTC; usage "
                "is summed by the UTC hour, so days can only start at midnight in a zone whose "
                "offset is whole hours",
                location="query",
            )
        moment += timedelta(hours=1)


def _offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
