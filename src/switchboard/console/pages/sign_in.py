"""Signing in to the console with the admin token (or, at `/ui/me`, with a virtual key), and
out. A sign-in sets the session cookie; the token itself is never stored, shown or logged."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse

from switchboard.console.deps import GatewayDep, SignedInDep, StateDep
from switchboard.console.forms import check_csrf, read_form
from switchboard.console.rendering import ConsoleRoute, render, see_other
from switchboard.console.sessions import (
    SESSION_COOKIE,
    SIGN_IN_CSRF_COOKIE,
    ConsoleSession,
    Role,
    new_csrf_token,
)
from switchboard.errors import InvalidKeyError, KeyStoreUnavailableError

log = logging.getLogger(__name__)

router = APIRouter(route_class=ConsoleRoute)

_HOME = {Role.ADMIN: "/ui/", Role.USER: "/ui/me"}
_FORM_PATH = {Role.ADMIN: "/ui/sign-in", Role.USER: "/ui/me/sign-in"}
_Check = Callable[[str], Awaitable[ConsoleSession | None]]
"""Whether a token signs in, and the session it opens."""


@router.get("/sign-in", response_class=HTMLResponse)
def admin_sign_in_page(request: Request) -> Response:
    return _form(request, Role.ADMIN)


@router.get("/me/sign-in", response_class=HTMLResponse)
def user_sign_in_page(request: Request) -> Response:
    return _form(request, Role.USER)


@router.post("/sign-in", response_class=HTMLResponse)
async def admin_sign_in(request: Request, state: StateDep, gateway: GatewayDep) -> Response:
    async def check(token: str) -> ConsoleSession | None:
        configured = gateway.settings.admin_token
        if configured is None or not configured.get_secret_value():
            return None
        if not hmac.compare_digest(token.encode(), configured.get_secret_value().encode()):
            return None
        return _new_session(Role.ADMIN, "admin", state.session_ttl_s)

    return await _sign_in(request, state, Role.ADMIN, check)


@router.post("/me/sign-in", response_class=HTMLResponse)
async def user_sign_in(request: Request, state: StateDep, gateway: GatewayDep) -> Response:
    async def check(token: str) -> ConsoleSession | None:
        try:
            principal = await gateway.authenticate(token)
        except InvalidKeyError:
            return None
        ttl = state.session_ttl_s
        if principal.expires_at is not None:
            ttl = min(ttl, principal.expires_at.timestamp() - time.time())
        return _new_session(Role.USER, principal.user_id, ttl, key_id=principal.key_id)

    try:
        return await _sign_in(request, state, Role.USER, check)
    except KeyStoreUnavailableError:
        return _form(request, Role.USER, "Keys cannot be checked right now: try again soon.", 503)


@router.post("/sign-out")
async def sign_out(request: Request, signed_in: SignedInDep) -> Response:
    form = await read_form(request)
    check_csrf(form, signed_in.csrf if signed_in else None)
    assert signed_in is not None
    response = see_other(_FORM_PATH[signed_in.role])
    response.delete_cookie(SESSION_COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


async def _sign_in(request: Request, state: StateDep, role: Role, check: _Check) -> Response:
    form = await read_form(request)
    check_csrf(form, request.cookies.get(SIGN_IN_CSRF_COOKIE))
    client = request.client.host if request.client else "unknown"
    wait_s = state.throttle.wait_s(client)
    if wait_s > 0:
        message = f"Too many failed sign-ins: wait {wait_s:.0f} s before trying again."
        refused = _form(request, role, message, status.HTTP_429_TOO_MANY_REQUESTS)
        refused.headers["Retry-After"] = str(max(1, round(wait_s)))
        return refused
    # Counted as failed before the check, which may wait for the database: parallel
    # attempts each see the ones before them, and a success clears the count.
    state.throttle.failed(client)
    session = await check(form.get("token", "").strip())
    if session is None:
        log.info("console sign-in refused", extra={"client": client, "role": role.value})
        what = "admin token" if role is Role.ADMIN else "API key"
        return _form(request, role, f"Wrong {what}.", status.HTTP_401_UNAUTHORIZED)
    state.throttle.succeeded(client)
    response = see_other(_HOME[role])
    response.set_cookie(
        SESSION_COOKIE,
        state.sessions.encode(session),
        max_age=max(1, round(session.expires_at - time.time())),
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


def _form(
    request: Request, role: Role, error: str | None = None, status_code: int = status.HTTP_200_OK
) -> HTMLResponse:
    """The sign-in form, with a fresh double-submit CSRF token in a cookie and in the form."""
    token = new_csrf_token()
    response = render(
        request,
        "sign_in.html",
        {"role": role.value, "action": _FORM_PATH[role], "form_csrf": token, "error": error},
        status_code=status_code,
    )
    response.set_cookie(
        SIGN_IN_CSRF_COOKIE,
        token,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _new_session(
    role: Role, subject: str, ttl_s: float, key_id: int | None = None
) -> ConsoleSession:
    return ConsoleSession(
        role=role,
        subject=subject,
        expires_at=time.time() + ttl_s,
        csrf=new_csrf_token(),
        key_id=key_id,
    )
