"""Budgets and rate limits on users, keys and tiers

Users get rate limits of their own and `budget_include_byok` (the monthly budget counts
spend on their own provider keys); virtual keys a budget (amount, period) and rate limits;
`llm_tier_limits` a tier's defaults, set through the admin API over `TIER_LIMITS`. A key's
spend in a period is read from its usage rows when the limits' counters are rebuilt, hence
the index on (virtual_key_id, created_at).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RATES = ("requests_per_minute", "tokens_per_minute", "max_concurrent_requests")


def upgrade() -> None:
    with op.batch_alter_table("llm_users") as users:
        for name in _RATES:
            users.add_column(sa.Column(name, sa.Integer(), nullable=True))
        users.add_column(
            sa.Column(
                "budget_include_byok", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("llm_virtual_keys") as keys:
        for name in _RATES:
            keys.add_column(sa.Column(name, sa.Integer(), nullable=True))
        keys.add_column(sa.Column("budget_usd", sa.Numeric(precision=20, scale=10), nullable=True))
        keys.add_column(sa.Column("budget_period", sa.String(length=10), nullable=True))
        keys.add_column(
            sa.Column(
                "budget_include_byok", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.create_table(
        "llm_tier_limits",
        sa.Column("tier", sa.String(length=20), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=True) for name in _RATES),
        sa.Column("budget_usd", sa.Numeric(precision=20, scale=10), nullable=True),
        sa.Column("budget_period", sa.String(length=10), nullable=True),
        sa.Column("budget_include_byok", sa.Boolean(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tier", name=op.f("pk_llm_tier_limits")),
    )
    op.create_index(
        "ix_llm_usage_logs_key_created", "llm_usage_logs", ["virtual_key_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_llm_usage_logs_key_created", table_name="llm_usage_logs")
    op.drop_table("llm_tier_limits")
    with op.batch_alter_table("llm_virtual_keys") as keys:
        for name in ("budget_include_byok", "budget_period", "budget_usd", *_RATES):
            keys.drop_column(name)
    with op.batch_alter_table("llm_users") as users:
        for name in ("budget_include_byok", *_RATES):
            users.drop_column(name)
