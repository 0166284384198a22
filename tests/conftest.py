"""Shared fixtures: a real database per test (SQLite file, or a fresh PostgreSQL schema)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from switchboard.db import open_database
from tests.databases import MigratedTemplates, postgres_schema

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """No developer `.env`, no real provider keys; a fresh ENCRYPTION_KEY for each test."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name in {"DATABASE_URL", "ADMIN_TOKEN"}:
            monkeypatch.delenv(name)
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEY", key)
    return key


MIGRATING = frozenset({"session_factory", "app_settings"})
"""Fixtures that migrate the test's database first: its tests get one already migrated."""


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(tmp_path_factory.mktemp("templates"), POSTGRES_URL)
    yield templates
    templates.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: MigratedTemplates
) -> Iterator[str]:
    """A URL to a database of each kind: a SQLite file, or a new PostgreSQL schema, empty; or
    already migrated (a copy of a migrated template) when a fixture of the test migrates it."""
    migrated = not MIGRATING.isdisjoint(request.fixturenames)
    if request.param == "sqlite":
        path = tmp_path / "switchboard.db"
        if migrated:
            migrated_templates.sqlite_copy(path)
        yield f"sqlite:///{path}"
        return
    with (
        migrated_templates.postgres_copy() if migrated else postgres_schema(POSTGRES_URL, "test")
    ) as url:
        yield url


@pytest.fixture
def session_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    factory = open_database(database_url)
    yield factory
    bind = factory.kw["bind"]
    bind.dispose()


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session
