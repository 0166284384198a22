"""Usage rows: a partial index on `created_at` of the requests that needed a fallback

The usage page and the admin API's summary count the requests that took more than one
attempt (`attempts > 1`: the first deployment failed and another was tried). Fallbacks are
rare, so an index holding only those rows lets the count over a period read just them,
rather than every usage row of the period (two million on a large platform's month).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 01:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = sa.text("attempts > 1")


def upgrade() -> None:
    op.create_index(
        "ix_llm_usage_logs_fallback_created",
        "llm_usage_logs",
        ["created_at"],
        unique=False,
        postgresql_where=_WHERE,
        sqlite_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_llm_usage_logs_fallback_created", table_name="llm_usage_logs")
