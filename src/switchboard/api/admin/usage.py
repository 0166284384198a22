"""Admin API: usage analytics — per-user statistics, top models by cost, a time series, and
CSV export. Every period is [since, until) in UTC, 7 days before now by default."""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from switchboard.api.admin.schemas_usage import (
    DimensionsDep,
    FiltersDep,
    SpendBreakdownPublic,
    TimePointPublic,
    TimeSeriesPublic,
    TopModelPublic,
    TopModelsPublic,
    UsageStatsPublic,
    UsageSummaryPublic,
    UserUsagePagePublic,
    UserUsagePublic,
)
from switchboard.api.deps import GatewayDep, SessionDep
from switchboard.api.schemas import PagingDep, UserIdPath
from switchboard.models import LLMUsageLog
from switchboard.services import analytics
from switchboard.services.analytics import Breakdown, Granularity, TimePoint, UsageFilters

router = APIRouter(prefix="/usage", tags=["admin: usage"])

GranularityParam = Annotated[Granularity, Query(description="One point per UTC hour or day.")]
TzParam = Annotated[
    str,
    Query(
        max_length=64,
        description="The IANA time zone whose midnights start the days (default UTC); a zone "
        "whose offset from UTC is not whole hours over the period is a 422 naming `tz`.",
    ),
]
CSV_CHUNK_ROWS = 1000


class ExportKind(enum.StrEnum):
    TIMESERIES = "timeseries"
    ROWS = "rows"


@router.get("/users", response_model=UserUsagePagePublic)
def list_users_usage(
    session: SessionDep, filters: DimensionsDep, paging: PagingDep
) -> UserUsagePagePublic:
    """Usage statistics of every user with usage in the period, the most expensive first."""
    page = analytics.users_usage(session, filters=filters, window=paging)
    return UserUsagePagePublic(
        since=filters.since,
        until=filters.until,
        total=page.total,
        limit=paging.limit,
        offset=paging.offset,
        items=[UsageStatsPublic.of(item.user_id, item.totals) for item in page.items],
    )


@router.get(
    "/users/{user_id}",
    response_model=UserUsagePublic,
    responses={404: {"description": "No such user, and no usage recorded for that id."}},
)
def get_user_usage(
    user_id: UserIdPath, session: SessionDep, filters: DimensionsDep
) -> UserUsagePublic:
    """One user's usage statistics over the period (the spec's "User Usage Statistics")."""
    analytics.check_user_known(session, user_id=user_id)
    totals = analytics.usage_totals(session, filters=replace(filters, user_id=user_id))
    stats = UsageStatsPublic.of(user_id, totals)
    return UserUsagePublic(**stats.model_dump(), since=filters.since, until=filters.until)


@router.get("/top-models", response_model=TopModelsPublic)
def get_top_models(
    session: SessionDep,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=100, description="How many models.")] = 10,
) -> TopModelsPublic:
    """The models that cost the most over the period (the spec's "Top Cost Models")."""
    rows = analytics.top_models(session, filters=filters, limit=limit)
    return TopModelsPublic(
        since=filters.since, until=filters.until, items=[TopModelPublic.of(row) for row in rows]
    )


@router.get("/timeseries", response_model=TimeSeriesPublic)
def get_time_series(
    session: SessionDep,
    filters: FiltersDep,
    granularity: GranularityParam = Granularity.HOUR,
    tz: TzParam = "UTC",
) -> TimeSeriesPublic:
    """Requests, tokens, cost, errors and latency percentiles per hour or day (starting at
    midnight in `tz`), empty ones included. Percentiles are interpolated within the latency
    histogram's buckets."""
    points = analytics.local_time_series(
        session, filters=filters, granularity=granularity, zone=analytics.time_zone(tz)
    )
    return TimeSeriesPublic(
        since=filters.since,
        until=filters.until,
        granularity=granularity.value,
        points=[TimePointPublic.of(point) for point in points],
    )


@router.get("/summary", response_model=UsageSummaryPublic)
def get_usage_summary(
    session: SessionDep, filters: FiltersDep, tz: TzParam = "UTC"
) -> UsageSummaryPublic:
    """Totals, latency percentiles and the fallback rate of all usage matching the filters:
    the numbers of the console's usage page. The period is the instants `since` and `until`
    whatever the zone; `tz` refuses a zone the time series would (for days in that zone,
    give `since` and `until` at its midnights)."""
    analytics.check_whole_hours(analytics.time_zone(tz), filters)
    totals, latency = analytics.usage_summary(session, filters=filters)
    fallbacks = analytics.fallback_count(session, filters=filters)
    stats = UsageStatsPublic.of(filters.user_id or "", totals).model_dump()
    requests = totals.spend.requests
    return UsageSummaryPublic(
        **{**stats, "user_id": filters.user_id},
        since=filters.since,
        until=filters.until,
        p50_latency_ms=latency.p50_ms,
        p95_latency_ms=latency.p95_ms,
        p99_latency_ms=latency.p99_ms,
        fallback_requests=fallbacks,
        fallback_rate=fallbacks / requests if requests else 0.0,
    )


@router.get("/spend-breakdown", response_model=SpendBreakdownPublic)
def get_spend_breakdown(
    session: SessionDep,
    filters: FiltersDep,
    by: Annotated[Breakdown, Query(description="Split the spend by provider or by model.")],
    granularity: GranularityParam = Granularity.HOUR,
    limit: Annotated[
        int, Query(ge=1, le=20, description="How many providers or models before Other.")
    ] = 5,
    tz: TzParam = "UTC",
) -> SpendBreakdownPublic:
    """The time series' spend per hour or day split into the providers or models that cost
    the most over the period, and "Other" (the rest) when it is not zero."""
    breakdown = analytics.spend_breakdown(
        session,
        filters=filters,
        granularity=granularity,
        by=by,
        limit=limit,
        zone=analytics.time_zone(tz),
    )
    return SpendBreakdownPublic.of(filters, granularity.value, by.value, breakdown)


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV, header row first."}},
)
def export_csv(
    gateway: GatewayDep,
    session: SessionDep,
    filters: FiltersDep,
    kind: Annotated[
        ExportKind, Query(description="The time series, or the usage rows themselves.")
    ] = ExportKind.TIMESERIES,
    granularity: GranularityParam = Granularity.HOUR,
    tz: TzParam = "UTC",
) -> StreamingResponse:
    """The time series (`kind=timeseries`) or the raw usage rows (`kind=rows`, oldest first,
    streamed: an export of any size is never held in memory) as CSV. A text cell that starts
    with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `'` before it, so that a
    spreadsheet shows it rather than running it as a formula; numbers are never changed."""
    if kind is ExportKind.TIMESERIES:
        zone = analytics.time_zone(tz)
        points = analytics.local_time_series(
            session, filters=filters, granularity=granularity, zone=zone
        )
        rows = _time_series_rows(points)
        body: Iterator[str] = _chunks(rows, TIME_SERIES_HEADER, TIME_SERIES_KINDS)
    else:
        body = _usage_rows(gateway.sessions, filters)
    name = f"usage-{kind.value}-{filters.since:%Y%m%dT%H%M}-{filters.until:%Y%m%dT%H%M}.csv"
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


TIME_SERIES_HEADER = (
    *("start", "requests", "errors", "byok_requests", "prompt_tokens", "cached_tokens"),
    *("cache_write_tokens", "completion_tokens", "total_tokens", "cost_total_usd"),
    *("avg_latency_ms", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms"),
)
TIME_SERIES_KINDS = (datetime, *(int,) * 8, Decimal, *(float,) * 4)
Cell = Callable[[Any], object]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP's list for CSV injection)."""


def _text(value: str) -> str:
    """A text cell, with a `'` before it when a spreadsheet would run it as a formula
    (`=HYPERLINK(…)`, `-2-3`). Only text columns are escaped: a number, negative or not, is
    formatted by its own type and is never touched."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


_FORMATS: dict[type, Cell] = {
    bool: lambda value: "true" if value else "false",
    datetime: datetime.isoformat,
    Decimal: lambda value: format(value, "f"),
    float: lambda value: f"{value:.1f}",
    str: _text,
}


def _time_series_rows(points: Iterable[TimePoint]) -> Iterator[Sequence[object]]:
    for point in points:
        public = TimePointPublic.of(point)
        yield [getattr(public, name) for name in TIME_SERIES_HEADER]


def _usage_rows(sessions: sessionmaker[Session], filters: UsageFilters) -> Iterator[str]:
    """Opens its own session: the response streams after the endpoint has returned."""
    columns = LLMUsageLog.__table__.c
    types = (columns[name].type for name in analytics.ROW_COLUMNS)
    kinds = [getattr(kind, "impl", kind).python_type for kind in types]  # under a decorator
    with sessions() as session:
        rows = analytics.usage_rows(session, filters=filters, batch=CSV_CHUNK_ROWS)
        yield from _chunks(rows, analytics.ROW_COLUMNS, kinds)


def _chunks(
    rows: Iterable[Sequence[object]], header: Sequence[str], kinds: Sequence[type]
) -> Iterator[str]:
    """CSV text: a header, then `CSV_CHUNK_ROWS` rows per chunk; each column formatted by
    its Python type (money as exact decimals, times in ISO 8601, NULL as empty, text as
    `_text` escapes it)."""
    formats = [_cell(kind) for kind in kinds]
    buffer = io.StringIO()
    # RFC 4180's CRLF: the csv module quotes a field holding any character of the line
    # terminator, so a text cell with a bare CR cannot split its row (as it did with "\n").
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([format_(value) for format_, value in zip(formats, row, strict=True)])
        if count % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(kind: type) -> Cell:
    convert = _FORMATS.get(kind)
    if convert is None:
        return lambda value: "" if value is None else value
    return lambda value: "" if value is None else convert(value)
