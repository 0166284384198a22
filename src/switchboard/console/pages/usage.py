"""Usage: a period (24 h, 7 d, 30 d or custom days) and filters; charts of requests and errors,
spend, tokens by kind and latency percentiles, each with its numbers as a table; totals with
the BYOK and system parts, the top models and users, and the view as CSV. Every number comes from
`services.analytics`, as the admin usage API's do, so the two always agree."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.console import forms
from switchboard.console.deps import AdminDep, SessionDep
from switchboard.console.rendering import ConsoleRoute, render
from switchboard.errors import InvalidFieldError
from switchboard.services import analytics, catalog_admin
from switchboard.services.analytics import Breakdown, Granularity, Spend, TimePoint, UsageFilters
from switchboard.services.paging import Window
from switchboard.vocabulary import PowerLevel, Tier

router = APIRouter(route_class=ConsoleRoute)

TOP = 10
STACKED = 5
"""Providers or models drawn in the stacked spend chart before Other."""
HOURLY_UP_TO = timedelta(days=2)
"""Periods up to two days are charted by the hour, longer ones by the day."""
RANGES = {"24h": "24 h", "7d": "7 d", "30d": "30 d", "custom": "Custom"}
"""The period presets, by their value in the page's address, with their labels."""
PRESET_DAYS = {"7d": 7, "30d": 30}
UTC_ZONE = ZoneInfo("UTC")
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
    range: str
    stack: Breakdown
    zone: ZoneInfo
    tz_error: str = ""
    """Why the time zone asked for cannot be used (the page then shows only the form)."""


def usage_view(
    range: str = "",
    since: str = "",
    until: str = "",
    user_id: str = "",
    model_id: str = "",
    provider_id: str = "",
    user_tier: str = "",
    power_level: str = "",
    stack: str = "",
    tz: str = "",
) -> UsageView:
    """The page's address: `range` is a preset (`24h`: the 24 whole hours to the current one,
    by the hour; `7d`, `30d`: the days to today) or `custom`, where `since` and `until` are
    days in the time zone `tz` (UTC by default), both included. Without a range, `since` or
    `until` mean custom and neither means 7 d. An empty filter (a form's "Any") filters nothing."""
    if range and range not in RANGES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "range: unknown")
    return resolve_view(
        range or ("custom" if since or until else "7d"),
        forms.query_date(since, "since"),
        forms.query_date(until, "until"),
        user_id,
        forms.query_int(model_id, "model_id"),
        forms.query_int(provider_id, "provider_id"),
        forms.query_choice(user_tier, Tier, "user_tier"),
        forms.query_choice(power_level, PowerLevel, "power_level"),
        forms.query_choice(stack, Breakdown, "stack") or Breakdown.PROVIDER,
        tz.strip() or "UTC",
    )


UsageQueryDep = Annotated[UsageView, Depends(usage_view)]


def resolve_view(
    preset: str,
    since: date | None,
    until: date | None,
    user_id: str,
    model_id: int | None,
    provider_id: int | None,
    user_tier: Tier | None,
    power_level: PowerLevel | None,
    stack: Breakdown = Breakdown.PROVIDER,
    tz: str = "UTC",
) -> UsageView:
    try:
        zone = analytics.time_zone(tz)
    except InvalidFieldError as error:
        zone, tz_error = UTC_ZONE, error.message
    else:
        tz_error = ""
    now = utcnow()
    today = now.astimezone(zone).date()
    if preset == "24h":
        end = Granularity.HOUR.grain.start(now) + Granularity.HOUR.grain.step
        start = end - timedelta(days=1)
        first, last = start.date(), (end - timedelta(microseconds=1)).date()
    else:
        days = PRESET_DAYS.get(preset, 7)
        last = (until or today) if preset == "custom" else today
        first = (since or last - timedelta(days=6)) if preset == "custom" else last
        if preset != "custom":
            first = last - timedelta(days=days - 1)
        start = datetime.combine(first, time(), zone)
        end = datetime.combine(last + timedelta(days=1), time(), zone)
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
        "range": preset,
        "since": first.isoformat(),
        "until": last.isoformat(),
        "user_id": user_id.strip(),
        "model_id": str(model_id or ""),
        "provider_id": str(provider_id or ""),
        "user_tier": user_tier.value if user_tier else "",
        "power_level": power_level.value if power_level else "",
        "stack": stack.value,
        "tz": tz,
    }
    if not tz_error:
        try:
            analytics.check_whole_hours(zone, filters)
        except InvalidFieldError as error:
            tz_error = error.message
    return UsageView(filters, granularity, form, preset, stack, zone, tz_error)


@router.get("/usage", response_class=HTMLResponse)
def usage_page(
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    view: UsageQueryDep,
) -> HTMLResponse:
    form = {
        "title": "Usage",
        "view": view,
        "stacks": [by.value for by in Breakdown],
        "ranges": RANGES,
        "providers": catalog_admin.list_providers(session, window=Window(500)).items,
        "tiers": [tier.value for tier in Tier],
        "power_levels": [level.value for level in PowerLevel],
    }
    if view.tz_error:
        return render(request, "usage.html", form, status_code=422)
    filters = view.filters
    points = _series(session, view)
    totals, latency = analytics.usage_summary(session, filters=filters)
    fallbacks = analytics.fallback_count(session, filters=filters)
    return render(
        request,
        "usage.html",
        {
            **form,
            "totals": totals,
            "latency": latency,
            "fallbacks": fallbacks,
            "fallback_rate": fallbacks / totals.spend.requests if totals.spend.requests else 0.0,
            "top_models": analytics.top_models(session, filters=filters, limit=TOP),
            "top_users": analytics.top_users(session, filters=filters, window=Window(TOP)),
            "charts": _charts(points, _spend_chart(session, view, points)),
            "zone": view.zone.key,
            "query": _query(view.form),
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
    if view.tz_error:
        raise InvalidFieldError("tz", view.tz_error, location="query")
    body = time_series_csv(session, view)
    start, end = view.filters.since, view.filters.until
    name = f"usage-timeseries-{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def time_series_csv(session: Session, view: UsageView) -> str:
    points = _series(session, view)
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


def _query(form: dict[str, str]) -> str:
    """The page's address for `form`: a preset range needs no days (they move with today)."""
    preset = form.get("range") not in (None, "custom")
    return urlencode(
        {k: v for k, v in form.items() if v and not (preset and k in ("since", "until"))}
    )


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart of the page: its uPlot columns and the same numbers as table rows."""

    key: str
    title: str
    unit: str
    series: tuple[str, ...]
    rows: Sequence[tuple[datetime, tuple[object, ...]]]
    stacked: int = 0
    """How many of the first series are drawn stacked, each on those before it."""

    def data(self) -> dict[str, Any]:
        columns: list[list[object]] = [[int(start.timestamp()) for start, _ in self.rows]]
        for index in range(len(self.series)):
            columns.append([_plotted(values[index]) for _, values in self.rows])
        return {
            "series": list(self.series),
            "unit": self.unit,
            "stacked": self.stacked,
            "data": columns,
        }


def _plotted(value: object) -> object:
    return float(value) if isinstance(value, Decimal) else value


def _charts(points: list[TimePoint], spend: Chart) -> list[Chart]:
    """Requests and errors, spend, tokens by kind, latency: the time series the admin API's
    `/usage/timeseries` returns, point for point. Input tokens are the prompt tokens neither
    read from nor written to a cache (both are parts of `prompt_tokens`)."""

    def rows(values: Any) -> list[tuple[datetime, tuple[object, ...]]]:
        return [(point.start, values(point)) for point in points]

    return [
        Chart(
            "requests",
            "Requests and errors",
            "requests",
            ("Requests", "Errors"),
            rows(lambda p: (p.totals.spend.requests, p.totals.spend.errors)),
        ),
        spend,
        Chart(
            "tokens",
            "Tokens",
            "tokens",
            ("Input", "Cached", "Cache writes", "Output"),
            rows(lambda p: _tokens(p.totals.spend)),
        ),
        Chart(
            "latency",
            "Latency",
            "ms",
            ("p50", "p95", "p99"),
            rows(lambda p: (p.p50_ms, p.p95_ms, p.p99_ms)),
        ),
    ]


def _tokens(spend: Spend) -> tuple[int, int, int, int]:
    uncached = spend.prompt_tokens - spend.cached_tokens - spend.cache_write_tokens
    return (uncached, spend.cached_tokens, spend.cache_write_tokens, spend.completion_tokens)


def _spend_chart(session: Session, view: UsageView, points: list[TimePoint]) -> Chart:
    """Spend stacked by provider or model (the top few, then Other), and the total: the admin
    API's `/usage/spend-breakdown` for the same view."""
    starts, series = analytics.spend_breakdown(
        session,
        filters=view.filters,
        granularity=view.granularity,
        by=view.stack,
        limit=STACKED,
        zone=view.zone,
    )
    totals = [point.totals.spend.cost_total_usd for point in points]
    rows = [
        (start, (*(part.costs[index] for part in series), totals[index]))
        for index, start in enumerate(starts)
    ]
    names = (*(part.name for part in series), "Total")
    return Chart("cost", f"Spend by {view.stack.value}", "usd", names, rows, len(series))


def _series(session: Session, view: UsageView) -> list[TimePoint]:
    return analytics.local_time_series(
        session, filters=view.filters, granularity=view.granularity, zone=view.zone
    )
