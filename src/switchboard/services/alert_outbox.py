"""Raising alerts and the webhook outbox.

`raise_alert` inserts the alert with `INSERT … ON CONFLICT DO NOTHING` on its identity (rule,
subject, dedup key), on SQLite and PostgreSQL alike: replicas that make the same finding at
once raise it once, and only the one whose insert went in writes its history entry and one
delivery row per active webhook, in the same transaction. Nothing is sent here: deliveries
are sent by whichever replica claims them (`claim_due`, a conditional update that one
replica wins) and every attempt is recorded (`record_attempt`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from switchboard.models import (
    Alert,
    AlertDelivery,
    AlertDeliveryAttempt,
    AlertEvent,
    AlertRule,
    AlertWebhook,
)
from switchboard.new_alert import NewAlert
from switchboard.services.alerts import alert_payload, change_state
from switchboard.services.audit import Actor
from switchboard.vocabulary import AlertState, DeliveryState, WebhookFormat

_MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A delivery this process has claimed: where to, how, and what."""

    delivery_id: int
    attempts: int
    created_at: datetime
    url: str
    format: WebhookFormat
    encrypted_secret: str | None
    payload: dict[str, Any]


def raise_alert(session: Session, alert: NewAlert, *, now: datetime) -> int | None:
    """The new alert's id, or None when it was raised before (here or by another replica).
    Commits."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(Alert)
        .values(
            rule_id=alert.rule_id,
            kind=str(alert.kind),
            subject=alert.subject,
            dedup_key=alert.dedup_key,
            state=str(AlertState.FIRING),
            message=alert.message,
            details=dict(alert.details),
            raised_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["rule_id", "subject", "dedup_key"])
        .returning(Alert.id)
    )
    alert_id = session.execute(statement).scalar()
    if alert_id is None:
        session.rollback()
        return None
    session.add(
        AlertEvent(alert_id=alert_id, state=str(AlertState.FIRING), actor=Actor.SYSTEM, at=now)
    )
    webhooks = session.scalars(select(AlertWebhook.id).where(AlertWebhook.is_active.is_(True)))
    for webhook_id in webhooks.all():
        session.add(
            AlertDelivery(
                alert_id=alert_id,
                webhook_id=webhook_id,
                state=str(DeliveryState.PENDING),
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    if alert.resolves is not None:
        ended = session.get(Alert, alert.resolves)
        if ended is not None and ended.state != AlertState.RESOLVED:
            change_state(session, ended, AlertState.RESOLVED, actor=Actor.SYSTEM, now=now)
    session.commit()
    return int(alert_id)


def resolve_alerts(session: Session, alert_ids: list[int], *, now: datetime, note: str) -> None:
    """Resolve the alerts (those not resolved yet), by the system. Commits."""
    for alert_id in alert_ids:
        alert = session.get(Alert, alert_id)
        if alert is not None and alert.state != AlertState.RESOLVED:
            change_state(
                session, alert, AlertState.RESOLVED, actor=Actor.SYSTEM, now=now, note=note
            )
    session.commit()


def claim_due(
    session: Session, *, now: datetime, hold_s: float, limit: int = 50
) -> list[DueDelivery]:
    """Pending deliveries due now to active webhooks (a webhook turned off keeps its own until
    it is turned on again), claimed for `hold_s` by this process (another
    replica's claim on the same row fails: each is attempted by one replica at a time).
    Commits."""
    delivery = AlertDelivery
    unclaimed = or_(delivery.claimed_until.is_(None), delivery.claimed_until <= now)
    due = session.scalars(
        select(delivery.id)
        .join(AlertWebhook, AlertWebhook.id == delivery.webhook_id)
        .where(delivery.state == str(DeliveryState.PENDING), delivery.next_attempt_at <= now)
        .where(unclaimed, AlertWebhook.is_active.is_(True))
        .order_by(delivery.next_attempt_at, delivery.id)
        .limit(limit)
    ).all()
    claimed = []
    for delivery_id in due:
        result = cast(
            "CursorResult[Any]",
            session.execute(
                update(delivery)
                .where(delivery.id == delivery_id, delivery.state == str(DeliveryState.PENDING))
                .where(unclaimed)
                .values(claimed_until=now + timedelta(seconds=hold_s))
            ),
        )
        if result.rowcount == 1:
            claimed.append(delivery_id)
    session.commit()
    return [_due(session, delivery_id) for delivery_id in claimed]


def record_attempt(
    session: Session,
    delivery_id: int,
    *,
    at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    retry_at: datetime | None,
) -> DeliveryState:
    """Record one attempt: delivered when `error` is None, else tried again at `retry_at`
    (None: past the horizon, no more attempts). Releases the claim. Commits."""
    row = session.get(AlertDelivery, delivery_id)
    if row is None:
        return DeliveryState.EXPIRED
    short = None if error is None else error[:_MAX_ERROR_CHARS]
    session.add(
        AlertDeliveryAttempt(
            delivery_id=delivery_id,
            at=at,
            status_code=status_code,
            error=short,
            duration_ms=duration_ms,
        )
    )
    row.attempts += 1
    row.claimed_until = None
    row.last_error = short
    if error is None:
        row.state, row.delivered_at = str(DeliveryState.DELIVERED), at
    elif retry_at is None:
        row.state = str(DeliveryState.EXPIRED)
    else:
        row.next_attempt_at = retry_at
    session.commit()
    return DeliveryState(row.state)


def _due(session: Session, delivery_id: int) -> DueDelivery:
    row = session.get_one(AlertDelivery, delivery_id)
    webhook = session.get_one(AlertWebhook, row.webhook_id)
    alert = session.get_one(Alert, row.alert_id)
    rule = session.get(AlertRule, alert.rule_id)
    return DueDelivery(
        delivery_id=row.id,
        attempts=row.attempts,
        created_at=row.created_at,
        url=webhook.url,
        format=WebhookFormat(webhook.format),
        encrypted_secret=webhook.encrypted_secret,
        payload=alert_payload(alert, rule.name if rule else None) | {"delivery_id": row.id},
    )
