"""Admin API: the audit log, newest first. Secrets in it are already masked when written."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from switchboard.api.admin.schemas_accounts import AuditEntryPublic
from switchboard.api.deps import SessionDep
from switchboard.api.schemas import TEXT_PATTERN, Page, PagingDep, UtcDateTime
from switchboard.services import audit

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
    since: Annotated[UtcDateTime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[UtcDateTime | None, Query(description="Before this time.")] = None,
    *,
    paging: PagingDep,
) -> Page[AuditEntryPublic]:
    """Who changed what and when, with the row before and after."""
    page = audit.list_entries(
        session,
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor,
        since=since,
        until=until,
        window=paging,
    )
    return Page[AuditEntryPublic].of(page, AuditEntryPublic.model_validate, paging)
