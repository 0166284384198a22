""" "My keys", for a user signed in with one of their virtual keys: their own provider keys
(BYOK: add and validate, list, rename, deactivate or reactivate, validate again, delete) and
their own usage. Each change is dropped from the gateway's key cache at once, as the BYOK
API's are."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.console import forms, page_flow
from switchboard.console.deps import GatewayDep, SessionDep, UserDep
from switchboard.console.forms import FormError
from switchboard.console.rendering import ConsoleRoute, render, see_other, with_notice
from switchboard.console.sessions import ConsoleSession
from switchboard.errors import ConflictError
from switchboard.gateway.from_thread import forget_user, key_checker
from switchboard.gateway.service import Gateway
from switchboard.secrets import SecretManager
from switchboard.services import analytics, byok, catalog_admin
from switchboard.services.analytics import UsageFilters
from switchboard.services.paging import Window

router = APIRouter(route_class=ConsoleRoute)

USAGE_DAYS = 30
MAX_PROVIDERS = 500


@router.get("/me", response_class=HTMLResponse)
def my_keys(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    return _page(request, session, user)


@router.post("/me/keys", response_class=HTMLResponse)
def add_key(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    user: UserDep,
    form: forms.UserFormDep,
) -> Response:
    """The key is checked with the provider (a models listing, not billed), then stored
    encrypted; the page shows only its mask."""
    try:
        provider_id = forms.integer(form, "provider_id")
        if provider_id is None:
            raise FormError("provider_id", "choose a provider")
        row = byok.add_key(
            session,
            user_id=user.subject,
            api_key=forms.required_text(form, "api_key"),
            key_name=forms.text(form, "key_name"),
            secrets=_secrets(gateway),
            check=key_checker(gateway),
            provider_id=provider_id,
        )
    except page_flow.REFUSED as error:
        session.rollback()
        errors = page_flow.field_errors(error, default_field="api_key")
        return _page(request, session, user, errors=errors, values=form)
    forget_user(gateway, user.subject)
    return see_other(with_notice("/ui/me", f"Key {byok.masked(row)} added, {_checked(row)}."))


@router.post("/me/keys/{key_id}", response_class=HTMLResponse)
def change_key(
    request: Request,
    key_id: int,
    session: SessionDep,
    gateway: GatewayDep,
    user: UserDep,
    form: forms.UserFormDep,
) -> Response:
    """One of: rename, activate, deactivate, validate (the form's `action`)."""
    action = form.get("action", "")
    if action == "validate":
        row = byok.revalidate_key(
            session,
            user_id=user.subject,
            key_id=key_id,
            secrets=_secrets(gateway),
            check=key_checker(gateway),
        )
        notice = _checked(row)
    elif action == "deactivate" and not page_flow.confirmed(form):
        mask = byok.masked(byok.get_key(session, user_id=user.subject, key_id=key_id))
        return page_flow.ask_to_confirm(
            request,
            form,
            question=f"Deactivate your key {mask}?",
            consequence="Your requests stop using it (the platform's key is used where allowed)."
            " You can activate it again later.",
            button=f"Deactivate {mask}",
            cancel="/ui/me",
        )
    elif action in {"activate", "deactivate"}:
        changes: byok.KeyChanges = {"is_active": action == "activate"}
        row = byok.update_key(session, user_id=user.subject, key_id=key_id, changes=changes)
        notice = f"{action}d"
    elif action == "rename":
        changes = {"key_name": forms.text(form, "key_name")}
        row = byok.update_key(session, user_id=user.subject, key_id=key_id, changes=changes)
        notice = "renamed"
    else:
        return _page(request, session, user, errors={"": f"unknown action {action!r}"})
    forget_user(gateway, user.subject)
    return see_other(with_notice("/ui/me", f"Key {byok.masked(row)} {notice}."))


@router.get("/me/keys/{key_id}/delete", response_class=HTMLResponse)
def confirm_delete(
    request: Request, key_id: int, session: SessionDep, user: UserDep
) -> HTMLResponse:
    row = byok.get_key(session, user_id=user.subject, key_id=key_id)
    return render(
        request, "my_key_delete.html", {"title": "Delete key", "key": row, "mask": byok.masked}
    )


@router.post("/me/keys/{key_id}/delete", response_class=HTMLResponse)
def delete_key(
    request: Request,
    key_id: int,
    session: SessionDep,
    gateway: GatewayDep,
    user: UserDep,
    form: forms.UserFormDep,
) -> Response:
    row = byok.get_key(session, user_id=user.subject, key_id=key_id)
    mask = byok.masked(row)
    byok.delete_key(session, user_id=user.subject, key_id=key_id)
    forget_user(gateway, user.subject)
    return see_other(with_notice("/ui/me", f"Key {mask} deleted."))


def _checked(row: Any) -> str:
    """What the provider said of the key when it was last checked, for the notice."""
    return "validated" if row.is_validated else f"not validated: {row.validation_error}"


def _secrets(gateway: Gateway) -> SecretManager:
    if gateway.secrets is None:
        raise ConflictError("Own keys cannot be stored: the gateway has no ENCRYPTION_KEY.")
    return gateway.secrets


def _page(
    request: Request,
    session: Session,
    user: ConsoleSession,
    *,
    errors: page_flow.FieldErrors | None = None,
    values: Mapping[str, str] | None = None,
) -> HTMLResponse:
    now = utcnow()
    filters = UsageFilters.build(
        since=now - timedelta(days=USAGE_DAYS), until=now, user_id=user.subject
    )
    providers = catalog_admin.list_providers(
        session, is_active=True, window=Window(limit=MAX_PROVIDERS)
    )
    shown = page_flow.shown(values or {}, write_only={"api_key"})
    return page_flow.form_page(
        request,
        "my_keys.html",
        {
            "title": "My keys",
            "user_id": user.subject,
            "keys": byok.list_keys(session, user_id=user.subject),
            "mask": byok.masked,
            "providers": [p for p in providers.items if p.is_byok_supported],
            "totals": analytics.usage_totals(session, filters=filters),
            "usage_days": USAGE_DAYS,
            "top_models": analytics.top_models(session, filters=filters, limit=5),
            "values": shown,
        },
        errors,
    )
