"""What alert rules are evaluated over, read from the database: providers' health, alerts
still open, the platform's spend per day, an owner's spend in a stretch of time, who has a
budget, providers' and models' traffic in a window, and deprecated models."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from switchboard.models import (
    Alert,
    LLMModel,
    LLMProvider,
    LLMUsageLog,
    TierLimit,
    User,
    VirtualKey,
)
from switchboard.services.rollups import money_sum, money_value
from switchboard.usage.spend import Owner, stored_spend
from switchboard.usage.store import money_units
from switchboard.vocabulary import AlertScope, AlertState

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


@dataclass(frozen=True, slots=True)
class TrafficRow:
    subject: str
    label: str
    requests: int
    errors: int
    p95_ms: int | None


def traffic(
    session: Session, *, by: AlertScope, since: datetime, until: datetime
) -> list[TrafficRow]:
    """Each provider's (or model's) requests in [since, until): how many, how many failed
    (5xx, or no answer), and the 95th percentile latency (PostgreSQL computes it; on SQLite
    the latencies of the window are read and ranked here)."""
    log = LLMUsageLog
    dialect = session.get_bind().dialect.name
    if by is AlertScope.PROVIDER:
        group, label = log.provider_id, LLMProvider.provider_slug
        labelled = select(LLMProvider.id, label)
    else:
        group, label = log.model_id, LLMModel.model_id
        labelled = select(LLMModel.id, label)
    failed = case((or_(log.status_code.is_(None), log.status_code >= 500), 1), else_=0)
    window = (log.created_at >= since, log.created_at < until, group.is_not(None))
    columns: list[Any] = [group, func.count(), func.sum(failed)]
    if dialect == "postgresql":
        columns.append(func.percentile_disc(0.95).within_group(log.latency_ms))
    rows = session.execute(select(*columns).where(*window).group_by(group)).all()
    labels: dict[int, str] = {key: name for key, name in session.execute(labelled).all()}
    p95: dict[int, int | None] = {}
    if dialect == "postgresql":
        p95 = {row[0]: row[3] for row in rows}
    else:
        latencies: dict[int, list[int]] = {}
        for key, latency in session.execute(
            select(group, log.latency_ms).where(*window, log.latency_ms.is_not(None))
        ).all():
            if key is not None and latency is not None:
                latencies.setdefault(key, []).append(latency)
        p95 = {key: _percentile(values, 0.95) for key, values in latencies.items()}
    return [
        TrafficRow(
            subject=f"{by}:{key}",
            label=str(labels.get(key, key)),
            requests=int(count),
            errors=int(errors or 0),
            p95_ms=None if p95.get(key) is None else int(p95[key] or 0),
        )
        for key, count, errors, *_ in rows
    ]


@dataclass(frozen=True, slots=True)
class ModelRow:
    model_pk: int
    model_id: str
    requests: int
    deprecation_date: datetime | None
    replacement: str | None


def deprecated_model_use(session: Session, *, since: datetime) -> list[ModelRow]:
    """Deprecated models, with the requests each served since `since`."""
    log = LLMUsageLog
    served = (
        select(log.model_id, func.count().label("requests"))
        .where(log.created_at >= since, log.model_id.is_not(None))
        .group_by(log.model_id)
        .subquery()
    )
    rows = session.execute(
        select(LLMModel, served.c.requests)
        .join(served, served.c.model_id == LLMModel.id)
        .where(LLMModel.is_deprecated.is_(True))
        .order_by(LLMModel.id)
    ).all()
    return [_model_row(session, model, int(requests)) for model, requests in rows]


def models_deprecated_by(session: Session, *, until: datetime) -> list[ModelRow]:
    """Active models with a deprecation date on or before `until`."""
    models = session.scalars(
        select(LLMModel)
        .where(
            LLMModel.is_active.is_(True),
            LLMModel.deprecation_date.is_not(None),
            LLMModel.deprecation_date <= until,
        )
        .order_by(LLMModel.id)
    )
    return [_model_row(session, model, 0) for model in models]


def open_alerts(session: Session, rule_id: int) -> dict[str, int]:
    """Subject → the id of the rule's alert about it that is not resolved."""
    rows = session.execute(
        select(Alert.subject, Alert.id).where(
            Alert.rule_id == rule_id, Alert.state != str(AlertState.RESOLVED)
        )
    ).all()
    return {subject: alert_id for subject, alert_id in rows}


def _model_row(session: Session, model: LLMModel, requests: int) -> ModelRow:
    replacement = (
        session.get(LLMModel, model.replacement_model_id) if model.replacement_model_id else None
    )
    return ModelRow(
        model.id,
        model.model_id,
        requests,
        model.deprecation_date,
        replacement.model_id if replacement else None,
    )


def _percentile(values: list[int], fraction: float) -> int:
    """The nearest-rank percentile (as PostgreSQL's `percentile_disc`)."""
    ordered = sorted(values)
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]
