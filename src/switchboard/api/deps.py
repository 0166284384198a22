"""FastAPI dependencies shared by the admin and BYOK APIs: the gateway, a database session,
the caller."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from switchboard.api.http import authenticate, bearer_token
from switchboard.errors import InvalidKeyError, KeyStoreUnavailableError, MissingKeyError
from switchboard.gateway.keys import Principal
from switchboard.gateway.service import Gateway
from switchboard.services.audit import Actor


def get_gateway(request: Request) -> Gateway:
    """The app's gateway (made in its lifespan): settings, sessions, caches, adapters."""
    return cast(Gateway, request.app.state.gateway)


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def get_session(gateway: GatewayDep) -> Iterator[Session]:
    """A session for one request; sync endpoints run in FastAPI's thread pool."""
    with gateway.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def require_admin(request: Request, gateway: GatewayDep) -> str:
    """The admin token, compared in constant time. Returns the actor name for the audit log."""
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
    return Actor.ADMIN


AdminDep = Annotated[str, Depends(require_admin)]


async def require_user(request: Request, gateway: GatewayDep) -> Principal:
    """The gateway user whose virtual key authenticates this request (BYOK API)."""
    try:
        return await authenticate(request, gateway)
    except MissingKeyError as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(error), headers={"WWW-Authenticate": "Bearer"}
        ) from None
    except InvalidKeyError:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Invalid, revoked or expired API key."
        ) from None
    except KeyStoreUnavailableError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "The API key cannot be verified right now."
        ) from None


UserDep = Annotated[Principal, Depends(require_user)]
