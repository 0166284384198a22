"""Changing rows on someone's behalf, one way for every admin service (catalog, routing
rules, users and virtual keys, BYOK keys): a row or NotFoundError, applying changes, and
committing a change together with its audit entry. (Listings: `paging`.)

A change and its audit entry are written in one transaction. A change that a gateway may hold
in a cache also raises a change counter in that transaction (`change_counters`), last before
the commit, so that every other process reads it again within its catalog poll interval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard import change_counters
from switchboard.errors import ConflictError, NotFoundError
from switchboard.models import Base
from switchboard.services.audit import Action, Entity, record_change, snapshot_row

R = TypeVar("R", bound=Base)

Snapshot = Callable[[Any], dict[str, Any] | None]
"""How a row is shown in the audit log (`snapshot_row`, or a service's own that masks more)."""


def get_row(session: Session, table: type[R], row_id: object, what: str, **owner: str) -> R:
    """The row `row_id` of `table`, else NotFoundError saying "`what` does not exist". With
    `owner` (`user_id="ada"`), a row that belongs to someone else does not exist either."""
    row = session.get(table, row_id)
    if row is None or any(getattr(row, name) != value for name, value in owner.items()):
        raise NotFoundError(f"{what} does not exist")
    return row


def apply_changes(row: Base, changes: Mapping[str, Any]) -> bool:
    """Set the fields whose value differs; whether any did."""
    changed = False
    for name, value in changes.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


@dataclass(frozen=True, slots=True)
class Change:
    """Who did what to which kind of row (the audit entry's head), and which change counter
    the change raises, if any (`change_counters`)."""

    actor: str
    action: Action
    entity: Entity
    counter: str | None = None


def commit_change(
    session: Session,
    change: Change,
    row: Base,
    before: dict[str, Any] | None,
    *,
    snapshot: Snapshot = snapshot_row,
    conflict: str | None = None,
) -> None:
    """Write `row`'s change and its audit entry in one transaction. The entry shows the row
    as stored (read back: prices quantized, timestamps set). A unique constraint that a
    concurrent change won is a ConflictError (saying `conflict`, if given), like the ones a
    service checks before."""
    try:
        session.flush()
        session.refresh(row)
        _record(session, change, getattr(row, "id", None), before, snapshot(row))
        commit(session, change)
    except IntegrityError as error:
        session.rollback()
        message = conflict or f"the {change.entity} conflicts with an existing row"
        raise ConflictError(message) from error


def delete_row(
    session: Session, change: Change, row: Base, *, snapshot: Snapshot = snapshot_row
) -> None:
    """Delete `row` with its audit entry; committed with the rest of the change (`commit`)."""
    _record(session, change, getattr(row, "id", None), snapshot(row), None)
    session.delete(row)


def commit(session: Session, change: Change) -> None:
    """Commit what was changed (`delete_row`, `record_change`), raising `change.counter`."""
    if change.counter is not None:
        change_counters.bump(session, change.counter)
    session.commit()


def _record(
    session: Session,
    change: Change,
    entity_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    record_change(
        session,
        actor=change.actor,
        action=change.action,
        entity_type=change.entity,
        entity_id=entity_id,
        before=before,
        after=after,
    )
