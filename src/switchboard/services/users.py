"""Users and their virtual keys (`sk-sb-…`): creating, issuing, looking up, revoking."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.errors import NotFoundError
from switchboard.models import User, VirtualKey
from switchboard.secrets import hash_virtual_key
from switchboard.vocabulary import PowerLevel, Tier

VIRTUAL_KEY_PREFIX = "sk-sb-"
_DISPLAY_PREFIX_LENGTH = 12


def create_user(
    session: Session,
    *,
    user_id: str,
    tier: Tier = Tier.FREE,
    display_name: str | None = None,
    email: str | None = None,
    monthly_budget_usd: Decimal | None = None,
    default_power_level: PowerLevel | None = None,
) -> User:
    """Add a user; ValueError if the id is taken. Commits."""
    if not user_id.strip():
        raise ValueError("user id must not be empty")
    if session.get(User, user_id) is not None:
        raise ValueError(f"user {user_id!r} already exists")
    user = User(
        id=user_id,
        tier=Tier(tier),
        display_name=display_name,
        email=email,
        monthly_budget_usd=monthly_budget_usd,
        default_power_level=PowerLevel(default_power_level) if default_power_level else None,
    )
    session.add(user)
    session.commit()
    return user


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
) -> IssuedKey:
    """A new key for an existing, active user. Commits."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id!r} does not exist")
    if not user.is_active:
        raise ValueError(f"user {user_id!r} is deactivated")
    key = VIRTUAL_KEY_PREFIX + secrets.token_urlsafe(32)
    record = VirtualKey(
        user_id=user_id,
        name=name,
        key_hash=hash_virtual_key(key),
        key_prefix=key[:_DISPLAY_PREFIX_LENGTH],
        expires_at=expires_at,
    )
    session.add(record)
    session.commit()
    return IssuedKey(key=key, record=record)


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


def revoke_virtual_key(session: Session, key_id: int) -> VirtualKey:
    record = session.get(VirtualKey, key_id)
    if record is None:
        raise NotFoundError(f"virtual key {key_id} does not exist")
    if not record.is_revoked:
        record.is_revoked = True
        record.revoked_at = utcnow()
        session.commit()
    return record
