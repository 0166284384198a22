"""Writing usage records to `llm_usage_logs`, idempotent by `request_id`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from switchboard.models import LLMUsageLog
from switchboard.usage.record import UsageRecord


def write_records(session: Session, records: Sequence[UsageRecord]) -> dict[str, int]:
    """Insert the records a row each; a `request_id` already stored is left as it is (so a
    batch may be written again after a crash). Returns the row id of every request id.
    Flushes, does not commit: the caller owns the transaction."""
    if not records:
        return {}
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(LLMUsageLog).on_conflict_do_nothing(index_elements=["request_id"])
    session.execute(statement, [record.column_values() for record in records])
    request_ids = [record.request_id for record in records]
    rows = session.execute(
        select(LLMUsageLog.request_id, LLMUsageLog.id).where(
            LLMUsageLog.request_id.in_(request_ids)
        )
    )
    return {request_id: row_id for request_id, row_id in rows}
