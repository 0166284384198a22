"""Gateway columns: llm_providers.config (adapter settings), llm_usage_logs.virtual_key_id

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("llm_providers") as batch_op:
        batch_op.add_column(sa.Column("config", sa.JSON(), nullable=True))
    with op.batch_alter_table("llm_usage_logs") as batch_op:
        batch_op.add_column(sa.Column("virtual_key_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_llm_usage_logs_virtual_key_id_llm_virtual_keys"),
            "llm_virtual_keys",
            ["virtual_key_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("llm_usage_logs") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_llm_usage_logs_virtual_key_id_llm_virtual_keys"), type_="foreignkey"
        )
        batch_op.drop_column("virtual_key_id")
    with op.batch_alter_table("llm_providers") as batch_op:
        batch_op.drop_column("config")
