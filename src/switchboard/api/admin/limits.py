"""Admin API: budgets and rate limits of users, keys and tiers, and what they have spent.

`PATCH` sets the fields sent (null clears one) and keeps the others; `PUT` on a tier sets all
of them. A change reaches every gateway process within its catalog poll interval (the
`credentials` change counter). Bad values are a 422 naming the field, an unknown user or key
a 404, and nothing is changed.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from switchboard.api.admin.schemas_limits import (
    BudgetPublic,
    KeyLimitsUpdate,
    LimitsPublic,
    SpendPublic,
    TierLimitsPublic,
    UserLimitsUpdate,
)
from switchboard.api.deps import AdminDep, GatewayDep, SessionDep
from switchboard.api.schemas import RowIdPath, UserIdPath
from switchboard.gateway.keys import key_allowance, tier_allowance, user_allowance
from switchboard.limits import Allowance, Scope, to_dollars
from switchboard.models import TierLimit, User
from switchboard.services import limits_admin
from switchboard.vocabulary import Tier

router = APIRouter(tags=["limits"])


@router.get("/users/{user_id}/limits", response_model=LimitsPublic)
def get_user_limits(user_id: UserIdPath, session: SessionDep) -> LimitsPublic:
    """The user's own limits (what is not set comes from their tier)."""
    return _public(user_allowance(limits_admin.get_user(session, user_id=user_id)))


@router.patch("/users/{user_id}/limits", response_model=LimitsPublic)
async def update_user_limits(
    user_id: UserIdPath,
    update: UserLimitsUpdate,
    session: SessionDep,
    gateway: GatewayDep,
    admin: AdminDep,
) -> LimitsPublic:
    changes = update.changes()
    user = await asyncio.to_thread(
        limits_admin.set_user_limits, session, user_id=user_id, changes=changes, actor=admin
    )
    gateway.forget_user(user_id)
    return _public(user_allowance(user))


@router.get("/users/{user_id}/keys/{key_id}/limits", response_model=LimitsPublic)
def get_key_limits(user_id: UserIdPath, key_id: RowIdPath, session: SessionDep) -> LimitsPublic:
    key = limits_admin.get_key(session, user_id=user_id, key_id=key_id)
    return _public(key_allowance(key))


@router.patch("/users/{user_id}/keys/{key_id}/limits", response_model=LimitsPublic)
async def update_key_limits(
    user_id: UserIdPath,
    key_id: RowIdPath,
    update: KeyLimitsUpdate,
    session: SessionDep,
    gateway: GatewayDep,
    admin: AdminDep,
) -> LimitsPublic:
    changes = update.changes()
    key = await asyncio.to_thread(
        limits_admin.set_key_limits,
        session,
        user_id=user_id,
        key_id=key_id,
        changes=changes,
        actor=admin,
    )
    gateway.forget_user(user_id)
    return _public(key_allowance(key))


@router.get("/tiers/{tier}/limits", response_model=TierLimitsPublic)
def get_tier_limits(tier: Tier, session: SessionDep, gateway: GatewayDep) -> TierLimitsPublic:
    """The tier's defaults: stored through this API, else `TIER_LIMITS`'s."""
    return _tier_public(tier, limits_admin.get_tier_limits(session, tier=tier), gateway)


@router.put("/tiers/{tier}/limits", response_model=TierLimitsPublic)
def set_tier_limits(
    tier: Tier, update: KeyLimitsUpdate, session: SessionDep, gateway: GatewayDep, admin: AdminDep
) -> TierLimitsPublic:
    """Every field of the tier's defaults (left out: not set). They replace `TIER_LIMITS`'s
    for the tier: a user's rate limits, each key's concurrent requests, a user's budget."""
    changes = update.changes(every=True)
    row = limits_admin.set_tier_limits(session, tier=tier, changes=changes, actor=admin)
    return _tier_public(tier, row, gateway)


@router.delete("/tiers/{tier}/limits", response_model=TierLimitsPublic)
def clear_tier_limits(
    tier: Tier, session: SessionDep, gateway: GatewayDep, admin: AdminDep
) -> TierLimitsPublic:
    """Back to `TIER_LIMITS`'s defaults for the tier."""
    limits_admin.clear_tier_limits(session, tier=tier, actor=admin)
    return _tier_public(tier, None, gateway)


@router.get("/users/{user_id}/spend", response_model=SpendPublic)
async def get_user_spend(
    user_id: UserIdPath, session: SessionDep, gateway: GatewayDep
) -> SpendPublic:
    """The current period of the user's budget (their own, else their tier's): spent,
    reserved by requests in flight, remaining, and when it resets. With no budget, this
    month's spend on system keys."""
    user, stored = await asyncio.to_thread(_user_and_tier, session, user_id)
    tier = Tier(user.tier)
    own = user_allowance(user)
    budget = gateway.limits.user_budget(user_id, tier, own, stored)
    spend = await gateway.limits.spend(user_id, budget, scope=Scope.USER, owner=user_id)
    limits = _effective(own, gateway.limits.tier_allowance(tier, stored))
    return SpendPublic(
        user_id=user_id,
        budget=BudgetPublic.of(spend, budget.limit_units if budget else None),
        limits=limits,
    )


@router.get("/users/{user_id}/keys/{key_id}/spend", response_model=SpendPublic)
async def get_key_spend(
    user_id: UserIdPath, key_id: RowIdPath, session: SessionDep, gateway: GatewayDep
) -> SpendPublic:
    """The current period of the key's own budget (with none, this month's system-key spend
    through the key)."""
    key = await asyncio.to_thread(limits_admin.get_key, session, user_id=user_id, key_id=key_id)
    own = key_allowance(key)
    budget = own.budget(Scope.KEY, str(key_id))
    spend = await gateway.limits.spend(user_id, budget, scope=Scope.KEY, owner=str(key_id))
    return SpendPublic(
        user_id=user_id,
        key_id=key_id,
        budget=BudgetPublic.of(spend, budget.limit_units if budget else None),
        limits=_public(own),
    )


def _user_and_tier(session: SessionDep, user_id: str) -> tuple[User, Allowance | None]:
    user = limits_admin.get_user(session, user_id=user_id)
    return user, tier_allowance(session.get(TierLimit, user.tier))


def _public(allowance: Allowance) -> LimitsPublic:
    budget = allowance.budget_units
    return LimitsPublic(
        requests_per_minute=allowance.requests_per_minute,
        tokens_per_minute=allowance.tokens_per_minute,
        max_concurrent_requests=allowance.max_concurrent_requests,
        budget_usd=to_dollars(budget) if budget is not None else None,
        budget_period=allowance.budget_period if budget is not None else None,
        budget_include_byok=allowance.budget_include_byok if budget is not None else None,
    )


def _effective(own: Allowance, tier: Allowance) -> LimitsPublic:
    """The user's own limits where set, else the tier's."""
    budget_from = own if own.budget_units is not None else tier
    return _public(
        Allowance(
            requests_per_minute=own.requests_per_minute or tier.requests_per_minute,
            tokens_per_minute=own.tokens_per_minute or tier.tokens_per_minute,
            max_concurrent_requests=own.max_concurrent_requests or tier.max_concurrent_requests,
            budget_units=budget_from.budget_units,
            budget_period=budget_from.budget_period,
            budget_include_byok=budget_from.budget_include_byok,
        )
    )


def _tier_public(tier: Tier, row: TierLimit | None, gateway: GatewayDep) -> TierLimitsPublic:
    stored = tier_allowance(row)
    limits = _public(gateway.limits.tier_allowance(tier, stored))
    return TierLimitsPublic(
        tier=str(tier), source="stored" if stored else "settings", **limits.model_dump()
    )
