"""The audit log: every admin change, who made it, and the row before and after.

Values of secret columns never reach the log: they are replaced by their mask (or dropped,
for encrypted values), so the audit log can be shown to any admin. Who (`Actor`, or
`user_actor`), what was done (`Action`) and to what (`Entity`) come from one vocabulary.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from switchboard.models import AuditLogEntry, Base
from switchboard.services.paging import FIRST_PAGE, Page, Window, page_of, rows_where

SECRET_COLUMNS = frozenset({"encrypted_api_key", "key_hash", "encrypted_secret"})


class Actor(enum.StrEnum):
    """Who made a change, when it is not a user acting on their own keys (`user_actor`)."""

    ADMIN = "admin"
    """Through the admin API, with the admin token."""
    CLI = "cli"
    """A catalog command of the command line."""
    SYSTEM = "system"
    """No person named: the command line's account commands, seeding, demos, the Python API."""


def user_actor(user_id: str) -> str:
    """How the audit log names a user acting on their own keys (the BYOK API)."""
    return f"user:{user_id}"


class Entity(enum.StrEnum):
    """What a change was made to: the audit log's `entity_type`."""

    PROVIDER = "provider"
    MODEL = "model"
    ROUTING_RULE = "routing_rule"
    USER = "user"
    VIRTUAL_KEY = "virtual_key"
    BYOK_KEY = "byok_key"
    TIER_LIMITS = "tier_limits"
    ALERT_RULE = "alert_rule"
    ALERT_WEBHOOK = "alert_webhook"


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    DEPRECATE = "deprecate"
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    ISSUE = "issue"
    REVOKE = "revoke"
    VALIDATE = "validate"


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


def update_action(before: dict[str, Any] | None, row: Base) -> Action:
    """What an update of `row` is called: turning it on or off (its `is_active`, as it was
    `before` and as it is now) is its activation or deactivation; anything else an update."""
    was_active = None if before is None else before.get("is_active")
    is_active = getattr(row, "is_active", None)
    if was_active is None or is_active is None or bool(was_active) == is_active:
        return Action.UPDATE
    return Action.ACTIVATE if is_active else Action.DEACTIVATE


def record_change(
    session: Session,
    *,
    actor: str,
    action: Action,
    entity_type: Entity,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditLogEntry:
    """Add an audit entry to the session (committed with the change it describes)."""
    entry = AuditLogEntry(
        actor=str(actor),  # the plain text: a database driver may write an enum by its name
        action=str(action),
        entity_type=str(entity_type),
        entity_id=None if entity_id is None else str(entity_id),
        before=before,
        after=after,
        request_id=request_id,
    )
    session.add(entry)
    return entry


def list_entries(
    session: Session,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    window: Window = FIRST_PAGE,
) -> Page[AuditLogEntry]:
    """The entries, newest first, filtered by what was changed, by whom, and when
    ([since, until))."""
    entry = AuditLogEntry
    query = rows_where(entry, {"entity_type": entity_type, "entity_id": entity_id, "actor": actor})
    if since is not None:
        query = query.where(entry.at >= since)
    if until is not None:
        query = query.where(entry.at < until)
    return page_of(session, query, entry.at.desc(), entry.id.desc(), window=window)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value
