"""llm_usage_logs.cache_write_tokens: the prompt tokens written to the provider's cache

Anthropic bills a cache write above the input price; the row now says how many of its
prompt tokens were written, so that its cost can be explained. Rows stored before have 0.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "llm_usage_logs",
        sa.Column("cache_write_tokens", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("llm_usage_logs") as batch_op:
        batch_op.drop_column("cache_write_tokens")
