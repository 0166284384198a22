"""Rollups sum cache writes; a routing rule's identity is unique

The usage rows have said since 0005 how many prompt tokens were written to the provider's
cache, but the rollups (what the analytics read) did not sum them. The upgrade adds
`cache_write_tokens` and `byok_cache_write_tokens` and fills them from the rows already
stored: the hourly rollup from `llm_usage_logs`, the daily and hourly-without-user rollups
from the hourly one (the sums of `switchboard usage rebuild-rollups`, written out here as
they stand at this revision). Only rollup rows whose usage has cache writes are touched; the
other counters are left as they are.

Nothing kept two seeding runs at once from writing the same routing rules twice. A rule is
now identified by (model, power level, tier, task type), NULL tier included, held by two
partial unique indexes (see `models.catalog.LLMRoutingRule`). The upgrade first stores a
tier of "" (read as every tier, like NULL) as NULL, then deletes the duplicates, keeping the
rule with the lowest id: nothing refers to a rule, so nothing is repointed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLLUPS = ("llm_usage_hourly", "llm_usage_daily", "llm_usage_hourly_models")
_COUNTERS = ("cache_write_tokens", "byok_cache_write_tokens")
_DIMENSIONS = ("user_id", "model_id", "provider_id", "power_level", "user_tier")
_TIER_INDEX = "uq_llm_routing_rules_identity"
_ANY_TIER_INDEX = "uq_llm_routing_rules_identity_any_tier"


def upgrade() -> None:
    _sum_cache_writes()
    _make_rule_identity_unique()


def downgrade() -> None:
    with op.batch_alter_table("llm_routing_rules", schema=None) as batch_op:
        batch_op.drop_index(_ANY_TIER_INDEX)
        batch_op.drop_index(_TIER_INDEX)
    for table in reversed(_ROLLUPS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in reversed(_COUNTERS):
                batch_op.drop_column(name)


def _make_rule_identity_unique() -> None:
    op.execute("UPDATE llm_routing_rules SET user_tier = NULL WHERE user_tier = ''")
    op.execute(
        "DELETE FROM llm_routing_rules WHERE id NOT IN (SELECT MIN(id) FROM llm_routing_rules"
        " GROUP BY model_id, power_level, user_tier, task_type)"
    )
    with op.batch_alter_table("llm_routing_rules", schema=None) as batch_op:
        for name, columns, where in (
            (_TIER_INDEX, ["model_id", "power_level", "user_tier", "task_type"], "IS NOT NULL"),
            (_ANY_TIER_INDEX, ["model_id", "power_level", "task_type"], "IS NULL"),
        ):
            condition = sa.text(f"user_tier {where}")
            batch_op.create_index(
                name, columns, unique=True, postgresql_where=condition, sqlite_where=condition
            )


def _sum_cache_writes() -> None:
    for table in _ROLLUPS:
        for name in _COUNTERS:
            op.add_column(
                table, sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)
            )
    dialect = op.get_bind().dialect.name
    op.execute(_fill_hourly(dialect))
    op.execute(_fill_from_hourly(dialect, "llm_usage_daily", "day", _DIMENSIONS))
    op.execute(_fill_from_hourly(dialect, "llm_usage_hourly_models", "hour", _DIMENSIONS[1:]))


def _start(dialect: str, grain: str, moment: str) -> str:
    if dialect == "sqlite":
        hour = "%H" if grain == "hour" else "00"
        return f"strftime('%Y-%m-%d {hour}:00:00.000000', {moment})"
    return f"timezone('UTC', date_trunc('{grain}', timezone('UTC', {moment})))"


def _update(
    table: str, keys: Sequence[tuple[str, str]], sums: Sequence[tuple[str, str]], source: str
) -> str:
    """UPDATE `table` from `source` summed per key, for keys whose first sum is not 0."""
    selected = ", ".join(f"{value} AS {name}" for name, value in [*keys, *sums])
    grouped = ", ".join(str(n) for n in range(1, len(keys) + 1))
    assigned = ", ".join(f"{name} = sums.{name}" for name, _ in sums)
    matched = " AND ".join(f"stored.{name} = sums.{name}" for name, _ in keys)
    return (
        f"UPDATE {table} AS stored SET {assigned} "
        f"FROM (SELECT {selected} FROM {source} GROUP BY {grouped} "
        f"HAVING {sums[0][1]} <> 0) AS sums WHERE {matched}"
    )


def _fill_hourly(dialect: str) -> str:
    keys = [
        ("bucket_start", _start(dialect, "hour", "created_at")),
        ("user_id", "user_id"),
        ("model_id", "COALESCE(model_id, 0)"),
        ("provider_id", "COALESCE(provider_id, 0)"),
        ("power_level", "COALESCE(power_level, '')"),
        ("user_tier", "COALESCE(user_tier, '')"),
    ]
    sums = [
        ("cache_write_tokens", "SUM(cache_write_tokens)"),
        ("byok_cache_write_tokens", "SUM(CASE WHEN used_byok THEN cache_write_tokens ELSE 0 END)"),
    ]
    return _update("llm_usage_hourly", keys, sums, "llm_usage_logs")


def _fill_from_hourly(dialect: str, table: str, grain: str, dimensions: Sequence[str]) -> str:
    keys = [("bucket_start", _start(dialect, grain, "bucket_start"))]
    keys += [(name, name) for name in dimensions]
    sums = [(name, f"SUM({name})") for name in _COUNTERS]
    return _update(table, keys, sums, "llm_usage_hourly")
