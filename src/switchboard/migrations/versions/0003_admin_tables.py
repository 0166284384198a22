"""Admin tables: audit log, leases, price history, hourly usage rollups; usage tier

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 02:04:32.697770
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "llm_audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_audit_log")),
    )
    with op.batch_alter_table("llm_audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_llm_audit_log_entity", ["entity_type", "entity_id"], unique=False)

    op.create_table(
        "llm_leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_llm_leases")),
    )
    op.create_table(
        "llm_usage_hourly",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("power_level", sa.String(length=20), nullable=False),
        sa.Column("user_tier", sa.String(length=20), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("byok_requests", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_total_usd", sa.Numeric(precision=20, scale=10), nullable=False),
        sa.Column("latency_ms_sum", sa.BigInteger(), nullable=False),
        sa.Column("latency_count", sa.Integer(), nullable=False),
        sa.Column("latency_le_50", sa.Integer(), nullable=False),
        sa.Column("latency_le_100", sa.Integer(), nullable=False),
        sa.Column("latency_le_250", sa.Integer(), nullable=False),
        sa.Column("latency_le_500", sa.Integer(), nullable=False),
        sa.Column("latency_le_1000", sa.Integer(), nullable=False),
        sa.Column("latency_le_2500", sa.Integer(), nullable=False),
        sa.Column("latency_le_5000", sa.Integer(), nullable=False),
        sa.Column("latency_le_10000", sa.Integer(), nullable=False),
        sa.Column("latency_le_30000", sa.Integer(), nullable=False),
        sa.Column("latency_gt_30000", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_usage_hourly")),
        sa.UniqueConstraint(
            "bucket_start",
            "user_id",
            "model_id",
            "provider_id",
            "power_level",
            "user_tier",
            name="uq_llm_usage_hourly_key",
        ),
    )
    with op.batch_alter_table("llm_usage_hourly", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_llm_usage_hourly_bucket_start"), ["bucket_start"], unique=False
        )
        batch_op.create_index(
            "ix_llm_usage_hourly_model_bucket", ["model_id", "bucket_start"], unique=False
        )
        batch_op.create_index(
            "ix_llm_usage_hourly_user_bucket", ["user_id", "bucket_start"], unique=False
        )

    op.create_table(
        "llm_model_price_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("cost_per_1m_input_tokens", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("cost_per_1m_output_tokens", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column(
            "cost_per_1m_cached_input_tokens", sa.Numeric(precision=14, scale=6), nullable=True
        ),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["llm_models.id"],
            name=op.f("fk_llm_model_price_history_model_id_llm_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_model_price_history")),
    )
    with op.batch_alter_table("llm_model_price_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_llm_model_price_history_model", ["model_id", "effective_from"], unique=False
        )

    with op.batch_alter_table("llm_usage_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_tier", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("llm_usage_logs", schema=None) as batch_op:
        batch_op.drop_column("user_tier")

    with op.batch_alter_table("llm_model_price_history", schema=None) as batch_op:
        batch_op.drop_index("ix_llm_model_price_history_model")

    op.drop_table("llm_model_price_history")
    with op.batch_alter_table("llm_usage_hourly", schema=None) as batch_op:
        batch_op.drop_index("ix_llm_usage_hourly_user_bucket")
        batch_op.drop_index("ix_llm_usage_hourly_model_bucket")
        batch_op.drop_index(batch_op.f("ix_llm_usage_hourly_bucket_start"))

    op.drop_table("llm_usage_hourly")
    op.drop_table("llm_leases")
    with op.batch_alter_table("llm_audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_llm_audit_log_entity")

    op.drop_table("llm_audit_log")
