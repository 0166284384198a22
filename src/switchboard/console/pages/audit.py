"""The audit log: who changed what and when, newest first, filtered by kind of thing, its id
and who did it; each entry with every field it changed (secrets are masked when recorded),
folded away when there are many."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from switchboard.console import forms, paging
from switchboard.console.deps import AdminDep, SessionDep
from switchboard.console.rendering import ConsoleRoute, render
from switchboard.services import audit
from switchboard.services.audit import Entity

router = APIRouter(route_class=ConsoleRoute)

_BOOKKEEPING = frozenset({"created_at", "updated_at"})
SHOWN_OPEN = 8
"""An entry changing more fields than this lists them all, folded in a `<details>`."""


@dataclass(frozen=True, slots=True)
class FieldChange:
    name: str
    before: Any
    after: Any


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    entity_type: str = "",
    entity_id: str = "",
    actor: str = "",
    page: int = 1,
) -> HTMLResponse:
    page = paging.page_number(page)
    kind = forms.query_choice(entity_type, Entity, "entity_type")
    listing = audit.list_entries(
        session,
        entity_type=kind.value if kind else None,
        entity_id=entity_id.strip() or None,
        actor=actor.strip() or None,
        window=paging.rows_of(page),
    )
    filters = {"entity_type": entity_type, "entity_id": entity_id, "actor": actor}
    return render(
        request,
        "audit.html",
        {
            "title": "Audit log",
            "entries": [(entry, changes(entry.before, entry.after)) for entry in listing.items],
            **paging.pager(page, listing.total),
            **paging.filtered(filters),
            "entities": [entity.value for entity in Entity],
            "shown_open": SHOWN_OPEN,
        },
    )


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[FieldChange]:
    """The fields that differ between the two snapshots (all of them for a creation or a
    deletion), without the timestamps every change moves."""
    old, new = before or {}, after or {}
    names = [name for name in {**old, **new} if name not in _BOOKKEEPING]
    return [
        FieldChange(name, old.get(name), new.get(name))
        for name in names
        if old.get(name) != new.get(name)
    ]
