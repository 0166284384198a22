"""The `credentials` change counter on real SQLite and PostgreSQL: every change a key cache may
hold raises it, in the change's transaction, however close together two changes come; the
catalog poll reads it without reloading the catalog; and a key cache that follows it refuses
a revoked key, and takes back a reactivated user's, long before its TTL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from switchboard import change_counters
from switchboard._types import utcnow
from switchboard.errors import InvalidKeyError
from switchboard.gateway.catalog_state import CatalogState
from switchboard.gateway.keys import KeyCache
from switchboard.models import ChangeCounter, LLMProvider
from switchboard.secrets import SecretManager
from switchboard.services import byok, users
from switchboard.settings import Settings
from switchboard.vocabulary import Tier


def counter(sessions: sessionmaker[Session]) -> int | None:
    with sessions() as session:
        return session.scalar(
            select(ChangeCounter.value).where(ChangeCounter.name == change_counters.CREDENTIALS)
        )


def catalog_state(sessions: sessionmaker[Session], database_url: str) -> CatalogState:
    settings = Settings(_env_file=None, database_url=database_url)
    return CatalogState(sessions, settings, secrets=None)


def test_every_change_a_key_cache_may_hold_raises_the_counter(
    session_factory: sessionmaker[Session], clean_environment: str
) -> None:
    secrets = SecretManager.from_value(clean_environment)
    before = counter(session_factory)
    with session_factory() as session:
        provider = LLMProvider(
            provider_slug="own", provider_name="own", is_byok_supported=True, config={}
        )
        session.add(provider)
        session.commit()
        users.create_user(session, user_id="ada")
        key = users.issue_virtual_key(session, user_id="ada").record
        assert counter(session_factory) == before == 0, "new rows change no cache entry"

        changes = [
            lambda: users.update_user(session, user_id="ada", changes={"tier": Tier.STARTER}),
            lambda: users.update_user(session, user_id="ada", changes={"is_active": False}),
            lambda: users.update_user(session, user_id="ada", changes={"is_active": True}),
            lambda: users.revoke_virtual_key(session, key.id),
            lambda: users.update_virtual_key(
                session,
                user_id="ada",
                key_id=key.id,
                changes={"expires_at": utcnow() - timedelta(seconds=1)},
            ),
            lambda: byok.add_key(
                session,
                user_id="ada",
                api_key="sk-own-0123456789",
                key_name=None,
                secrets=secrets,
                check=lambda _target, _key: None,
                provider_id=provider.id,
            ),
            lambda: byok.update_key(
                session, user_id="ada", key_id=own_key_id(session), changes={"is_active": False}
            ),
            lambda: byok.delete_key(session, user_id="ada", key_id=own_key_id(session)),
        ]
        for raised, change in enumerate(changes, start=1):
            change()
            assert counter(session_factory) == raised

        users.revoke_virtual_key(session, key.id)  # revoked already: nothing changes
        users.update_user(session, user_id="ada", changes={"tier": Tier.STARTER})
        assert counter(session_factory) == len(changes)


def own_key_id(session: Session) -> int:
    [key] = byok.list_keys(session, user_id="ada")
    return key.id


def test_two_changes_between_polls_and_within_one_poll_each_move_the_revision(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    """However close together: a counter has no clock resolution to fall within."""
    with session_factory() as session:
        users.create_user(session, user_id="ada")
        first = users.issue_virtual_key(session, user_id="ada").record.id
        second = users.issue_virtual_key(session, user_id="ada").record.id
        third = users.issue_virtual_key(session, user_id="ada").record.id
    state = catalog_state(session_factory, database_url)
    state.load()
    seen = [state.credentials_revision]
    with session_factory() as session:
        for key_id in (first, second):
            users.revoke_virtual_key(session, key_id)
            assert state.refresh_if_changed() is False, "the catalog itself did not change"
            seen.append(state.credentials_revision)
        users.revoke_virtual_key(session, third)
        users.update_user(session, user_id="ada", changes={"is_active": False})
    state.refresh_if_changed()
    seen.append(state.credentials_revision)
    assert seen == [0, 1, 2, 4]


def test_a_missing_counter_row_is_made_by_the_next_change(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    with session_factory() as session:
        session.execute(delete(ChangeCounter))
        session.commit()
        users.create_user(session, user_id="ada")
        key_id = users.issue_virtual_key(session, user_id="ada").record.id
        state = catalog_state(session_factory, database_url)
        state.load()
        assert state.credentials_revision is None
        users.revoke_virtual_key(session, key_id)
    state.refresh_if_changed()
    assert state.credentials_revision == 1


def test_a_key_cache_following_the_counter_sees_changes_long_before_its_ttl(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    with session_factory() as session:
        users.create_user(session, user_id="ada")
        users.create_user(session, user_id="bob")
        ada = users.issue_virtual_key(session, user_id="ada")
        bob = users.issue_virtual_key(session, user_id="bob").key
    state = catalog_state(session_factory, database_url)
    state.load()
    keys = KeyCache(session_factory, None, ttl_s=3600)
    keys.follow(state.credentials_revision)

    def poll() -> None:
        state.refresh_if_changed()
        keys.follow(state.credentials_revision)

    async def accepts(token: str) -> bool:
        try:
            await keys.authenticate(token)
        except InvalidKeyError:
            return False
        return True

    async def test() -> None:
        assert await accepts(ada.key) and await accepts(bob)
        with session_factory() as session:
            users.revoke_virtual_key(session, ada.record.id)
            users.update_user(session, user_id="bob", changes={"is_active": False})
        assert await accepts(ada.key) and await accepts(bob), "cached for the TTL, unpolled"
        poll()
        assert not await accepts(ada.key) and not await accepts(bob)

        with session_factory() as session:
            users.update_user(session, user_id="bob", changes={"is_active": True})
        assert not await accepts(bob), "refused, and remembered as refused"
        poll()
        assert await accepts(bob), "valid again"

    asyncio.run(test())
