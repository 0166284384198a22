"""What alert rules are evaluated over, read from the database: providers' health, outage
alerts still open, the platform's spend per day, an owner's spend in a stretch of time, and
who has a budget."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from switchboard.models import Alert, LLMProvider, LLMUsageLog, TierLimit, User, VirtualKey
from switchboard.services.rollups import money_sum, money_value
from switchboard.usage.spend import Owner, stored_spend
from switchboard.usage.store import money_units
from switchboard.vocabulary import AlertState

OUTAGE_PREFIX = "down:"


@dataclass(frozen=True, slots=True)
class ProviderState:
    provider_id: int
    slug: str
    status: str
    changed_at: datetime
    error: str | None


def provider_states(session: Session) -> list[ProviderState]:
    """Every active provider's last health status, and when it last changed."""
    rows = session.scalars(
        select(LLMProvider).where(LLMProvider.is_active.is_(True)).order_by(LLMProvider.id)
    )
    return [
        ProviderState(
            p.id, p.provider_slug, p.health_status or "unknown", p.updated_at, p.health_error
        )
        for p in rows
    ]


def open_outages(session: Session, rule_id: int) -> dict[int, int]:
    """Provider id → the id of its outage alert that is not resolved, for one rule."""
    rows = session.execute(
        select(Alert.id, Alert.subject).where(
            Alert.rule_id == rule_id,
            Alert.dedup_key.startswith(OUTAGE_PREFIX),
            Alert.state != str(AlertState.RESOLVED),
        )
    ).all()
    return {int(subject.split(":", 1)[1]): alert_id for alert_id, subject in rows}


def platform_spend(session: Session, start: datetime, until: datetime) -> int:
    """Units spent on the whole platform in [start, until), per the usage rows."""
    dialect = session.get_bind().dialect.name
    total = session.scalar(
        select(money_sum(dialect, LLMUsageLog.cost_total_usd)).where(
            LLMUsageLog.created_at >= start, LLMUsageLog.created_at < until
        )
    )
    return money_units(money_value(dialect, total))


def owner_spend(
    session: Session,
    *,
    user_id: str,
    key_id: int | None,
    include_byok: bool,
    start: datetime,
    until: datetime,
) -> int:
    """Units a user (or one of their keys) spent in [start, until), as stored."""
    return stored_spend(session, Owner(user_id, key_id, include_byok), start, until)


def users_with_budgets(session: Session, tiers: Collection[str]) -> list[str]:
    """Users with a budget of their own, of one of their keys, or of their tier (`tiers`:
    those with a budget in TIER_LIMITS; stored tier limits are read here)."""
    stored = session.scalars(select(TierLimit.tier).where(TierLimit.budget_usd.is_not(None)))
    budget_tiers = set(tiers) | set(stored)
    with_keys = select(VirtualKey.user_id).where(VirtualKey.budget_usd.is_not(None))
    query = select(User.id).where(
        User.is_active.is_(True),
        or_(
            User.monthly_budget_usd.is_not(None),
            User.tier.in_(budget_tiers),
            User.id.in_(with_keys),
        ),
    )
    return list(session.scalars(query.order_by(User.id)))
