"""Alerts: the rules an admin sets, the alerts they raise (one row per rule, subject and
period or threshold: raised once across every replica), each alert's history, the webhooks
alerts are sent to, and the outbox of deliveries with every attempt."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from switchboard._types import UTCDateTime
from switchboard.models.base import Base, created, flag, updated


class AlertRule(Base):
    """What to watch (`kind`), whose (`scope`, `subject`: None is everyone's), and when to
    raise (`thresholds` in percent, a `factor`, or a `threshold` over a `window_minutes`)."""

    __tablename__ = "llm_alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    scope: Mapped[str | None] = mapped_column(String(20))
    subject: Mapped[str | None] = mapped_column(String(255))
    thresholds: Mapped[list[int] | None] = mapped_column(JSON)
    factor: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    threshold: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    """Error rate in %, latency in ms, or days before a deprecation, per kind."""
    window_minutes: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = flag(True)
    created_at: Mapped[datetime] = created()
    updated_at: Mapped[datetime] = updated()


class Alert(Base):
    """One alert: raised once per (rule, subject, key), where the key names the period and
    threshold (`2026-12-01:80`), the day, or the provider's outage."""

    __tablename__ = "llm_alerts"
    __table_args__ = (
        UniqueConstraint("rule_id", "subject", "dedup_key", name="uq_llm_alerts_identity"),
        Index("ix_llm_alerts_state_raised", "state", "raised_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(
        ForeignKey("llm_alert_rules.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    dedup_key: Mapped[str] = mapped_column(String(100), nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AlertEvent(Base):
    """An alert's history: raised, acknowledged, resolved; by whom, when."""

    __tablename__ = "llm_alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("llm_alerts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    state: Mapped[str] = mapped_column(String(20), nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = created()


class AlertWebhook(Base):
    """Where alerts are sent; the signing secret is stored encrypted and never shown."""

    __tablename__ = "llm_alert_webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    format: Mapped[str] = mapped_column(String(20), nullable=False)
    encrypted_secret: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = flag(True)
    created_at: Mapped[datetime] = created()
    updated_at: Mapped[datetime] = updated()


class AlertDelivery(Base):
    """One alert to one webhook: the outbox row, written with the alert in its transaction,
    claimed by one replica at a time (`claimed_until`) and retried until delivered or past
    the horizon."""

    __tablename__ = "llm_alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "webhook_id", name="uq_llm_alert_deliveries_target"),
        Index("ix_llm_alert_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("llm_alerts.id", ondelete="CASCADE"), nullable=False
    )
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("llm_alert_webhooks.id", ondelete="CASCADE"), nullable=False, index=True
    )
    state: Mapped[str] = mapped_column(String(20), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created()


class AlertDeliveryAttempt(Base):
    """Every attempt at a delivery: when, the receiver's status (None: no answer), why not."""

    __tablename__ = "llm_alert_delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("llm_alert_deliveries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    at: Mapped[datetime] = created()
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
