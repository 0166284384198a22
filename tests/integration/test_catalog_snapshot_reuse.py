"""The gateway's catalog snapshot offered to readers that need the catalog as stored (the
routing matrix): only while what is stored is what it was loaded from."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from switchboard.gateway.catalog_state import CatalogState
from switchboard.models import LLMProvider
from switchboard.settings import Settings


def test_the_snapshot_is_offered_only_while_the_stored_catalog_is_unchanged(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    state = CatalogState(
        session_factory, Settings(_env_file=None, database_url=database_url), secrets=None
    )
    loaded = state.load().snapshot
    with session_factory() as session:
        assert state.unchanged_snapshot(session) is loaded
        session.add(LLMProvider(provider_slug="new", provider_name="new", config={}))
        session.commit()
        assert state.unchanged_snapshot(session) is None, "a change not yet polled"
    state.refresh_if_changed()
    with session_factory() as session:
        assert state.unchanged_snapshot(session) is state.current.snapshot is not loaded
