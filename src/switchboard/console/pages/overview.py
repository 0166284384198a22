"""The overview: requests, spend, tokens, error rate and p95 latency over the last 24 hours
and 7 days (the admin usage API's numbers, from the same service), and each provider's health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.console.deps import AdminDep, SessionDep
from switchboard.console.rendering import ConsoleRoute, render
from switchboard.services import analytics, catalog_admin
from switchboard.services.analytics import LatencyPercentiles, UsageFilters, UsageTotals
from switchboard.services.paging import Window

router = APIRouter(route_class=ConsoleRoute)

PERIODS = (("Last 24 hours", timedelta(hours=24)), ("Last 7 days", timedelta(days=7)))
MAX_TILES = 100


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    label: str
    totals: UsageTotals
    latency: LatencyPercentiles

    @property
    def error_rate(self) -> float:
        spend = self.totals.spend
        return spend.errors / spend.requests if spend.requests else 0.0


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, session: SessionDep, _admin: AdminDep) -> HTMLResponse:
    providers = catalog_admin.list_providers(session, window=Window(limit=MAX_TILES))
    return render(
        request,
        "overview.html",
        {"periods": summaries(session), "providers": providers.items, "title": "Overview"},
    )


def summaries(session: Session) -> list[PeriodSummary]:
    now = utcnow()
    result = []
    for label, span in PERIODS:
        filters = UsageFilters.build(since=now - span, until=now)
        result.append(PeriodSummary(label, *analytics.usage_summary(session, filters=filters)))
    return result
