"""Users and their virtual keys (`sk-sb-…`): creating, changing, issuing, looking up, revoking.

Every change is written to the audit log in the same transaction as the change itself, with
the row before and after (a virtual key's hash is masked by `snapshot_row`). A change that a
gateway's key cache may hold (a user's tier or state, a key revoked or expiring) also raises
the `credentials` change counter: every gateway process then reads its cached keys again
within its catalog poll interval (`CATALOG_POLL_INTERVAL_S`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.change_counters import CREDENTIALS
from switchboard.errors import ConflictError
from switchboard.models import User, VirtualKey
from switchboard.secrets import hash_virtual_key
from switchboard.services import rows
from switchboard.services.audit import Action, Actor, Entity, snapshot_row, update_action
from switchboard.services.paging import FIRST_PAGE, Page, Window, containing, page_of, rows_where
from switchboard.services.user_rules import check_user_fields
from switchboard.vocabulary import PowerLevel, Tier

VIRTUAL_KEY_PREFIX = "sk-sb-"
_DISPLAY_PREFIX_LENGTH = 12


class UserChanges(TypedDict, total=False):
    """What `update_user` may change; a key that is present is applied (None clears)."""

    tier: Tier
    display_name: str | None
    email: str | None
    monthly_budget_usd: Decimal | None
    default_power_level: PowerLevel | None
    is_active: bool


class VirtualKeyChanges(TypedDict, total=False):
    """What `update_virtual_key` may change. An `expires_at` in the past expires the key."""

    name: str | None
    expires_at: datetime | None


# Users -----------------------------------------------------------------------------------


def create_user(
    session: Session,
    *,
    user_id: str,
    tier: Tier = Tier.FREE,
    display_name: str | None = None,
    email: str | None = None,
    monthly_budget_usd: Decimal | None = None,
    default_power_level: PowerLevel | None = None,
    actor: str = Actor.SYSTEM,
) -> User:
    """Add a user; ConflictError if the id is taken, InvalidFieldError for a field the admin
    API would refuse (`user_rules`). Commits."""
    check_user_fields(
        {
            "id": user_id,
            "display_name": display_name,
            "email": email,
            "monthly_budget_usd": monthly_budget_usd,
        }
    )
    taken = f"user {user_id!r} already exists"
    if session.get(User, user_id) is not None:
        raise ConflictError(taken)
    user = User(
        id=user_id,
        tier=Tier(tier).value,
        display_name=display_name,
        email=email,
        monthly_budget_usd=monthly_budget_usd,
        default_power_level=PowerLevel(default_power_level).value if default_power_level else None,
    )
    session.add(user)
    # A conflict now: created by someone else since we looked.
    rows.commit_change(
        session, rows.Change(actor, Action.CREATE, Entity.USER), user, None, conflict=taken
    )
    return user


def get_user(session: Session, *, user_id: str) -> User:
    return rows.get_row(session, User, user_id, f"user {user_id!r}")


def list_users(
    session: Session,
    *,
    tier: Tier | None = None,
    is_active: bool | None = None,
    window: Window = FIRST_PAGE,
    search: str | None = None,
) -> Page[User]:
    """Users in the order they were created, filtered by tier and by being active; `search`:
    only those whose id, name or email contains it (ignoring case)."""
    query = rows_where(User, {"tier": Tier(tier).value if tier else None, "is_active": is_active})
    if search:
        query = query.where(containing(search, User.id, User.display_name, User.email))
    return page_of(session, query, User.created_at.asc(), User.id.asc(), window=window)


def update_user(
    session: Session, *, user_id: str, changes: UserChanges, actor: str = Actor.SYSTEM
) -> User:
    """Apply `changes` (tier, budget, default power level, deactivate…). Commits."""
    check_user_fields(changes)
    user = get_user(session, user_id=user_id)
    before = snapshot_row(user)
    values: dict[str, Any] = dict(changes)
    if "tier" in values:
        values["tier"] = Tier(values["tier"]).value
    if values.get("default_power_level") is not None:
        values["default_power_level"] = PowerLevel(values["default_power_level"]).value
    if rows.apply_changes(user, values):
        change = rows.Change(actor, update_action(before, user), Entity.USER, CREDENTIALS)
        rows.commit_change(session, change, user, before)
    return user


# Virtual keys ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new virtual key. `key` exists only here: it is shown once and never stored."""

    key: str
    record: VirtualKey


def issue_virtual_key(
    session: Session,
    *,
    user_id: str,
    name: str | None = None,
    expires_at: datetime | None = None,
    actor: str = Actor.SYSTEM,
) -> IssuedKey:
    """A new key for an existing, active user (ConflictError otherwise). Commits."""
    user = get_user(session, user_id=user_id)
    if not user.is_active:
        raise ConflictError(f"user {user_id!r} is deactivated")
    key = VIRTUAL_KEY_PREFIX + secrets.token_urlsafe(32)
    record = VirtualKey(
        user_id=user_id,
        name=name,
        key_hash=hash_virtual_key(key),
        key_prefix=key[:_DISPLAY_PREFIX_LENGTH],
        expires_at=expires_at,
    )
    session.add(record)
    rows.commit_change(session, rows.Change(actor, Action.ISSUE, Entity.VIRTUAL_KEY), record, None)
    return IssuedKey(key=key, record=record)


def list_virtual_keys(session: Session, *, user_id: str) -> Sequence[VirtualKey]:
    """A user's keys, oldest first (revoked and expired ones too)."""
    get_user(session, user_id=user_id)
    return session.scalars(
        select(VirtualKey)
        .where(VirtualKey.user_id == user_id)
        .order_by(VirtualKey.created_at.asc(), VirtualKey.id.asc())
    ).all()


def find_valid_key(session: Session, key: str, *, now: datetime | None = None) -> VirtualKey | None:
    """The key's record if it exists, is not revoked or expired, and its user is active."""
    record = session.scalars(
        select(VirtualKey).where(VirtualKey.key_hash == hash_virtual_key(key))
    ).first()
    if record is None or record.is_revoked or not record.user.is_active:
        return None
    if record.expires_at is not None and record.expires_at <= (now or utcnow()):
        return None
    return record


def revoke_virtual_key(
    session: Session,
    key_id: int,
    *,
    user_id: str | None = None,
    actor: str = Actor.SYSTEM,
) -> VirtualKey:
    """Revoke a key (of `user_id`, when given). Gateway processes stop accepting it within
    their catalog poll interval. Revoking twice changes nothing. Commits."""
    record = _virtual_key(session, key_id, user_id)
    if not record.is_revoked:
        before = snapshot_row(record)
        record.is_revoked = True
        record.revoked_at = utcnow()
        change = rows.Change(actor, Action.REVOKE, Entity.VIRTUAL_KEY, CREDENTIALS)
        rows.commit_change(session, change, record, before)
    return record


def update_virtual_key(
    session: Session,
    *,
    user_id: str,
    key_id: int,
    changes: VirtualKeyChanges,
    actor: str = Actor.SYSTEM,
) -> VirtualKey:
    """Rename a key or set when it expires (None: never). Commits."""
    record = _virtual_key(session, key_id, user_id)
    before = snapshot_row(record)
    if rows.apply_changes(record, changes):
        change = rows.Change(actor, Action.UPDATE, Entity.VIRTUAL_KEY, CREDENTIALS)
        rows.commit_change(session, change, record, before)
    return record


def _virtual_key(session: Session, key_id: int, user_id: str | None) -> VirtualKey:
    if user_id is None:
        return rows.get_row(session, VirtualKey, key_id, f"virtual key {key_id}")
    what = f"virtual key {key_id} of user {user_id!r}"
    return rows.get_row(session, VirtualKey, key_id, what, user_id=user_id)
