"""Setting budgets and rate limits on users, virtual keys and tiers.

Every change is written to the audit log in its transaction and raises the `credentials`
change counter, so that every gateway process reads the keys it has cached again (and with
them their limits) within its catalog poll interval; the process that made the change reads
them at once. A user's budget is monthly (`monthly_budget_usd`); a key's and a tier's have a
period. A tier's stored limits replace its `TIER_LIMITS` defaults as a whole; removing them
brings those back.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.change_counters import CREDENTIALS, bump
from switchboard.errors import NotFoundError
from switchboard.models import TierLimit, User, VirtualKey
from switchboard.services.audit import Action, Entity, record_change
from switchboard.vocabulary import BudgetPeriod, Tier

RATE_FIELDS = ("requests_per_minute", "tokens_per_minute", "max_concurrent_requests")


class LimitChanges(TypedDict, total=False):
    """What may change; a key that is present is applied (None clears)."""

    requests_per_minute: int | None
    tokens_per_minute: int | None
    max_concurrent_requests: int | None
    budget_usd: Decimal | None
    budget_period: BudgetPeriod | None
    budget_include_byok: bool


def get_user(session: Session, *, user_id: str) -> User:
    """The user whose limits are read or set, else NotFoundError."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id!r} not found")
    return user


def get_key(session: Session, *, user_id: str, key_id: int) -> VirtualKey:
    """One of the user's virtual keys, else NotFoundError (another user's key is not found
    either)."""
    key = session.get(VirtualKey, key_id)
    if key is None or key.user_id != user_id:
        raise NotFoundError(f"virtual key {key_id} of user {user_id!r} not found")
    return key


def set_user_limits(session: Session, *, user_id: str, changes: LimitChanges, actor: str) -> User:
    """The user's rate limits and monthly budget (`budget_usd`). Commits."""
    user = get_user(session, user_id=user_id)
    values: dict[str, Any] = dict(changes)
    if "budget_usd" in values:
        values["monthly_budget_usd"] = values.pop("budget_usd")
    _change(session, user, values, actor=actor, entity=Entity.USER, entity_id=user_id)
    return user


def set_key_limits(
    session: Session, *, user_id: str, key_id: int, changes: LimitChanges, actor: str
) -> VirtualKey:
    """One of the user's keys: its rate limits, concurrency and budget. Commits."""
    key = get_key(session, user_id=user_id, key_id=key_id)
    values: dict[str, Any] = dict(changes)
    if values.get("budget_period") is not None:
        values["budget_period"] = str(values["budget_period"])
    _change(session, key, values, actor=actor, entity=Entity.VIRTUAL_KEY, entity_id=key_id)
    return key


def get_tier_limits(session: Session, *, tier: Tier) -> TierLimit | None:
    return session.get(TierLimit, str(tier))


def set_tier_limits(
    session: Session, *, tier: Tier, changes: LimitChanges, actor: str
) -> TierLimit:
    """The tier's stored defaults (made on first use, from nothing: `TIER_LIMITS` no longer
    applies to the tier once it has them). Commits."""
    row = session.get(TierLimit, str(tier))
    if row is None:
        row = TierLimit(tier=str(tier), updated_at=utcnow())
        session.add(row)
    values: dict[str, Any] = dict(changes)
    if values.get("budget_period") is not None:
        values["budget_period"] = str(values["budget_period"])
    _change(session, row, values, actor=actor, entity=Entity.TIER_LIMITS, entity_id=str(tier))
    return row


def clear_tier_limits(session: Session, *, tier: Tier, actor: str) -> bool:
    """Remove the tier's stored defaults (`TIER_LIMITS` applies again). Commits."""
    row = session.get(TierLimit, str(tier))
    if row is None:
        return False
    before = _snapshot(row)
    session.delete(row)
    record_change(
        session,
        actor=actor,
        action=Action.DELETE,
        entity_type=Entity.TIER_LIMITS,
        entity_id=str(tier),
        before=before,
    )
    bump(session, CREDENTIALS)
    session.commit()
    return True


def limit_values(row: User | VirtualKey | TierLimit) -> dict[str, Any]:
    """The limit fields of a row, as the admin API shows them."""
    return _snapshot(row)


def _change(
    session: Session,
    row: User | VirtualKey | TierLimit,
    values: dict[str, Any],
    *,
    actor: str,
    entity: Entity,
    entity_id: object,
) -> None:
    before = _snapshot(row)
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()
    record_change(
        session,
        actor=actor,
        action=Action.UPDATE,
        entity_type=entity,
        entity_id=entity_id,
        before=before,
        after=_snapshot(row),
    )
    bump(session, CREDENTIALS)
    session.commit()


def _snapshot(row: User | VirtualKey | TierLimit) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(row, name) for name in RATE_FIELDS}
    period: str | None
    if isinstance(row, User):
        budget, period = row.monthly_budget_usd, str(BudgetPeriod.MONTHLY)
    else:
        budget, period = row.budget_usd, row.budget_period
    values["budget_usd"] = str(budget) if budget is not None else None
    values["budget_period"] = period
    values["budget_include_byok"] = row.budget_include_byok
    return values
