"""BYOK API: the caller's own usage and spend, split by BYOK vs the system key."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter

from switchboard.api.admin.schemas_usage import ByokUsagePublic, PeriodDep, SpendPublic
from switchboard.api.deps import SessionDep, UserDep
from switchboard.services.analytics import usage_totals

router = APIRouter()


@router.get("/usage", response_model=ByokUsagePublic)
def get_my_usage(session: SessionDep, user: UserDep, filters: PeriodDep) -> ByokUsagePublic:
    """Your usage and spend over the period ([since, until) in UTC, the last 7 days by
    default): in total, on your own provider keys (`byok`), and on the platform's (`system`)."""
    totals = usage_totals(session, filters=replace(filters, user_id=user.user_id))
    return ByokUsagePublic(
        user_id=user.user_id,
        since=filters.since,
        until=filters.until,
        total=SpendPublic.of(totals.spend),
        byok=SpendPublic.of(totals.byok),
        system=SpendPublic.of(totals.system),
    )
