"""The plumbing of catalog changes, shared by `catalog_admin` and `routing_admin`: the errors
they raise, look-ups, pages, and committing a change together with its audit entry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.errors import NotFoundError, SwitchboardError
from switchboard.models import Base
from switchboard.services.audit import record_change, snapshot_row

T = TypeVar("T", bound=Base)


class ConflictError(SwitchboardError):
    """The change collides with what exists: a taken slug or model id, rows that depend on it."""


class InvalidFieldError(SwitchboardError):
    """A field's value is well-formed but wrong against the catalog (e.g. an unknown model)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def get_row(session: Session, table: type[T], row_id: int, what: str) -> T:
    row = session.get(table, row_id)
    if row is None:
        raise NotFoundError(f"{what} {row_id} does not exist")
    return row


def page_of(
    session: Session,
    table: type[T],
    filters: Iterable[tuple[Any, object]],
    *,
    limit: int,
    offset: int,
) -> tuple[list[T], int]:
    """Rows whose columns equal the values given (None: any), by id; and how many in all."""
    query = select(table).where(
        *(column == value for column, value in filters if value is not None)
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = inspect(table).primary_key
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return list(rows), total


def apply_changes(row: Base, changes: Mapping[str, Any]) -> None:
    for field, value in changes.items():
        setattr(row, field, value)


def audit_change(
    session: Session,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    record_change(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
    )


def commit_change(
    session: Session,
    actor: str,
    action: str,
    entity_type: str,
    row: Base,
    before: dict[str, Any] | None,
) -> None:
    """Write the change and its audit entry in one transaction. A unique constraint that a
    concurrent change won is a conflict, like the ones checked before. The entry shows the row
    as stored (read back: prices quantized, timestamps set)."""
    try:
        session.flush()
        session.refresh(row)
        row_id = getattr(row, "id", None)
        audit_change(session, actor, action, entity_type, row_id, before, snapshot_row(row))
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise ConflictError(f"the {entity_type} conflicts with an existing row") from error
