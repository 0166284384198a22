"""BYOK API: a user's own provider keys, authenticated with the user's virtual key.

A user sees and touches only their own keys: another user's key id answers 404, as an
unknown id does, so ids tell nothing. After every change the gateway's cache of the user's
keys is dropped, so the next request routes with the change.

Validation errors (422) list each field and what is wrong with it, but never echo the input:
the input holds the key.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from fastapi import APIRouter, HTTPException, status

from switchboard.api.byok.schemas import ByokKeyCreate, ByokKeyPublic, ByokKeyUpdate
from switchboard.api.deps import GatewayDep, SessionDep, UserDep
from switchboard.api.redacting_route import RedactingRoute
from switchboard.api.schemas import RowIdPath
from switchboard.gateway.from_thread import forget_user, key_checker
from switchboard.gateway.service import Gateway
from switchboard.secrets import SecretManager
from switchboard.services import byok

log = logging.getLogger(__name__)


class _InputHidingRoute(RedactingRoute):
    """Answers a request validation error without the `input` FastAPI would echo."""

    def redact(self, error: Any) -> Any:
        return {
            "loc": list(error.get("loc", ())),
            "msg": error.get("msg", ""),
            "type": error.get("type", "value_error"),
        }


router = APIRouter(route_class=_InputHidingRoute)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, invalid, revoked or expired virtual key."},
    404: {"description": "No such key (or not yours), or no such provider."},
}
_STORING: dict[int | str, dict[str, Any]] = {
    **_RESPONSES,
    503: {"description": "The gateway has no ENCRYPTION_KEY: own keys cannot be stored."},
}


def _secrets(gateway: Gateway) -> SecretManager:
    if gateway.secrets is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "Own keys cannot be stored: the gateway has no ENCRYPTION_KEY.",
        )
    return gateway.secrets


@router.post("/keys", status_code=status.HTTP_201_CREATED, responses=_STORING)
def add_key(
    body: ByokKeyCreate, principal: UserDep, session: SessionDep, gateway: GatewayDep
) -> ByokKeyPublic:
    """Add your own key for a provider that accepts them. The key must match the provider's
    format; it is then validated by listing the provider's models (not billed) and stored
    encrypted, marked validated or not with the reason."""
    row = byok.add_key(
        session,
        user_id=principal.user_id,
        api_key=body.api_key,
        key_name=body.key_name,
        secrets=_secrets(gateway),
        check=key_checker(gateway),
        provider_id=body.provider_id,
        provider_slug=body.provider_slug,
    )
    forget_user(gateway, principal.user_id)
    log.info("user %s added BYOK key %d (validated: %s)", row.user_id, row.id, row.is_validated)
    return ByokKeyPublic.of(row)


@router.get("/keys", responses=_RESPONSES)
def list_keys(principal: UserDep, session: SessionDep) -> list[ByokKeyPublic]:
    """Your keys: name, provider, prefix…suffix, validated, last used. Never the key."""
    return [ByokKeyPublic.of(row) for row in byok.list_keys(session, user_id=principal.user_id)]


@router.get("/keys/{key_id}", responses=_RESPONSES)
def read_key(key_id: RowIdPath, principal: UserDep, session: SessionDep) -> ByokKeyPublic:
    return ByokKeyPublic.of(byok.get_key(session, user_id=principal.user_id, key_id=key_id))


@router.post(
    "/keys/{key_id}/validate",
    responses={**_STORING, 409: {"description": "The stored key cannot be decrypted."}},
)
def validate_key(
    key_id: RowIdPath, principal: UserDep, session: SessionDep, gateway: GatewayDep
) -> ByokKeyPublic:
    """Check the stored key with the provider again and record the outcome."""
    row = byok.revalidate_key(
        session,
        user_id=principal.user_id,
        key_id=key_id,
        secrets=_secrets(gateway),
        check=key_checker(gateway),
    )
    forget_user(gateway, principal.user_id)
    return ByokKeyPublic.of(row)


@router.patch("/keys/{key_id}", responses=_RESPONSES)
def update_key(
    key_id: RowIdPath,
    body: ByokKeyUpdate,
    principal: UserDep,
    session: SessionDep,
    gateway: GatewayDep,
) -> ByokKeyPublic:
    """Rename a key, deactivate it (`is_active: false`: the gateway stops using it) or
    reactivate it."""
    changes = cast(byok.KeyChanges, body.model_dump(exclude_unset=True))
    row = byok.update_key(session, user_id=principal.user_id, key_id=key_id, changes=changes)
    forget_user(gateway, principal.user_id)
    return ByokKeyPublic.of(row)


@router.delete("/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_RESPONSES)
def delete_key(
    key_id: RowIdPath, principal: UserDep, session: SessionDep, gateway: GatewayDep
) -> None:
    """Remove a key for good."""
    byok.delete_key(session, user_id=principal.user_id, key_id=key_id)
    forget_user(gateway, principal.user_id)
