"""Admin API: the audit log, newest first. Secrets in it are already masked when written."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from switchboard.api.admin.schemas_accounts import (
    TEXT_PATTERN,
    AuditEntryPublic,
    DateTime,
    Limit,
    Offset,
    Page,
    as_utc,
)
from switchboard.api.deps import SessionDep
from switchboard.models import AuditLogEntry
from switchboard.services.users import paginate

router = APIRouter(tags=["admin: audit"])


@router.get("/audit")
def list_audit_entries(
    session: SessionDep,
    entity_type: Annotated[
        str | None,
        Query(
            max_length=50, pattern=TEXT_PATTERN, description="`user`, `virtual_key`, `byok_key`…"
        ),
    ] = None,
    entity_id: Annotated[str | None, Query(max_length=255, pattern=TEXT_PATTERN)] = None,
    actor: Annotated[
        str | None,
        Query(max_length=255, pattern=TEXT_PATTERN, description="`admin`, `user:<id>`, `system`."),
    ] = None,
    since: Annotated[DateTime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[DateTime | None, Query(description="Before this time.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AuditEntryPublic]:
    """Who changed what and when, with the row before and after."""
    query = select(AuditLogEntry)
    if entity_type is not None:
        query = query.where(AuditLogEntry.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditLogEntry.entity_id == entity_id)
    if actor is not None:
        query = query.where(AuditLogEntry.actor == actor)
    if since is not None:
        query = query.where(AuditLogEntry.at >= as_utc(since))
    if until is not None:
        query = query.where(AuditLogEntry.at < as_utc(until))
    ordered = query.order_by(AuditLogEntry.at.desc(), AuditLogEntry.id.desc())
    page = paginate(session, query, ordered, limit=limit, offset=offset)
    return Page[AuditEntryPublic](
        items=[AuditEntryPublic.model_validate(entry) for entry in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )
