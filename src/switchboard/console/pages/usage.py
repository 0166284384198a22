"""Usage: a period and filters, a chart of requests and spend, totals with the BYOK and system
parts, the top models and users, and the view as CSV. Every number comes from
`services.analytics`, as the admin usage API's do, so the two always agree."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.console import forms
from switchboard.console.deps import AdminDep, SessionDep
from switchboard.console.rendering import ConsoleRoute, render
from switchboard.services import analytics, catalog_admin
from switchboard.services.analytics import Granularity, TimePoint, UsageFilters
from switchboard.services.paging import Window
from switchboard.vocabulary import PowerLevel, Tier

router = APIRouter(route_class=ConsoleRoute)

TOP = 10
HOURLY_UP_TO = timedelta(days=2)
"""Periods up to two days are charted by the hour, longer ones by the day."""
CSV_HEADER = (
    *("start", "requests", "errors", "byok_requests", "prompt_tokens", "cached_tokens"),
    *("cache_write_tokens", "completion_tokens", "total_tokens", "cost_total_usd"),
    *("avg_latency_ms", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms"),
)
"""The admin API's time series export's columns, in its order and formats."""


@dataclass(frozen=True, slots=True)
class UsageView:
    """What the page shows: the query string's filters, resolved."""

    filters: UsageFilters
    granularity: Granularity
    form: dict[str, str]


def usage_view(
    since: str = "",
    until: str = "",
    user_id: str = "",
    model_id: str = "",
    provider_id: str = "",
    user_tier: str = "",
    power_level: str = "",
) -> UsageView:
    """The page's address: `since` and `until` are UTC days, both included (the 7 days to
    today by default); an empty filter (a form's "Any") filters nothing."""
    return resolve_view(
        forms.query_date(since, "since"),
        forms.query_date(until, "until"),
        user_id,
        forms.query_int(model_id, "model_id"),
        forms.query_int(provider_id, "provider_id"),
        forms.query_choice(user_tier, Tier, "user_tier"),
        forms.query_choice(power_level, PowerLevel, "power_level"),
    )


UsageQueryDep = Annotated[UsageView, Depends(usage_view)]


def resolve_view(
    since: date | None,
    until: date | None,
    user_id: str,
    model_id: int | None,
    provider_id: int | None,
    user_tier: Tier | None,
    power_level: PowerLevel | None,
) -> UsageView:
    today = utcnow().date()
    last = until or today
    first = since or last - timedelta(days=6)
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    filters = UsageFilters.build(
        since=start,
        until=end,
        user_id=user_id.strip() or None,
        model_id=model_id,
        provider_id=provider_id,
        user_tier=user_tier.value if user_tier else None,
        power_level=power_level.value if power_level else None,
    )
    granularity = Granularity.HOUR if end - start <= HOURLY_UP_TO else Granularity.DAY
    form = {
        "since": first.isoformat(),
        "until": last.isoformat(),
        "user_id": user_id.strip(),
        "model_id": str(model_id or ""),
        "provider_id": str(provider_id or ""),
        "user_tier": user_tier.value if user_tier else "",
        "power_level": power_level.value if power_level else "",
    }
    return UsageView(filters, granularity, form)


@router.get("/usage", response_class=HTMLResponse)
def usage_page(
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    view: UsageQueryDep,
) -> HTMLResponse:
    filters = view.filters
    points = analytics.time_series(session, filters=filters, granularity=view.granularity)
    totals, latency = analytics.usage_summary(session, filters=filters)
    return render(
        request,
        "usage.html",
        {
            "title": "Usage",
            "view": view,
            "totals": totals,
            "latency": latency,
            "top_models": analytics.top_models(session, filters=filters, limit=TOP),
            "top_users": analytics.top_users(session, filters=filters, window=Window(TOP)),
            "chart": _chart(points),
            "query": urlencode({k: v for k, v in view.form.items() if v}),
            "providers": catalog_admin.list_providers(session, window=Window(500)).items,
            "tiers": [tier.value for tier in Tier],
            "power_levels": [level.value for level in PowerLevel],
        },
    )


@router.get("/usage/export.csv")
def export_csv(
    session: SessionDep,
    _admin: AdminDep,
    view: UsageQueryDep,
) -> Response:
    """The view's time series, as the admin API's `export.csv?kind=timeseries` writes it for
    the same period, filters and granularity."""
    body = time_series_csv(session, view)
    start, end = view.filters.since, view.filters.until
    name = f"usage-timeseries-{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def time_series_csv(session: Session, view: UsageView) -> str:
    points = analytics.time_series(session, filters=view.filters, granularity=view.granularity)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for point in points:
        writer.writerow([_cell(value) for value in _row(point)])
    return buffer.getvalue()


def _row(point: TimePoint) -> tuple[Any, ...]:
    spend = point.totals.spend
    return (
        point.start,
        spend.requests,
        spend.errors,
        point.totals.byok.requests,
        spend.prompt_tokens,
        spend.cached_tokens,
        spend.cache_write_tokens,
        spend.completion_tokens,
        spend.total_tokens,
        spend.cost_total_usd,
        point.totals.avg_latency_ms,
        point.p50_ms,
        point.p95_ms,
        point.p99_ms,
    )


def _cell(value: Any) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return f"{value:.1f}"
    return value


def _chart(points: list[TimePoint]) -> dict[str, Any]:
    """uPlot's columns: x in seconds since the epoch, then one list per series; `unit` tells
    the chart how to write its values (`usd`: dollars; counts otherwise)."""
    return {
        "series": ["Requests", "Errors"],
        "data": [
            [int(point.start.timestamp()) for point in points],
            [point.totals.spend.requests for point in points],
            [point.totals.spend.errors for point in points],
        ],
        "cost": {
            "unit": "usd",
            "series": ["Spend, $"],
            "data": [
                [int(point.start.timestamp()) for point in points],
                [float(point.totals.spend.cost_total_usd) for point in points],
            ],
        },
    }
