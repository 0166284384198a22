"""FastAPI dependencies shared by the admin and BYOK APIs: a database session, the caller."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from switchboard.api.http import bearer_token
from switchboard.errors import InvalidKeyError, KeyStoreUnavailableError
from switchboard.gateway.keys import Principal
from switchboard.gateway.service import Gateway

ADMIN_ACTOR = "admin"


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request; sync endpoints run in FastAPI's thread pool."""
    gateway: Gateway = request.app.state.gateway
    with gateway.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def require_admin(request: Request) -> str:
    """The admin token, compared in constant time. Returns the actor name for the audit log."""
    gateway: Gateway = request.app.state.gateway
    configured = gateway.settings.admin_token
    if configured is None or not configured.get_secret_value():
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "The admin API is disabled: set ADMIN_TOKEN to enable it.",
        )
    token = bearer_token(request)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Missing admin token: send `Authorization: Bearer $ADMIN_TOKEN`, the server's "
            "ADMIN_TOKEN setting (`make run` and `switchboard init-env` write it to .env; "
            "load it into your shell with `set -a; . ./.env; set +a`).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(token.encode(), configured.get_secret_value().encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Wrong admin token.")
    return ADMIN_ACTOR


AdminDep = Annotated[str, Depends(require_admin)]


async def require_user(request: Request) -> Principal:
    """The gateway user whose virtual key authenticates this request (BYOK API)."""
    gateway: Gateway = request.app.state.gateway
    token = bearer_token(request)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Missing API key: send `Authorization: Bearer sk-sb-…`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return await gateway.keys.authenticate(token)
    except InvalidKeyError:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Invalid, revoked or expired API key."
        ) from None
    except KeyStoreUnavailableError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "The API key cannot be verified right now."
        ) from None


UserDep = Annotated[Principal, Depends(require_user)]
