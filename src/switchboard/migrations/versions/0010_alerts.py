"""Alerts: rules, alerts with their history, webhooks, and the delivery outbox

An alert is unique per (rule, subject, dedup key), so that replicas evaluating at once raise
it once (`INSERT … ON CONFLICT DO NOTHING`); a delivery is unique per (alert, webhook).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "llm_alert_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("thresholds", sa.JSON(), nullable=True),
        sa.Column("factor", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("threshold", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("window_minutes", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_alert_rules")),
    )
    op.create_table(
        "llm_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("dedup_key", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        _when("raised_at"),
        _when("updated_at"),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["llm_alert_rules.id"],
            name=op.f("fk_llm_alerts_rule_id_llm_alert_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_alerts")),
        sa.UniqueConstraint("rule_id", "subject", "dedup_key", name="uq_llm_alerts_identity"),
    )
    op.create_index("ix_llm_alerts_state_raised", "llm_alerts", ["state", "raised_at"])
    op.create_table(
        "llm_alert_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        _when("at"),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["llm_alerts.id"],
            name=op.f("fk_llm_alert_events_alert_id_llm_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_alert_events")),
    )
    op.create_index("ix_llm_alert_events_alert_id", "llm_alert_events", ["alert_id"])
    op.create_table(
        "llm_alert_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("encrypted_secret", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_alert_webhooks")),
    )
    op.create_table(
        "llm_alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        _when("claimed_until", nullable=True),
        _when("delivered_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _when("created_at"),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["llm_alerts.id"],
            name=op.f("fk_llm_alert_deliveries_alert_id_llm_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["llm_alert_webhooks.id"],
            name=op.f("fk_llm_alert_deliveries_webhook_id_llm_alert_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_alert_deliveries")),
        sa.UniqueConstraint("alert_id", "webhook_id", name="uq_llm_alert_deliveries_target"),
    )
    op.create_index(
        "ix_llm_alert_deliveries_due", "llm_alert_deliveries", ["state", "next_attempt_at"]
    )
    op.create_index("ix_llm_alert_deliveries_webhook_id", "llm_alert_deliveries", ["webhook_id"])
    op.create_table(
        "llm_alert_delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        _when("at"),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["llm_alert_deliveries.id"],
            name=op.f("fk_llm_alert_delivery_attempts_delivery_id_llm_alert_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_alert_delivery_attempts")),
    )
    op.create_index(
        "ix_llm_alert_delivery_attempts_delivery_id",
        "llm_alert_delivery_attempts",
        ["delivery_id"],
    )


def downgrade() -> None:
    op.drop_table("llm_alert_delivery_attempts")
    op.drop_table("llm_alert_deliveries")
    op.drop_table("llm_alert_webhooks")
    op.drop_table("llm_alert_events")
    op.drop_table("llm_alerts")
    op.drop_table("llm_alert_rules")
