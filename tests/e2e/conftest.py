"""End-to-end fixtures: a database per module, and the stage its world is built on: a fake
upstream and real gateway processes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from switchboard.db import open_database
from tests.conftest import POSTGRES_URL
from tests.databases import postgres_schema
from tests.e2e.stage import Stage, staged


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def e2e_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database for a whole module (a gateway process takes a second to start)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'switchboard.db'}"
        return
    with postgres_schema(POSTGRES_URL, "e2e") as url:
        yield url


@pytest.fixture(scope="module")
def e2e_sessions(e2e_database_url: str) -> Iterator[sessionmaker[Session]]:
    factory = open_database(e2e_database_url)
    yield factory
    factory.kw["bind"].dispose()


@pytest.fixture(scope="module")
def encryption_key() -> str:
    return os.environ.get("E2E_ENCRYPTION_KEY") or Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def stage(
    e2e_database_url: str,
    e2e_sessions: sessionmaker[Session],
    encryption_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stage]:
    """The module's database and encryption key, and a fake upstream running for the module."""
    workdir = tmp_path_factory.mktemp("world")
    with staged(e2e_database_url, e2e_sessions, encryption_key, workdir) as module_stage:
        yield module_stage
