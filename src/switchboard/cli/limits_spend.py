"""`switchboard limits spend`: a budget's current period, read where the gateways count it
(Redis with REDIS_URL; otherwise only the database's sums, since each gateway process keeps
its own counters)."""

from __future__ import annotations

from typing import Any

from switchboard.db import open_database
from switchboard.gateway.keys import key_allowance, tier_allowance, user_allowance
from switchboard.gateway.limits_gate import LimitsGate, build_limiter
from switchboard.limits import Scope, to_dollars
from switchboard.models import TierLimit
from switchboard.services import limits_admin
from switchboard.settings import Settings
from switchboard.vocabulary import Tier


async def read_spend(settings: Settings, user_id: str, key_id: int | None) -> dict[str, Any]:
    sessions = open_database(settings.database_url, migrate=False)
    gate = LimitsGate(settings, sessions, limiter=build_limiter(settings))
    try:
        with sessions() as session:
            user = limits_admin.get_user(session, user_id=user_id)
            stored_tier = tier_allowance(session.get(TierLimit, user.tier))
            key = None
            if key_id is not None:
                key = limits_admin.get_key(session, user_id=user_id, key_id=key_id)
        if key is not None:
            budget = key_allowance(key).budget(Scope.KEY, str(key.id))
            spend = await gate.spend(user_id, budget, scope=Scope.KEY, owner=str(key.id))
            title = f"key {key.id} of {user_id}"
        else:
            budget = gate.user_budget(user_id, Tier(user.tier), user_allowance(user), stored_tier)
            spend = await gate.spend(user_id, budget, scope=Scope.USER, owner=user_id)
            title = f"user {user_id}"
    finally:
        await gate.close()
        sessions.kw["bind"].dispose()
    limit = budget.limit_units if budget is not None else None
    account = spend.account
    return {
        "title": title,
        "period": f"{account.period} from {account.start:%Y-%m-%d}, resets {account.end:%Y-%m-%d}",
        "limit_usd": to_dollars(limit) if limit is not None else None,
        "spent_usd": to_dollars(spend.total_units),
        "reserved_usd": to_dollars(spend.reserved_units),
        "remaining_usd": (
            to_dollars(limit - spend.total_units - spend.reserved_units)
            if limit is not None
            else None
        ),
    }
