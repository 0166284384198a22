"""`migrate_to_head`, what `switchboard serve` runs at every start: a fresh or an old database
is migrated by Alembic, and one already at the newest revision is left alone without it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from switchboard.db import (
    SCHEMA_REVISION,
    create_db_engine,
    current_revision,
    downgrade,
    head_revision,
    is_at_head,
    migrate_to_head,
)


def test_the_schema_revision_is_the_newest_migration() -> None:
    """A new migration must move `SCHEMA_REVISION` with it, or serve would not apply it."""
    assert head_revision() == SCHEMA_REVISION


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database."""
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def test_a_fresh_database_is_migrated(engine: Engine) -> None:
    assert not is_at_head(engine)
    migrate_to_head(engine)
    assert current_revision(engine) == head_revision()
    assert is_at_head(engine)


def test_an_old_database_is_migrated(engine: Engine) -> None:
    migrate_to_head(engine)
    downgrade(engine, "-1")
    assert not is_at_head(engine)
    migrate_to_head(engine)
    assert current_revision(engine) == head_revision()


def test_a_revision_from_elsewhere_is_not_taken_for_the_head(engine: Engine) -> None:
    migrate_to_head(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'elsewhere'"))
    assert not is_at_head(engine)


def test_a_current_database_is_checked_without_importing_alembic(
    engine: Engine, database_url: str
) -> None:
    migrate_to_head(engine)
    engine.dispose()  # the check below opens the database in a process of its own
    check = (
        "import sys\n"
        "from switchboard.db import create_db_engine, migrate_to_head\n"
        f"migrate_to_head(create_db_engine({database_url!r}))\n"
        "assert 'alembic' not in sys.modules, 'alembic was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
