"""Users and their virtual keys: list and search, create, change tier, budget or default
power level, deactivate (confirmed first) or reactivate, issue a key (shown once, in that
answer only), revoke (confirmed first).

A change to a user or a key is dropped from this process's key cache before the answer is
sent, as the admin API does (other processes follow within `CATALOG_POLL_INTERVAL_S`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.console import forms, page_flow, paging
from switchboard.console.deps import AdminDep, GatewayDep, SessionDep
from switchboard.console.forms import FormError
from switchboard.console.rendering import ConsoleRoute, see_other, with_notice
from switchboard.gateway.from_thread import forget_user
from switchboard.services import users
from switchboard.services.audit import Actor
from switchboard.vocabulary import PowerLevel, Tier

router = APIRouter(route_class=ConsoleRoute)

TIERS = [tier.value for tier in Tier]
POWER_LEVELS = [level.value for level in PowerLevel]
USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,254}$")
MAX_KEY_DAYS = 3660


@router.get("/users", response_class=HTMLResponse)
def list_users(
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    q: str = "",
    tier: str = "",
    page: int = 1,
) -> HTMLResponse:
    return _list_page(request, session, q=q, tier=tier, page=page)


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request, session: SessionDep, _admin: AdminDep, form: forms.AdminFormDep
) -> Response:
    def create() -> Any:
        user_id = forms.required_text(form, "id")
        if not USER_ID.match(user_id):
            raise FormError("id", "use letters, digits, '.', '_', '@' or '-'")
        fields = user_fields(form)
        return users.create_user(
            session,
            user_id=user_id,
            tier=fields["tier"],
            display_name=forms.text(form, "display_name"),
            email=forms.text(form, "email"),
            monthly_budget_usd=fields["monthly_budget_usd"],
            default_power_level=fields["default_power_level"],
            actor=Actor.ADMIN,
        )

    return page_flow.submit(
        session,
        create,
        done=lambda user: (f"/ui/users/{user.id}", f"User {user.id} created."),
        refused=lambda errors: _list_page(
            request, session, values=page_flow.shown(form), errors=errors
        ),
        default_field="id",
    )


@router.get("/users/{user_id}", response_class=HTMLResponse)
def user_page(request: Request, user_id: str, session: SessionDep, _admin: AdminDep) -> Response:
    return _user_page(request, session, user_id)


@router.post("/users/{user_id}", response_class=HTMLResponse)
def update_user(
    request: Request,
    user_id: str,
    session: SessionDep,
    gateway: GatewayDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    def update() -> Any:
        changes = cast(users.UserChanges, user_fields(form))
        users.update_user(session, user_id=user_id, changes=changes, actor=Actor.ADMIN)
        forget_user(gateway, user_id)

    return page_flow.submit(
        session,
        update,
        done=lambda _: (f"/ui/users/{user_id}", "User saved."),
        refused=lambda errors: _user_page(
            request, session, user_id, errors=errors, values=page_flow.shown(form)
        ),
    )


@router.post("/users/{user_id}/active", response_class=HTMLResponse)
def set_active(
    request: Request,
    user_id: str,
    session: SessionDep,
    gateway: GatewayDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    """Reactivating is done at once; deactivating, which stops every key of the user and
    signs them out of "My keys", is confirmed first."""
    active = forms.flag(form, "is_active")
    users.get_user(session, user_id=user_id)
    if not active and not page_flow.confirmed(form):
        return page_flow.ask_to_confirm(
            request,
            form,
            question=f"Deactivate user {user_id}?",
            consequence="Their virtual keys stop working at once and they are signed out of "
            "their keys page. You can reactivate them later.",
            button=f"Deactivate {user_id}",
            cancel=f"/ui/users/{user_id}",
        )
    users.update_user(session, user_id=user_id, changes={"is_active": active}, actor=Actor.ADMIN)
    forget_user(gateway, user_id)
    state = "reactivated: their keys work again" if active else "deactivated: their keys stop"
    return see_other(with_notice(f"/ui/users/{user_id}", f"User {user_id} {state}."))


@router.post("/users/{user_id}/keys", response_class=HTMLResponse)
def issue_key(
    request: Request,
    user_id: str,
    session: SessionDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    """The new key is in this page only (never in a URL, a log, or another page)."""
    try:
        days = forms.integer(form, "expires_in_days")
        if days is not None and not 1 <= days <= MAX_KEY_DAYS:
            raise FormError("expires_in_days", f"must be 1 to {MAX_KEY_DAYS} days")
        issued = users.issue_virtual_key(
            session,
            user_id=user_id,
            name=forms.text(form, "name"),
            expires_at=utcnow() + timedelta(days=days) if days else None,
            actor=Actor.ADMIN,
        )
    except page_flow.REFUSED as error:
        session.rollback()
        errors = page_flow.field_errors(error, default_field="name")
        return _user_page(request, session, user_id, errors=errors, values=page_flow.shown(form))
    return _user_page(request, session, user_id, issued_key=issued.key, status_code=201)


@router.post("/users/{user_id}/keys/{key_id}/revoke", response_class=HTMLResponse)
def revoke_key(
    request: Request,
    user_id: str,
    key_id: int,
    session: SessionDep,
    gateway: GatewayDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    key = next(
        (k for k in users.list_virtual_keys(session, user_id=user_id) if k.id == key_id), None
    )
    if key is not None and not page_flow.confirmed(form):
        return page_flow.ask_to_confirm(
            request,
            form,
            question=f"Revoke key {key.key_prefix}…?",
            consequence="Requests with it are refused at once, and whoever signed in to their "
            "keys page with it is signed out. This cannot be undone.",
            button=f"Revoke {key.key_prefix}…",
            cancel=f"/ui/users/{user_id}",
        )
    key = users.revoke_virtual_key(session, key_id, user_id=user_id, actor=Actor.ADMIN)
    forget_user(gateway, user_id)
    return see_other(with_notice(f"/ui/users/{user_id}", f"Key {key.key_prefix}… revoked."))


def user_fields(form: Mapping[str, str]) -> dict[str, Any]:
    tier = form.get("tier", "")
    if tier not in TIERS:
        raise FormError("tier", "is not a tier")
    power = forms.text(form, "default_power_level")
    if power is not None and power not in POWER_LEVELS:
        raise FormError("default_power_level", "is not a power level")
    return {
        "tier": Tier(tier),
        "monthly_budget_usd": forms.decimal(form, "monthly_budget_usd"),
        "default_power_level": PowerLevel(power) if power else None,
    }


def _list_page(
    request: Request,
    session: Session,
    *,
    q: str = "",
    tier: str = "",
    page: int = 1,
    values: Mapping[str, Any] | None = None,
    errors: page_flow.FieldErrors | None = None,
) -> HTMLResponse:
    page = paging.page_number(page)
    chosen = forms.query_choice(tier, Tier, "tier")
    listing = users.list_users(
        session,
        tier=chosen,
        search=q.strip() or None,
        window=paging.rows_of(page),
    )
    filters = {"q": q, "tier": chosen.value if chosen else ""}
    return page_flow.form_page(
        request,
        "users.html",
        {
            "title": "Users and keys",
            "users": listing.items,
            **paging.pager(page, listing.total),
            **paging.filtered(filters),
            "tiers": TIERS,
            "power_levels": POWER_LEVELS,
            "values": values or {"tier": "free"},
        },
        errors,
    )


def _user_page(
    request: Request,
    session: Session,
    user_id: str,
    *,
    errors: page_flow.FieldErrors | None = None,
    values: Mapping[str, Any] | None = None,
    issued_key: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    user = users.get_user(session, user_id=user_id)
    stored = {
        "tier": user.tier,
        "monthly_budget_usd": forms.decimal_text(user.monthly_budget_usd),
        "default_power_level": user.default_power_level or "",
    }
    return page_flow.form_page(
        request,
        "user.html",
        {
            "title": f"User {user.id}",
            "user": user,
            "keys": users.list_virtual_keys(session, user_id=user_id),
            "tiers": TIERS,
            "power_levels": POWER_LEVELS,
            "values": {**stored, **(values or {})},
            "issued_key": issued_key,
        },
        errors,
        status_code=status_code,
    )
