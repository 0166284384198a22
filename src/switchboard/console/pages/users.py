"""Users and their virtual keys: list and search, create, change tier, budget or default
power level, deactivate or reactivate, issue a key (shown once, in that answer only), revoke.

A change to a user or a key is dropped from this process's key cache before the answer is
sent, as the admin API does (other processes follow within `CATALOG_POLL_INTERVAL_S`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse

from switchboard._types import utcnow
from switchboard.console import forms
from switchboard.console.deps import AdminDep, GatewayDep, SessionDep
from switchboard.console.forms import FormError
from switchboard.console.rendering import PAGE_SIZE, ConsoleRoute, render, see_other, with_notice
from switchboard.errors import ConflictError, InvalidFieldError
from switchboard.gateway.from_thread import forget_user
from switchboard.services import users
from switchboard.services.audit import Actor
from switchboard.services.paging import Window
from switchboard.vocabulary import PowerLevel, Tier

router = APIRouter(route_class=ConsoleRoute)

TIERS = [tier.value for tier in Tier]
POWER_LEVELS = [level.value for level in PowerLevel]
USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,254}$")
_REFUSED = (FormError, InvalidFieldError, ConflictError)
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
    page = max(page, 1)
    chosen = forms.query_choice(tier, Tier, "tier")
    listing = users.list_users(
        session,
        tier=chosen,
        search=q.strip() or None,
        window=Window(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
    )
    filters = {"q": q, "tier": chosen.value if chosen else ""}
    return render(
        request,
        "users.html",
        {
            "title": "Users and keys",
            "users": listing.items,
            "total": listing.total,
            "page": page,
            "page_size": PAGE_SIZE,
            "filters": filters,
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "tiers": TIERS,
            "power_levels": POWER_LEVELS,
            "values": {"tier": "free"},
            "error": None,
        },
    )


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request, session: SessionDep, _admin: AdminDep, form: forms.AdminFormDep
) -> Response:
    try:
        user_id = forms.required_text(form, "id")
        if not USER_ID.match(user_id):
            raise FormError("id", "use letters, digits, '.', '_', '@' or '-'")
        fields = user_fields(form)
        user = users.create_user(
            session,
            user_id=user_id,
            tier=fields["tier"],
            display_name=forms.text(form, "display_name"),
            email=forms.text(form, "email"),
            monthly_budget_usd=fields["monthly_budget_usd"],
            default_power_level=fields["default_power_level"],
            actor=Actor.ADMIN,
        )
    except _REFUSED as error:
        session.rollback()
        listing = users.list_users(session, window=Window(limit=PAGE_SIZE))
        context = {
            "title": "Users and keys",
            "users": listing.items,
            "total": listing.total,
            "page": 1,
            "page_size": PAGE_SIZE,
            "filters": {"q": "", "tier": ""},
            "query": "",
            "tiers": TIERS,
            "power_levels": POWER_LEVELS,
            "values": {k: v for k, v in form.items() if k != "csrf_token"},
            "error": str(error),
        }
        return render(request, "users.html", context, status_code=422)
    return see_other(with_notice(f"/ui/users/{user.id}", f"User {user.id} created."))


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
    try:
        changes = cast(users.UserChanges, user_fields(form))
        users.update_user(session, user_id=user_id, changes=changes, actor=Actor.ADMIN)
    except _REFUSED as error:
        session.rollback()
        return _user_page(request, session, user_id, error=str(error))
    forget_user(gateway, user_id)
    return see_other(with_notice(f"/ui/users/{user_id}", "User saved."))


@router.post("/users/{user_id}/active", response_class=HTMLResponse)
def set_active(
    request: Request,
    user_id: str,
    session: SessionDep,
    gateway: GatewayDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    active = forms.flag(form, "is_active")
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
    except _REFUSED as error:
        session.rollback()
        return _user_page(request, session, user_id, error=str(error))
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


def _user_page(
    request: Request,
    session: Any,
    user_id: str,
    *,
    error: str | None = None,
    issued_key: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    user = users.get_user(session, user_id=user_id)
    return render(
        request,
        "user.html",
        {
            "title": f"User {user.id}",
            "user": user,
            "keys": users.list_virtual_keys(session, user_id=user_id),
            "tiers": TIERS,
            "power_levels": POWER_LEVELS,
            "error": error,
            "issued_key": issued_key,
        },
        status_code=422 if error else status_code,
    )
