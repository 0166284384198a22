"""Who is calling, and with which of their own provider keys: cached in memory.

A virtual key resolves to its user through a cache entry that lives `ttl_s` seconds, so a
revoked key stops working within that time. Unknown keys are remembered as unknown for the
same time, so a client hammering with a wrong key does not hammer the database. When the
database cannot be reached, an entry past its time keeps serving (the gateway must not fail
because of the database), and a key never seen before gets KeyStoreUnavailableError (503), never a
false 401. Look-ups of the same key at the same moment share one database query.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from switchboard._types import utcnow
from switchboard.errors import InvalidKeyError, KeyStoreUnavailableError, SecretDecryptionError
from switchboard.models import User, UserAPIKey, VirtualKey
from switchboard.secrets import SecretManager, hash_virtual_key
from switchboard.vocabulary import PowerLevel, Tier

log = logging.getLogger(__name__)

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    tier: Tier
    default_power_level: PowerLevel | None
    key_id: int
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class ByokKey:
    key_id: int
    secret: str


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V | None
    fetched_at: float


class _TTLCache(Generic[V]):
    """Values by key, fresh for `ttl_s`; stale ones are served when the loader fails."""

    def __init__(self, ttl_s: float, clock: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, _Entry[V]] = {}
        self._loading: dict[str, asyncio.Future[V | None]] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[V | None]]) -> V | None:
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.fetched_at < self._ttl_s:
            return entry.value
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except SQLAlchemyError as error:
            log.warning("key store unreachable: %s", error.__class__.__name__)
            if entry is not None:
                future.set_result(entry.value)
                return entry.value
            future.set_exception(KeyStoreUnavailableError())
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise KeyStoreUnavailableError() from None
        finally:
            self._loading.pop(key, None)
        self._entries[key] = _Entry(value, self._clock())
        future.set_result(value)
        return value

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)


class KeyCache:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        secrets: SecretManager | None,
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._principals: _TTLCache[Principal] = _TTLCache(ttl_s, clock)
        self._byok: _TTLCache[dict[int, ByokKey]] = _TTLCache(ttl_s, clock)

    async def authenticate(self, token: str) -> Principal:
        digest = hash_virtual_key(token)
        principal = await self._principals.get(
            digest, lambda: asyncio.to_thread(self._load_principal, digest)
        )
        if principal is None:
            raise InvalidKeyError()
        if principal.expires_at is not None and principal.expires_at <= utcnow():
            raise InvalidKeyError()
        return principal

    async def byok_keys(self, user_id: str) -> dict[int, ByokKey]:
        """Provider id → the user's active, validated, decryptable key for it."""
        keys = await self._byok.get(user_id, lambda: asyncio.to_thread(self._load_byok, user_id))
        return keys or {}

    def forget_user(self, user_id: str) -> None:
        self._byok.forget(user_id)

    def _load_principal(self, digest: str) -> Principal | None:
        with self._sessions() as session:
            row = session.execute(
                select(VirtualKey, User)
                .join(User, User.id == VirtualKey.user_id)
                .where(VirtualKey.key_hash == digest)
            ).first()
        if row is None:
            return None
        key, user = row
        if key.is_revoked or not user.is_active:
            return None
        try:
            tier = Tier(user.tier)
            default = PowerLevel(user.default_power_level) if user.default_power_level else None
        except ValueError:
            log.error("user %s has an unknown tier or power level; key refused", user.id)
            return None
        return Principal(
            user_id=user.id,
            tier=tier,
            default_power_level=default,
            key_id=key.id,
            expires_at=key.expires_at,
        )

    def _load_byok(self, user_id: str) -> dict[int, ByokKey]:
        with self._sessions() as session:
            rows = session.scalars(
                select(UserAPIKey)
                .where(
                    UserAPIKey.user_id == user_id,
                    UserAPIKey.is_active.is_(True),
                    UserAPIKey.is_validated.is_(True),
                )
                .order_by(UserAPIKey.last_validated_at.asc(), UserAPIKey.id.asc())
            ).all()
        keys: dict[int, ByokKey] = {}
        for row in rows:  # the newest validated key of a provider wins
            if self._secrets is None:
                log.error("user %s has BYOK keys but ENCRYPTION_KEY is not set", user_id)
                break
            try:
                keys[row.provider_id] = ByokKey(
                    row.id, self._secrets.decrypt_secret(row.encrypted_api_key)
                )
            except SecretDecryptionError:
                log.error("BYOK key %d of user %s cannot be decrypted; skipped", row.id, user_id)
        return keys
