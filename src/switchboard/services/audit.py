"""The audit log: every admin change, who made it, and the row before and after.

Values of secret columns never reach the log: they are replaced by their mask (or dropped,
for encrypted values), so the audit log can be shown to any admin.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from switchboard.models import AuditLogEntry, Base

SECRET_COLUMNS = frozenset({"encrypted_api_key", "key_hash"})


def snapshot_row(row: Base | None) -> dict[str, Any] | None:
    """A row's column values as JSON-safe data, secrets masked."""
    if row is None:
        return None
    values: dict[str, Any] = {}
    for attribute in inspect(row).mapper.column_attrs:
        name = attribute.key
        value = getattr(row, name)
        if name in SECRET_COLUMNS:
            values[name] = "(set)" if value else None
        else:
            values[name] = _jsonable(value)
    return values


def record_change(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditLogEntry:
    """Add an audit entry to the session (committed with the change it describes)."""
    entry = AuditLogEntry(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        before=before,
        after=after,
        request_id=request_id,
    )
    session.add(entry)
    return entry


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value
