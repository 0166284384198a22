"""FastAPI dependencies of the console: its state, the gateway's narrow face, a database
session (from the gateway's session factory, as the admin API's), and who is signed in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.console.sessions import SESSION_COOKIE, ConsoleSession, Role
from switchboard.console.state import ConsoleState
from switchboard.errors import NotFoundError
from switchboard.gateway.service import Gateway
from switchboard.services import users


class SignInRequiredError(Exception):
    """No valid session for a page that needs one: the console shows its sign-in page, saying
    why when a session was ended (`reason`), and drops the cookie."""

    def __init__(self, role: Role, reason: str | None = None) -> None:
        super().__init__(role)
        self.role = role
        self.reason = reason


def get_state(request: Request) -> ConsoleState:
    return cast(ConsoleState, request.app.state.console)


def get_gateway(request: Request) -> Gateway:
    return cast(Gateway, request.app.state.gateway)


StateDep = Annotated[ConsoleState, Depends(get_state)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def get_session(gateway: GatewayDep) -> Iterator[Session]:
    """A database session for one request; sync pages run in FastAPI's thread pool."""
    with gateway.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def current_session(request: Request, state: StateDep) -> ConsoleSession | None:
    """The signed-in session the request's cookie carries, if valid and not expired."""
    return state.sessions.decode(request.cookies.get(SESSION_COOKIE), now=time.time())


SignedInDep = Annotated[ConsoleSession | None, Depends(current_session)]


def require_admin(signed_in: SignedInDep) -> ConsoleSession:
    if signed_in is None or signed_in.role is not Role.ADMIN:
        raise SignInRequiredError(Role.ADMIN)
    return signed_in


def require_user(signed_in: SignedInDep, session: SessionDep) -> ConsoleSession:
    """A user's session, while they and the virtual key they signed in with still work: the
    first request after either stops ends the session, saying why."""
    if signed_in is None or signed_in.role is not Role.USER or signed_in.key_id is None:
        raise SignInRequiredError(Role.USER)
    ended = session_ended_because(session, signed_in)
    if ended is not None:
        raise SignInRequiredError(Role.USER, ended)
    return signed_in


def session_ended_because(session: Session, signed_in: ConsoleSession) -> str | None:
    """Why a user's session can no longer go on (None: it can)."""
    try:
        user = users.get_user(session, user_id=signed_in.subject)
    except NotFoundError:
        return "Your account no longer exists: you have been signed out."
    if not user.is_active:
        return "Your account has been deactivated: you have been signed out."
    keys = users.list_virtual_keys(session, user_id=signed_in.subject)
    key = next((key for key in keys if key.id == signed_in.key_id), None)
    if key is None or key.is_revoked:
        return "The API key you signed in with was revoked: sign in with another key."
    if key.expires_at is not None and key.expires_at <= utcnow():
        return "The API key you signed in with has expired: sign in with another key."
    return None


AdminDep = Annotated[ConsoleSession, Depends(require_admin)]
UserDep = Annotated[ConsoleSession, Depends(require_user)]
