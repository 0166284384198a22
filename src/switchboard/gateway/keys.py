"""Who is calling, and with which of their own provider keys: cached in memory.

A virtual key resolves to its user through a cache entry that lives `ttl_s` seconds. Unknown
keys are remembered as unknown for the same time, so a client hammering with a wrong key does
not hammer the database. When the database cannot be reached, an entry past its time keeps
serving (the gateway must not fail because of the database), and a key never seen before gets
KeyStoreUnavailableError (503), never a false 401. Look-ups of the same key at the same moment
share one database query.

A change does not wait for the TTL. The process that makes it drops the user's entries at
once (`user_changed`); every process expires all its entries when the database's
`credentials` change counter moves (`follow`, from the catalog poll). The counter says that
something changed, not what, so everything is read again: changes are rare admin actions, and
each key in use then costs one query, as it does every `ttl_s` anyway. An expired entry is
still the fallback while the database cannot be reached; a dropped one is not. Either way, a
look-up already under way when the change is made does not store what it read (it may have
read the database before the change), and requests already authenticated carry on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from switchboard._types import utcnow
from switchboard.errors import InvalidKeyError, KeyStoreUnavailableError, SecretDecryptionError
from switchboard.limits import NO_LIMITS, Allowance, allowance
from switchboard.models import TierLimit, User, UserAPIKey, VirtualKey
from switchboard.secrets import SecretManager, hash_virtual_key
from switchboard.vocabulary import BudgetPeriod, PowerLevel, Tier

log = logging.getLogger(__name__)

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    tier: Tier
    default_power_level: PowerLevel | None
    key_id: int
    expires_at: datetime | None
    user_limits: Allowance = NO_LIMITS
    """The user's own budget and limits (a tier's defaults apply where they set none)."""
    key_limits: Allowance = NO_LIMITS
    tier_limits: Allowance | None = None
    """The tier's limits as stored through the admin API; None: `TIER_LIMITS`'s."""


@dataclass(frozen=True, slots=True)
class ByokKey:
    key_id: int
    secret: str


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V | None
    fetched_at: float


MAX_ENTRIES = 50_000
"""The most entries a cache keeps (and as many expired ones): the least recently used goes
first."""
MAX_MISSES = 10_000
"""The most keys found to be nobody's a cache remembers, apart from the entries: a flood of
made-up keys costs bounded memory and pushes out no real key."""


class _TTLCache(Generic[V]):
    """Values by key, fresh for `ttl_s` or until `expire_all`; stale ones are served when
    the loader fails. Not thread-safe: call it on the event loop."""

    def __init__(
        self, ttl_s: float, clock: Callable[[], float], *, max_entries: int = MAX_ENTRIES
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Entry[V]] = OrderedDict()
        """Least recently used first."""
        self._misses: OrderedDict[str, _Entry[V]] = OrderedDict()
        """Keys whose look-up found nothing (None): not fallbacks, and bounded apart."""
        self._expired: OrderedDict[str, _Entry[V]] = OrderedDict()
        """What `expire_all` took out of `_entries`: fallbacks only. (Apart, so that a hit
        is one look-up in `_entries`, with no check of whether it was expired.)"""
        self._loading: dict[str, asyncio.Task[V | None]] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[V | None]]) -> V | None:
        entry = self._entries.get(key) or self._misses.get(key)
        if entry is not None and self._clock() - entry.fetched_at < self._ttl_s:
            if entry.value is not None:
                self._entries.move_to_end(key)
            return entry.value
        task = self._loading.get(key)
        if task is None:
            # A task of its own: a caller that goes away (its client hung up) neither cancels
            # the look-up nor leaves the others waiting for it.
            task = asyncio.get_running_loop().create_task(self._load(key, load))
            task.add_done_callback(_retrieved)
            self._loading[key] = task
        return await asyncio.shield(task)

    async def _load(self, key: str, load: Callable[[], Awaitable[V | None]]) -> V | None:
        this = asyncio.current_task()
        try:
            value = await load()
        except SQLAlchemyError as error:
            log.warning("key store unreachable: %s", error.__class__.__name__)
            fallback = self._entries.get(key) or self._expired.get(key)
            if fallback is not None:
                return fallback.value
            raise KeyStoreUnavailableError() from None
        finally:
            # Not ours any more when the key was forgotten or expired while it loaded.
            current = self._loading.get(key) is this
            if current:
                del self._loading[key]
        if current:
            self._expired.pop(key, None)
            entry = _Entry(value, self._clock())
            if value is None:
                self._entries.pop(key, None)
                _keep(self._misses, key, entry, MAX_MISSES)
            else:
                self._misses.pop(key, None)
                _keep(self._entries, key, entry, self._max_entries)
        return value

    def forget(self, key: str) -> None:
        """Drop the entry: not even an unreachable database brings it back."""
        self._entries.pop(key, None)
        self._misses.pop(key, None)
        self._expired.pop(key, None)
        self._loading.pop(key, None)

    def forget_matching(self, matches: Callable[[V], bool]) -> None:
        """Drop every entry whose value `matches` (a scan: for rare changes only)."""
        for entries in (self._entries, self._expired):
            for key, entry in list(entries.items()):
                if entry.value is not None and matches(entry.value):
                    self.forget(key)

    def expire_all(self) -> None:
        """Every entry is read again before it is trusted; until then it is only the
        fallback for when the database cannot be reached."""
        for key, entry in self._entries.items():
            _keep(self._expired, key, entry, self._max_entries)
        self._entries = OrderedDict()
        self._misses = OrderedDict()
        self._loading.clear()


def _keep(entries: OrderedDict[str, _Entry[V]], key: str, entry: _Entry[V], most: int) -> None:
    """Put `entry` last in `entries` (the newest), dropping the oldest beyond `most`."""
    entries.pop(key, None)
    entries[key] = entry
    while len(entries) > most:
        entries.popitem(last=False)


def _retrieved(task: asyncio.Task[object]) -> None:
    """A look-up's error is its callers' to raise; with none left, it is dropped here."""
    if not task.cancelled():
        task.exception()


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
        self._revision: int | None = None

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
        """The user's BYOK keys changed: read them again at their next use."""
        self._byok.forget(user_id)

    def user_changed(self, user_id: str) -> None:
        """The user, or one of their virtual keys, changed (revoked, deactivated, reactivated,
        another tier…): their entries are dropped, and every other entry is read again before
        it is trusted (a key refused until now, a reactivated user's, may be valid)."""
        self._principals.forget_matching(lambda principal: principal.user_id == user_id)
        self._byok.forget(user_id)
        self.expire_all()

    def expire_all(self) -> None:
        """Read every key again before trusting it (see the module's docstring)."""
        self._principals.expire_all()
        self._byok.expire_all()

    def follow(self, revision: int | None) -> None:
        """Expire every entry when `revision` (of the users and keys in the database: the
        `credentials` change counter) is not the one of the last call."""
        if revision != self._revision:
            self._revision = revision
            self.expire_all()

    def _load_principal(self, digest: str) -> Principal | None:
        with self._sessions() as session:
            row = session.execute(
                select(VirtualKey, User)
                .join(User, User.id == VirtualKey.user_id)
                .where(VirtualKey.key_hash == digest)
            ).first()
            tier_row = session.get(TierLimit, row[1].tier) if row is not None else None
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
            user_limits=user_allowance(user),
            key_limits=key_allowance(key),
            tier_limits=tier_allowance(tier_row),
        )

    def _load_byok(self, user_id: str) -> dict[int, ByokKey]:
        with self._sessions() as session:
            rows = session.scalars(
                select(UserAPIKey)
                .where(UserAPIKey.user_id == user_id, UserAPIKey.usable())
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


def user_allowance(user: User) -> Allowance:
    return allowance(user, budget_usd=user.monthly_budget_usd, budget_period=BudgetPeriod.MONTHLY)


def key_allowance(key: VirtualKey | TierLimit) -> Allowance:
    return allowance(key, budget_usd=key.budget_usd, budget_period=_period(key.budget_period))


def tier_allowance(row: TierLimit | None) -> Allowance | None:
    return key_allowance(row) if row is not None else None


def _period(value: str | None) -> BudgetPeriod:
    try:
        return BudgetPeriod(value or BudgetPeriod.MONTHLY)
    except ValueError:
        log.error("unknown budget period %r; monthly used", value)
        return BudgetPeriod.MONTHLY
