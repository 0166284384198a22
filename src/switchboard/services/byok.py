"""A user's own provider keys (BYOK): adding, validating, renaming, deactivating, deleting.

A key is checked against its provider's `api_key_format` (a glob such as `sk-*`), then
validated with a call the provider does not bill (listing its models). The call itself is
passed in as a `KeyChecker`, so this module stays free of HTTP. Keys are stored encrypted;
only what `mask_secret` shows (at most a third of the key) is kept in clear, for recognising
them, and no more than a third is ever shown (`shown_parts`). Every function is scoped to one
user: another user's key is "not found", never "forbidden".

The gateway caches each user's keys for a few seconds; the caller drops that cache entry
after any change here, so routing in its process sees the change at once, and every change
raises the `credentials` change counter, so other gateway processes see it within their
catalog poll interval.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from switchboard._types import utcnow
from switchboard.change_counters import CREDENTIALS
from switchboard.errors import (
    ConflictError,
    InvalidFieldError,
    NotFoundError,
    SecretDecryptionError,
)
from switchboard.models import LLMProvider, UserAPIKey
from switchboard.redaction import MASK, mask_secret, scrub
from switchboard.secrets import SecretManager
from switchboard.services import rows
from switchboard.services.audit import Action, Entity, snapshot_row, update_action, user_actor

_MAX_REASON_LENGTH = 500
_MASK_SHAPES = frozenset(
    (len(head), len(tail))
    for head, _, tail in (mask_secret("x" * length).partition(MASK) for length in range(64))
)
"""The (prefix, suffix) lengths `mask_secret` leaves: (0, 0), (2, 2), (3, 2) … (6, 4)."""


@dataclass(frozen=True, slots=True)
class KeyCheckTarget:
    """The provider a key is checked against: what a non-billed call to it needs."""

    provider_slug: str
    base_url: str | None
    api_format: str | None
    auth_type: str
    config: Mapping[str, Any] = field(default_factory=dict)


KeyChecker = Callable[[KeyCheckTarget, str], str | None]
"""Calls the provider with the key: None when the key works, else why it does not."""


class KeyChanges(TypedDict, total=False):
    key_name: str | None
    is_active: bool


def add_key(
    session: Session,
    *,
    user_id: str,
    api_key: str,
    key_name: str | None,
    secrets: SecretManager,
    check: KeyChecker,
    provider_id: int | None = None,
    provider_slug: str | None = None,
) -> UserAPIKey:
    """Store a user's key for a provider that supports BYOK, validated or not (with the
    reason). NotFoundError for an unknown provider; InvalidFieldError for one that takes no
    own keys or a key not in its format. Commits."""
    provider = _provider(session, provider_id=provider_id, provider_slug=provider_slug)
    pattern = provider.api_key_format
    if pattern and not fnmatch.fnmatchcase(api_key, pattern):
        raise InvalidFieldError(
            "api_key",
            f"the key does not look like a key for {provider.provider_slug} "
            f"(expected the format {pattern!r})",
        )
    row = UserAPIKey(
        user_id=user_id,
        provider_id=provider.id,
        key_name=key_name,
        encrypted_api_key=secrets.encrypt_secret(api_key, "byok")["encrypted_value"],
        is_active=True,
    )
    _keep_mask(row, api_key)
    row.provider = provider
    _apply_check(session, row, provider, api_key, check)
    session.add(row)
    rows.commit_change(session, _change(user_id, Action.CREATE), row, None, snapshot=audit_snapshot)
    return row


def list_keys(session: Session, *, user_id: str) -> Sequence[UserAPIKey]:
    """The user's keys, oldest first."""
    return session.scalars(
        select(UserAPIKey)
        .where(UserAPIKey.user_id == user_id)
        .options(selectinload(UserAPIKey.provider))
        .order_by(UserAPIKey.created_at.asc(), UserAPIKey.id.asc())
    ).all()


def get_key(session: Session, *, user_id: str, key_id: int) -> UserAPIKey:
    """The user's key `key_id`; NotFoundError if it is not theirs (or does not exist)."""
    return rows.get_row(session, UserAPIKey, key_id, f"key {key_id}", user_id=user_id)


def revalidate_key(
    session: Session,
    *,
    user_id: str,
    key_id: int,
    secrets: SecretManager,
    check: KeyChecker,
) -> UserAPIKey:
    """Call the provider with the stored key again and record the outcome; ConflictError when
    the gateway's keys cannot decrypt it. Commits."""
    row = get_key(session, user_id=user_id, key_id=key_id)
    before = audit_snapshot(row)
    try:
        secret = secrets.decrypt_secret(row.encrypted_api_key)
    except SecretDecryptionError:
        raise ConflictError(
            "The stored key cannot be decrypted with the gateway's ENCRYPTION_KEY; add it again."
        ) from None
    _apply_check(session, row, row.provider, secret, check)
    _keep_mask(row, secret)  # a row stored with more of the key in clear keeps only its mask
    rows.commit_change(
        session, _change(user_id, Action.VALIDATE), row, before, snapshot=audit_snapshot
    )
    return row


def update_key(session: Session, *, user_id: str, key_id: int, changes: KeyChanges) -> UserAPIKey:
    """Rename, deactivate or reactivate a key. Commits."""
    row = get_key(session, user_id=user_id, key_id=key_id)
    before = audit_snapshot(row)
    if rows.apply_changes(row, changes):
        change = _change(user_id, update_action(before, row))
        rows.commit_change(session, change, row, before, snapshot=audit_snapshot)
    return row


def delete_key(session: Session, *, user_id: str, key_id: int) -> None:
    """Remove a key for good. Commits."""
    change = _change(user_id, Action.DELETE)
    rows.delete_row(
        session, change, get_key(session, user_id=user_id, key_id=key_id), snapshot=audit_snapshot
    )
    rows.commit(session, change)


def masked(row: UserAPIKey) -> str:
    """`sk-pro…wxyz`: how a stored key is shown (`shown_parts`)."""
    head, tail = shown_parts(row.key_prefix, row.key_suffix)
    return f"{head}{MASK}{tail}"


def shown_parts(prefix: str | None, suffix: str | None) -> tuple[str, str]:
    """The part of a key's stored prefix and suffix that may be shown: never more than a
    third of the key.

    Keys are stored with the characters `mask_secret` shows, which are at most a third of the
    key: shown as they are. Rows written before (and by the spec's example code) keep the first
    8 and last 4 characters whatever the key's length (all of a 12-character key) and do not
    say how long the key is: they are shown as `mask_secret` would show the shortest key those
    characters could come from (12 characters, or fewer when the prefix and suffix overlap),
    so `sk-user-…1234` is shown as `sk…34`."""
    head, tail = prefix or "", suffix or ""
    if (len(head), len(tail)) in _MASK_SHAPES and not head.endswith(tail):
        return head, tail
    shown = min(_shortest_key(head, tail) // 3, 10)
    if shown < 4:
        return "", ""
    tail_length = min(4, shown // 2, len(tail))
    return head[: shown - tail_length], tail[len(tail) - tail_length :]


def _shortest_key(prefix: str, suffix: str) -> int:
    """The length of the shortest text that starts with `prefix` and ends with `suffix`."""
    for length in range(max(len(prefix), len(suffix)), len(prefix) + len(suffix)):
        overlap = len(prefix) + len(suffix) - length
        if prefix.endswith(suffix[:overlap]):
            return length
    return len(prefix) + len(suffix)


def _provider(
    session: Session, *, provider_id: int | None, provider_slug: str | None
) -> LLMProvider:
    if provider_id is not None:
        provider = session.get(LLMProvider, provider_id)
        name, what = "provider_id", f"id {provider_id}"
    elif provider_slug is not None:
        provider = session.scalars(
            select(LLMProvider).where(LLMProvider.provider_slug == provider_slug)
        ).first()
        name, what = "provider_slug", f"slug {provider_slug!r}"
    else:
        raise InvalidFieldError("provider_id", "give provider_id or provider_slug")
    if provider is None:
        raise NotFoundError(f"no provider has the {what}")
    slug = provider.provider_slug
    if not provider.is_byok_supported:
        raise InvalidFieldError(name, f"provider {slug!r} does not accept own keys")
    if not provider.is_active:
        raise InvalidFieldError(name, f"provider {slug!r} is not active")
    return provider


def _apply_check(
    session: Session, row: UserAPIKey, provider: LLMProvider, api_key: str, check: KeyChecker
) -> None:
    # End the transaction first: no connection is held while the provider answers (up to
    # ~10 s). Nothing is pending; `row` is added (or changed) only after the check.
    session.commit()
    target = KeyCheckTarget(
        provider_slug=provider.provider_slug,
        base_url=provider.base_url,
        api_format=provider.api_format,
        auth_type=provider.auth_type,
        config=dict(provider.config or {}),
    )
    reason = check(target, api_key)
    row.is_validated = reason is None
    row.validation_error = None if reason is None else _scrubbed(reason, api_key)
    row.last_validated_at = utcnow()


def _scrubbed(reason: str, api_key: str) -> str:
    """The reason without the key: providers echo the key they refused, in whole or in part."""
    text = scrub(reason, (api_key,))
    return text[:_MAX_REASON_LENGTH] or "the provider refused the key"


def _change(user_id: str, action: Action) -> rows.Change:
    return rows.Change(user_actor(user_id), action, Entity.BYOK_KEY, CREDENTIALS)


def audit_snapshot(row: UserAPIKey | None) -> dict[str, Any] | None:
    """The row for the audit log, its prefix and suffix cut to what may be shown (`shown_parts`):
    whoever deletes or changes a user's key records it so."""
    values = snapshot_row(row)
    if values is not None:
        values["key_prefix"], values["key_suffix"] = shown_parts(
            values["key_prefix"], values["key_suffix"]
        )
    return values


def _keep_mask(row: UserAPIKey, api_key: str) -> None:
    row.key_prefix, _, row.key_suffix = mask_secret(api_key).partition(MASK)
