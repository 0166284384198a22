"""Admin API: the audit log, newest first. Secrets in it are already masked when written."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from switchboard.api.admin.schemas_accounts import AuditEntryPublic, AuditQuery
from switchboard.api.deps import SessionDep
from switchboard.api.schemas import Page, PagingDep
from switchboard.services import audit

router = APIRouter(tags=["admin: audit"])


@router.get("/audit")
def list_audit_entries(
    session: SessionDep, filters: Annotated[AuditQuery, Query()], paging: PagingDep
) -> Page[AuditEntryPublic]:
    """Who changed what and when, with the row before and after."""
    page = audit.list_entries(session, **filters.model_dump(), window=paging)
    return Page[AuditEntryPublic].of(page, AuditEntryPublic.model_validate, paging)
