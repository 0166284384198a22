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
from typing import Any, Generic, TypedDict, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard import change_counters
from switchboard._types import utcnow
from switchboard.errors import NotFoundError
from switchboard.models import User, VirtualKey
from switchboard.secrets import hash_virtual_key
from switchboard.services.audit import record_change, snapshot_row
from switchboard.services.user_rules import check_user_fields
from switchboard.vocabulary import PowerLevel, Tier

VIRTUAL_KEY_PREFIX = "sk-sb-"
_DISPLAY_PREFIX_LENGTH = 12

SYSTEM_ACTOR = "system"
"""Who changed something when no person is named: the CLI, seeding, demos."""
USER_ENTITY = "user"
VIRTUAL_KEY_ENTITY = "virtual_key"

T = TypeVar("T")


class UserExistsError(ValueError):
    """A user with this id already exists."""


class UserInactiveError(ValueError):
    """The user is deactivated: no new keys for them."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, and how many rows the whole listing has."""

    items: Sequence[T]
    total: int


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
    actor: str = SYSTEM_ACTOR,
) -> User:
    """Add a user; UserExistsError (a ValueError) if the id is taken, UserFieldError (one too)
    for a field the admin API would refuse (`user_rules`). Commits."""
    check_user_fields(
        {
            "id": user_id,
            "display_name": display_name,
            "email": email,
            "monthly_budget_usd": monthly_budget_usd,
        }
    )
    if session.get(User, user_id) is not None:
        raise UserExistsError(f"user {user_id!r} already exists")
    user = User(
        id=user_id,
        tier=Tier(tier).value,
        display_name=display_name,
        email=email,
        monthly_budget_usd=monthly_budget_usd,
        default_power_level=PowerLevel(default_power_level).value if default_power_level else None,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # created by someone else since we looked
        session.rollback()
        raise UserExistsError(f"user {user_id!r} already exists") from None
    _audit(session, actor, "create", USER_ENTITY, user.id, None, user)
    session.commit()
    return user


def get_user(session: Session, *, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id!r} does not exist")
    return user


def list_users(
    session: Session,
    *,
    tier: Tier | None = None,
    is_active: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[User]:
    """Users in the order they were created, filtered by tier and by being active."""
    query = select(User)
    if tier is not None:
        query = query.where(User.tier == Tier(tier).value)
    if is_active is not None:
        query = query.where(User.is_active.is_(is_active))
    ordered = query.order_by(User.created_at.asc(), User.id.asc())
    return paginate(session, query, ordered, limit=limit, offset=offset)


def update_user(
    session: Session, *, user_id: str, changes: UserChanges, actor: str = SYSTEM_ACTOR
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
    if not _assign(user, values):
        return user
    session.flush()
    action = _user_action(before, values)
    _audit(session, actor, action, USER_ENTITY, user.id, before, user)
    change_counters.bump(session, change_counters.CREDENTIALS)
    session.commit()
    return user


def _user_action(before: dict[str, Any] | None, values: dict[str, Any]) -> str:
    was_active = bool(before and before.get("is_active"))
    if "is_active" in values and values["is_active"] != was_active:
        return "activate" if values["is_active"] else "deactivate"
    return "update"


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
    actor: str = SYSTEM_ACTOR,
) -> IssuedKey:
    """A new key for an existing, active user (UserInactiveError otherwise). Commits."""
    user = get_user(session, user_id=user_id)
    if not user.is_active:
        raise UserInactiveError(f"user {user_id!r} is deactivated")
    key = VIRTUAL_KEY_PREFIX + secrets.token_urlsafe(32)
    record = VirtualKey(
        user_id=user_id,
        name=name,
        key_hash=hash_virtual_key(key),
        key_prefix=key[:_DISPLAY_PREFIX_LENGTH],
        expires_at=expires_at,
    )
    session.add(record)
    session.flush()
    _audit(session, actor, "issue", VIRTUAL_KEY_ENTITY, record.id, None, record)
    session.commit()
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
    actor: str = SYSTEM_ACTOR,
) -> VirtualKey:
    """Revoke a key (of `user_id`, when given). Gateway processes stop accepting it within
    their catalog poll interval. Revoking twice changes nothing. Commits."""
    record = _virtual_key(session, key_id, user_id)
    if not record.is_revoked:
        before = snapshot_row(record)
        record.is_revoked = True
        record.revoked_at = utcnow()
        session.flush()
        _audit(session, actor, "revoke", VIRTUAL_KEY_ENTITY, record.id, before, record)
        change_counters.bump(session, change_counters.CREDENTIALS)
        session.commit()
    return record


def update_virtual_key(
    session: Session,
    *,
    user_id: str,
    key_id: int,
    changes: VirtualKeyChanges,
    actor: str = SYSTEM_ACTOR,
) -> VirtualKey:
    """Rename a key or set when it expires (None: never). Commits."""
    record = _virtual_key(session, key_id, user_id)
    before = snapshot_row(record)
    if not _assign(record, dict(changes)):
        return record
    session.flush()
    _audit(session, actor, "update", VIRTUAL_KEY_ENTITY, record.id, before, record)
    change_counters.bump(session, change_counters.CREDENTIALS)
    session.commit()
    return record


def _virtual_key(session: Session, key_id: int, user_id: str | None) -> VirtualKey:
    record = session.get(VirtualKey, key_id)
    if record is None or (user_id is not None and record.user_id != user_id):
        owner = f" of user {user_id!r}" if user_id is not None else ""
        raise NotFoundError(f"virtual key {key_id}{owner} does not exist")
    return record


# Shared ------------------------------------------------------------------------------------


def _assign(row: User | VirtualKey, values: dict[str, Any]) -> bool:
    """Set the attributes that differ; whether any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _audit(
    session: Session,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: object,
    before: dict[str, Any] | None,
    row: User | VirtualKey,
) -> None:
    record_change(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=snapshot_row(row),
    )


def paginate(
    session: Session,
    query: Select[T],
    ordered: Select[T],
    *,
    limit: int,
    offset: int,
) -> Page[T]:
    """A page of `ordered`; `query` is the same selection unordered, for the count."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(ordered.limit(limit).offset(offset)).all()
    return Page(items=items, total=total)
