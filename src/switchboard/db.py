"""Opening the database and bringing its schema up to date (Alembic, in `migrations/`).

Alembic is imported only when it is needed: `migrate_to_head` first compares the database's
version table with `SCHEMA_REVISION`, and skips Alembic (its import and its environment cost
about 0.15 s of every `switchboard serve` start) when they match, as they nearly always do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from switchboard.settings import DEFAULT_DATABASE_URL

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"

SCHEMA_REVISION = "0013"
"""The newest migration in `migrations/versions/` (a test checks it against Alembic's head):
`switchboard serve` compares the database with it at every start without importing Alembic."""


def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3, the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_db_engine(url: str | None = None) -> Engine:
    """An engine for `url` (default: DATABASE_URL, else the local SQLite file)."""
    url = normalize_url(url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # A small statement cache: the default keeps 128 prepared statements per connection,
        # and statements whose text varies (a multi-row insert per batch size, an IN list per
        # length) once grew the gateway's memory by ~2.5 KB for every usage row written. The
        # usage writer's statements no longer vary; the cap stays, as a bound.
        engine = create_engine(url, connect_args={"timeout": 30, "cached_statements": 16})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = alembic_config_for_scripts()
    config.attributes["engine"] = engine
    return config


def migrate_to_head(engine: Engine) -> None:
    """Bring the schema to the newest revision, unless it is there already."""
    if not is_at_head(engine):
        upgrade(engine)


def is_at_head(engine: Engine) -> bool:
    """Whether the database's version table names `SCHEMA_REVISION`, and only it. Anything
    else (no version table, an older or unknown revision) answers False: Alembic decides."""
    try:
        with engine.connect() as connection:
            current = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
            return list(current.scalars()) == [SCHEMA_REVISION]
    except SQLAlchemyError:
        return False


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def head_revision() -> str:
    """The newest revision of the migration history."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config_for_scripts()).get_current_head()
    assert head is not None, "the migration history is empty"
    return head


def alembic_config_for_scripts() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def open_database(url: str | None = None, *, migrate: bool = True) -> sessionmaker[Session]:
    """A session factory for `url`; with `migrate`, the schema is first brought to the newest
    revision. `url` defaults to DATABASE_URL, else `sqlite:///./data/switchboard.db`."""
    engine = create_db_engine(url)
    if migrate:
        migrate_to_head(engine)
    return sessionmaker(bind=engine, expire_on_commit=False)
