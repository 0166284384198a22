"""The overview: requests, spend, tokens, error rate and p95 latency over the last 24 hours
and 7 days (the admin usage API's numbers, from the same service), each provider's health,
and the newest alerts still firing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.console.deps import AdminDep, SessionDep
from switchboard.console.rendering import ConsoleRoute, render
from switchboard.services import alerts, analytics, catalog_admin
from switchboard.services.analytics import LatencyPercentiles, UsageFilters, UsageTotals
from switchboard.services.paging import Window
from switchboard.vocabulary import AlertState

router = APIRouter(route_class=ConsoleRoute)

PERIODS = (("Last 24 hours", timedelta(hours=24)), ("Last 7 days", timedelta(days=7)))
MAX_TILES = 100
NEWEST_ALERTS = 5


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
    firing = alerts.list_alerts(
        session, state=AlertState.FIRING, window=Window(limit=NEWEST_ALERTS)
    )
    return render(
        request,
        "overview.html",
        {
            "periods": summaries(session),
            "providers": providers.items,
            "firing": firing.items,
            "firing_total": firing.total,
            "title": "Overview",
        },
    )


def summaries(session: Session) -> list[PeriodSummary]:
    now = utcnow()
    result = []
    for label, span in PERIODS:
        filters = UsageFilters.build(since=now - span, until=now)
        result.append(PeriodSummary(label, *analytics.usage_summary(session, filters=filters)))
    return result
