"""Admin API: users and their virtual keys.

A key revoked or expired here, and every key of a user deactivated here, stops working at
once in this process (its key cache drops the user's entries before the response is sent)
and within `CATALOG_POLL_INTERVAL_S` in every other process (`services.users` raises the
change counter they poll). So does any other change to a user or a key, such as a new tier.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, status

from switchboard.api.admin.schemas_accounts import (
    UserCreate,
    UserPublic,
    UserQuery,
    UserUpdate,
    VirtualKeyCreate,
    VirtualKeyIssued,
    VirtualKeyPublic,
    VirtualKeyUpdate,
)
from switchboard.api.deps import AdminDep, GatewayDep, SessionDep
from switchboard.api.schemas import Page, PagingDep, RowIdPath, UserIdPath
from switchboard.gateway.from_thread import forget_user
from switchboard.services import users

router = APIRouter(tags=["admin: users"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such user or key."}}


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "A user with this id already exists."}},
)
def create_user(body: UserCreate, session: SessionDep, actor: AdminDep) -> UserPublic:
    """Add a gateway user with a tier, an optional monthly budget and default power level."""
    user = users.create_user(
        session,
        user_id=body.id,
        tier=body.tier,
        display_name=body.display_name,
        email=body.email,
        monthly_budget_usd=body.monthly_budget_usd,
        default_power_level=body.default_power_level,
        actor=actor,
    )
    return UserPublic.model_validate(user)


@router.get("/users")
def list_users(
    session: SessionDep, filters: Annotated[UserQuery, Query()], paging: PagingDep
) -> Page[UserPublic]:
    """Users, oldest first, filtered by tier and by being active."""
    page = users.list_users(session, **filters.model_dump(), window=paging)
    return Page[UserPublic].of(page, UserPublic.model_validate, paging)


@router.get("/users/{user_id}", responses=_NOT_FOUND)
def read_user(user_id: UserIdPath, session: SessionDep) -> UserPublic:
    return UserPublic.model_validate(users.get_user(session, user_id=user_id))


@router.patch("/users/{user_id}", responses=_NOT_FOUND)
def update_user(
    user_id: UserIdPath,
    body: UserUpdate,
    session: SessionDep,
    actor: AdminDep,
    gateway: GatewayDep,
) -> UserPublic:
    """Change a user's tier, budget or default power level; `is_active: false` deactivates
    them (their keys stop working), `true` reactivates them."""
    changes = cast(users.UserChanges, body.model_dump(exclude_unset=True))
    user = users.update_user(session, user_id=user_id, changes=changes, actor=actor)
    forget_user(gateway, user_id)
    return UserPublic.model_validate(user)


@router.post(
    "/users/{user_id}/keys",
    status_code=status.HTTP_201_CREATED,
    responses={**_NOT_FOUND, 409: {"description": "The user is deactivated."}},
)
def issue_key(
    user_id: UserIdPath, body: VirtualKeyCreate, session: SessionDep, actor: AdminDep
) -> VirtualKeyIssued:
    """Issue a virtual key. The key is in this response only: only its hash is stored."""
    issued = users.issue_virtual_key(
        session, user_id=user_id, name=body.name, expires_at=body.expiry(), actor=actor
    )
    return VirtualKeyIssued(key=issued.key, **VirtualKeyPublic.fields_of(issued.record))


@router.get("/users/{user_id}/keys", responses=_NOT_FOUND)
def list_keys(user_id: UserIdPath, session: SessionDep) -> list[VirtualKeyPublic]:
    """A user's virtual keys, revoked and expired ones too (prefix only)."""
    return [VirtualKeyPublic.of(key) for key in users.list_virtual_keys(session, user_id=user_id)]


@router.post("/users/{user_id}/keys/{key_id}/revoke", responses=_NOT_FOUND)
def revoke_key(
    user_id: UserIdPath,
    key_id: RowIdPath,
    session: SessionDep,
    actor: AdminDep,
    gateway: GatewayDep,
) -> VirtualKeyPublic:
    """Revoke a key for good; revoking a revoked key changes nothing."""
    key = users.revoke_virtual_key(session, key_id, user_id=user_id, actor=actor)
    forget_user(gateway, user_id)
    return VirtualKeyPublic.of(key)


@router.patch("/users/{user_id}/keys/{key_id}", responses=_NOT_FOUND)
def update_key(
    user_id: UserIdPath,
    key_id: RowIdPath,
    body: VirtualKeyUpdate,
    session: SessionDep,
    actor: AdminDep,
    gateway: GatewayDep,
) -> VirtualKeyPublic:
    """Rename a key or change when it expires: a time in the past expires it now, `null`
    makes it never expire."""
    changes = cast(users.VirtualKeyChanges, body.model_dump(exclude_unset=True))
    key = users.update_virtual_key(
        session, user_id=user_id, key_id=key_id, changes=changes, actor=actor
    )
    forget_user(gateway, user_id)
    return VirtualKeyPublic.of(key)
