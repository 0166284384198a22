"""Rollups: an index on `bucket_start` of the daily rollup and the hourly one without the user

Periods without a user (the console's overview and usage pages, the admin API's totals, time
series and top models) read these two rollups by `bucket_start` alone, which neither could
find by an index: each read scanned the whole table, all of its retention, for a day or a
week of it. With 100,000 users the daily rollup holds about 30,000 rows a day.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("llm_usage_daily", "llm_usage_hourly_models")


def upgrade() -> None:
    for table in _TABLES:
        op.create_index(f"ix_{table}_bucket_start", table, ["bucket_start"], unique=False)


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_index(f"ix_{table}_bucket_start", table_name=table)
