"""Usage rollups: BYOK split columns, a daily rollup, an hourly rollup without the user

Until this revision nothing kept `llm_usage_hourly`; from now on the usage writer keeps all
three rollups, in the transaction that inserts the rows. The upgrade therefore computes them
once from `llm_usage_logs` (the sums of `switchboard usage rebuild-rollups`, written out here
as they stand at this revision).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BOUNDS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
_HISTOGRAM = (*(f"latency_le_{bound}" for bound in _BOUNDS), f"latency_gt_{_BOUNDS[-1]}")
_OLD_COUNTERS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("requests", sa.Integer()),
    ("errors", sa.Integer()),
    ("byok_requests", sa.Integer()),
    ("prompt_tokens", sa.BigInteger()),
    ("cached_tokens", sa.BigInteger()),
    ("completion_tokens", sa.BigInteger()),
    ("cost_total_usd", sa.Numeric(precision=20, scale=10)),
    ("latency_ms_sum", sa.BigInteger()),
    ("latency_count", sa.Integer()),
    *((name, sa.Integer()) for name in _HISTOGRAM),
)
_BYOK_COUNTERS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("byok_errors", sa.Integer()),
    ("byok_prompt_tokens", sa.BigInteger()),
    ("byok_cached_tokens", sa.BigInteger()),
    ("byok_completion_tokens", sa.BigInteger()),
    ("byok_cost_total_usd", sa.Numeric(precision=20, scale=10)),
)
_COUNTERS = (*_OLD_COUNTERS, *_BYOK_COUNTERS)
_MONEY = {"cost_total_usd", "byok_cost_total_usd"}
_DIMENSIONS = ("user_id", "model_id", "provider_id", "power_level", "user_tier")


def upgrade() -> None:
    with op.batch_alter_table("llm_usage_hourly", schema=None) as batch_op:
        for name, kind in _OLD_COUNTERS:
            batch_op.alter_column(name, existing_type=kind, server_default="0")
        for name, kind in _BYOK_COUNTERS:
            batch_op.add_column(sa.Column(name, kind, server_default="0", nullable=False))
    _create_rollup("llm_usage_daily", _DIMENSIONS, "ix_llm_usage_daily_user_bucket", "user_id")
    _create_rollup(
        "llm_usage_hourly_models",
        _DIMENSIONS[1:],
        "ix_llm_usage_hourly_models_model_bucket",
        "model_id",
    )
    dialect = op.get_bind().dialect.name
    op.execute("DELETE FROM llm_usage_hourly")
    op.execute(_fill_hourly(dialect))
    op.execute(_fill_from_hourly(dialect, "llm_usage_daily", "day", _DIMENSIONS))
    op.execute(_fill_from_hourly(dialect, "llm_usage_hourly_models", "hour", _DIMENSIONS[1:]))


def downgrade() -> None:
    with op.batch_alter_table("llm_usage_hourly_models", schema=None) as batch_op:
        batch_op.drop_index("ix_llm_usage_hourly_models_model_bucket")
    op.drop_table("llm_usage_hourly_models")
    with op.batch_alter_table("llm_usage_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_llm_usage_daily_user_bucket")
    op.drop_table("llm_usage_daily")
    with op.batch_alter_table("llm_usage_hourly", schema=None) as batch_op:
        for name, _ in reversed(_BYOK_COUNTERS):
            batch_op.drop_column(name)
        for name, kind in _OLD_COUNTERS:
            batch_op.alter_column(name, existing_type=kind, server_default=None)


def _create_rollup(table: str, dimensions: Sequence[str], index: str, indexed: str) -> None:
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
        batch_op.create_index(index, [indexed, "bucket_start"], unique=False)


def _start(dialect: str, grain: str, moment: str) -> str:
    if dialect == "sqlite":
        hour = "%H" if grain == "hour" else "00"
        return f"strftime('%Y-%m-%d {hour}:00:00.000000', {moment})"
    return f"timezone('UTC', date_trunc('{grain}', timezone('UTC', {moment})))"


def _sum(dialect: str, name: str, value: str) -> str:
    if name in _MONEY and dialect == "sqlite":  # exact: summed in units of 1e-10 dollars
        return f"ROUND(SUM(CAST(ROUND(({value}) * 10000000000) AS INTEGER)) / 10000000000.0, 10)"
    return f"SUM({value})"


def _insert(
    table: str, keys: Sequence[tuple[str, str]], sums: Sequence[tuple[str, str]], source: str
) -> str:
    names = ", ".join(name for name, _ in [*keys, *sums])
    values = ", ".join(expression for _, expression in [*keys, *sums])
    grouped = ", ".join(str(n) for n in range(1, len(keys) + 1))
    return f"INSERT INTO {table} ({names}) SELECT {values} FROM {source} GROUP BY {grouped}"


def _fill_hourly(dialect: str) -> str:
    error = "(status_code IS NULL OR status_code >= 400)"
    conditions: list[str] = []
    lower = ""
    for bound in _BOUNDS:
        conditions.append(f"{lower}latency_ms <= {bound}")
        lower = f"latency_ms > {bound} AND "
    conditions.append(f"latency_ms > {_BOUNDS[-1]}")
    values = {
        "requests": "1",
        "errors": f"CASE WHEN {error} THEN 1 ELSE 0 END",
        "byok_requests": "CASE WHEN used_byok THEN 1 ELSE 0 END",
        "prompt_tokens": "prompt_tokens",
        "cached_tokens": "cached_tokens",
        "completion_tokens": "completion_tokens",
        "cost_total_usd": "cost_total_usd",
        "latency_ms_sum": "COALESCE(latency_ms, 0)",
        "latency_count": "CASE WHEN latency_ms IS NOT NULL THEN 1 ELSE 0 END",
        "byok_errors": f"CASE WHEN {error} AND used_byok THEN 1 ELSE 0 END",
        **{
            f"byok_{name}": f"CASE WHEN used_byok THEN {name} ELSE 0 END"
            for name in ("prompt_tokens", "cached_tokens", "completion_tokens", "cost_total_usd")
        },
        **{
            name: f"CASE WHEN {condition} THEN 1 ELSE 0 END"
            for name, condition in zip(_HISTOGRAM, conditions, strict=True)
        },
    }
    keys = [
        ("bucket_start", _start(dialect, "hour", "created_at")),
        ("user_id", "user_id"),
        ("model_id", "COALESCE(model_id, 0)"),
        ("provider_id", "COALESCE(provider_id, 0)"),
        ("power_level", "COALESCE(power_level, '')"),
        ("user_tier", "COALESCE(user_tier, '')"),
    ]
    sums = [(name, _sum(dialect, name, values[name])) for name, _ in _COUNTERS]
    return _insert("llm_usage_hourly", keys, sums, "llm_usage_logs")


def _fill_from_hourly(dialect: str, table: str, grain: str, dimensions: Sequence[str]) -> str:
    keys = [("bucket_start", _start(dialect, grain, "bucket_start"))]
    keys += [(name, name) for name in dimensions]
    sums = [(name, _sum(dialect, name, name)) for name, _ in _COUNTERS]
    return _insert(table, keys, sums, "llm_usage_hourly")
