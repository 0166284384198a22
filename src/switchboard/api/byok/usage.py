"""BYOK API: the caller's own usage and spend, split by BYOK vs the system key."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from fastapi import APIRouter

from switchboard.api.admin.schemas_limits import BudgetPublic, ByokUsageWithBudget
from switchboard.api.admin.schemas_usage import PeriodDep, SpendPublic
from switchboard.api.deps import GatewayDep, SessionDep, UserDep
from switchboard.limits import Scope
from switchboard.services.analytics import usage_totals

router = APIRouter()


@router.get("/usage", response_model=ByokUsageWithBudget)
async def get_my_usage(
    session: SessionDep, user: UserDep, filters: PeriodDep, gateway: GatewayDep
) -> ByokUsageWithBudget:
    """Your usage and spend over the period ([since, until) in UTC, the last 7 days by
    default): in total, on your own provider keys (`byok`), and on the platform's (`system`);
    and your budget: spent and reserved in its current period, what remains, when it resets."""
    totals = await asyncio.to_thread(
        usage_totals, session, filters=replace(filters, user_id=user.user_id)
    )
    budget = gateway.limits.user_budget(user.user_id, user.tier, user.user_limits, user.tier_limits)
    spend = await gateway.limits.spend(user.user_id, budget, scope=Scope.USER, owner=user.user_id)
    return ByokUsageWithBudget(
        user_id=user.user_id,
        since=filters.since,
        until=filters.until,
        total=SpendPublic.of(totals.spend),
        byok=SpendPublic.of(totals.byok),
        system=SpendPublic.of(totals.system),
        budget=BudgetPublic.of(spend, budget.limit_units if budget else None),
    )
