"""Rollups: daily without the user (and without the model), weekly per user and per model

Over a month of a platform with 100,000 users the daily rollup holds a row per user, model
and day it was used: the console's 30-day chart and totals summed a million of them, and
ranking the users or models of the month grouped them all. Four coarser rollups, kept by the
usage writer like the others: `llm_usage_daily_models` (the daily rollup without the user:
a model's chart), `llm_usage_daily_totals` (without the model either: charts and totals of
everyone, a provider, power level or tier), `llm_usage_weekly_users` (per week from Monday
00:00 UTC, user and tier: to rank users) and `llm_usage_weekly_models` (per week without the
user: to rank models). The upgrade fills them from the daily rollup (the sums of `switchboard usage
rebuild-rollups`, written out here as they stand at this revision).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BOUNDS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
_HISTOGRAM = (*(f"latency_le_{bound}" for bound in _BOUNDS), f"latency_gt_{_BOUNDS[-1]}")
_MONEY_TYPE = sa.Numeric(precision=20, scale=10)
_COUNTERS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("requests", sa.Integer()),
    ("errors", sa.Integer()),
    ("byok_requests", sa.Integer()),
    ("prompt_tokens", sa.BigInteger()),
    ("cached_tokens", sa.BigInteger()),
    ("cache_write_tokens", sa.BigInteger()),
    ("completion_tokens", sa.BigInteger()),
    ("cost_total_usd", _MONEY_TYPE),
    ("byok_errors", sa.Integer()),
    ("byok_prompt_tokens", sa.BigInteger()),
    ("byok_cached_tokens", sa.BigInteger()),
    ("byok_cache_write_tokens", sa.BigInteger()),
    ("byok_completion_tokens", sa.BigInteger()),
    ("byok_cost_total_usd", _MONEY_TYPE),
    ("latency_ms_sum", sa.BigInteger()),
    ("latency_count", sa.Integer()),
    *((name, sa.Integer()) for name in _HISTOGRAM),
)
_MONEY = {"cost_total_usd", "byok_cost_total_usd"}
_MODEL_DIMENSIONS = ("model_id", "provider_id", "power_level", "user_tier")
_USER_DIMENSIONS = ("user_id", "user_tier")
_ROLLUPS = (  # table, grain, dimensions, the table it is summed from
    ("llm_usage_daily_models", "day", _MODEL_DIMENSIONS, "llm_usage_daily"),
    ("llm_usage_daily_totals", "day", _MODEL_DIMENSIONS[1:], "llm_usage_daily_models"),
    ("llm_usage_weekly_users", "week", _USER_DIMENSIONS, "llm_usage_daily"),
    ("llm_usage_weekly_models", "week", _MODEL_DIMENSIONS, "llm_usage_daily_models"),
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, grain, dimensions, source in _ROLLUPS:
        _create_rollup(table, grain, dimensions)
        op.execute(_fill(dialect, table, grain, dimensions, source))
        if dialect == "postgresql":  # the planner's statistics, for the first reads already
            op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    for table, grain, dimensions, _ in reversed(_ROLLUPS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            if grain == "week":
                batch_op.drop_index(f"ix_{table}_cost")
            batch_op.drop_index(f"ix_{table}_{dimensions[0].removesuffix('_id')}_bucket")
            batch_op.drop_index(f"ix_{table}_bucket_start")
        op.drop_table(table)


def _create_rollup(table: str, grain: str, dimensions: Sequence[str]) -> None:
    kinds: dict[str, sa.types.TypeEngine[Any]] = {"user_id": sa.String(length=255)}
    kinds |= {"power_level": sa.String(length=20), "user_tier": sa.String(length=20)}
    op.create_table(
        table,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(name, kinds.get(name, sa.Integer()), nullable=False) for name in dimensions),
        *(sa.Column(name, kind, server_default="0", nullable=False) for name, kind in _COUNTERS),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("bucket_start", *dimensions, name=f"uq_{table}_key"),
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(f"ix_{table}_bucket_start", ["bucket_start"], unique=False)
        indexed = f"ix_{table}_{dimensions[0].removesuffix('_id')}_bucket"
        batch_op.create_index(indexed, [dimensions[0], "bucket_start"], unique=False)
        if grain == "week":  # the costliest rows first, to rank users and models
            batch_op.create_index(f"ix_{table}_cost", ["cost_total_usd"], unique=False)


def _start(dialect: str, grain: str, moment: str) -> str:
    if dialect == "sqlite":
        monday = ", 'weekday 0', '-6 days'" if grain == "week" else ""
        return f"strftime('%Y-%m-%d 00:00:00.000000', {moment}{monday})"
    return f"timezone('UTC', date_trunc('{grain}', timezone('UTC', {moment})))"


def _sum(dialect: str, name: str) -> str:
    if name in _MONEY and dialect == "sqlite":  # exact: summed in units of 1e-10 dollars
        return f"ROUND(SUM(CAST(ROUND({name} * 10000000000) AS INTEGER)) / 10000000000.0, 10)"
    return f"SUM({name})"


def _fill(dialect: str, table: str, grain: str, dimensions: Sequence[str], source: str) -> str:
    keys = [("bucket_start", _start(dialect, grain, "bucket_start"))]
    keys += [(name, name) for name in dimensions]
    sums = [(name, _sum(dialect, name)) for name, _ in _COUNTERS]
    names = ", ".join(name for name, _ in [*keys, *sums])
    values = ", ".join(expression for _, expression in [*keys, *sums])
    grouped = ", ".join(str(n) for n in range(1, len(keys) + 1))
    return f"INSERT INTO {table} ({names}) SELECT {values} FROM {source} GROUP BY {grouped}"
