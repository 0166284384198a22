"""Throwaway PostgreSQL schemas, for the tests and the benchmarks alike; and migrated
databases copied from one migrated once per test process (`MigratedTemplates`)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text

from switchboard.db import create_db_engine, normalize_url, open_database, upgrade


@contextmanager
def postgres_schema(url: str, prefix: str) -> Iterator[str]:
    """A URL to a new, empty schema on the PostgreSQL server at `url` (dropped afterwards),
    reached through the connection's search_path."""
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(normalize_url(url))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _in_schema(url, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class MigratedTemplates:
    """Databases already at the newest revision, made in a millisecond (SQLite) or a tenth
    of a second (PostgreSQL) where the migrations take 0.2 s and 0.35 s: a SQLite file copied
    from one migrated once per test process; a new PostgreSQL schema given what migrating one
    schema (once per test process) wrote to the server: its statements, their names
    unqualified, run again in the new schema."""

    def __init__(self, directory: Path, postgres_url: str) -> None:
        self._directory = directory
        self._postgres_url = postgres_url
        self._sqlite: Path | None = None
        self._statements: list[tuple[str, Any]] | None = None
        self._admin: Engine | None = None

    def sqlite_copy(self, path: Path) -> None:
        """A migrated SQLite database at `path`."""
        if self._sqlite is None:
            template = self._directory / "template.db"
            open_database(f"sqlite:///{template}").kw["bind"].dispose()  # no WAL left behind
            self._sqlite = template
        shutil.copyfile(self._sqlite, path)

    @contextmanager
    def postgres_copy(self) -> Iterator[str]:
        """A URL to a new migrated PostgreSQL schema (dropped afterwards)."""
        if self._statements is None:
            with postgres_schema(self._postgres_url, "template") as url:
                self._statements = _migration_writes(url)
            self._admin = create_engine(normalize_url(self._postgres_url))
        assert self._admin is not None
        schema = f"test_{uuid.uuid4().hex[:16]}"
        with self._admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            connection.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
            for statement, parameters in self._statements:
                connection.exec_driver_sql(statement, parameters)
        try:
            yield _in_schema(self._postgres_url, schema)
        finally:
            with self._admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')

    def close(self) -> None:
        if self._admin is not None:
            self._admin.dispose()


def _migration_writes(url: str) -> list[tuple[str, Any]]:
    """What migrating the empty database at `url` wrote to it, statement by statement (the
    parameterless ones that follow each other joined into one)."""
    statements: list[tuple[str, Any]] = []

    def record(
        connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            return  # what a migration read of the empty database, not what it wrote
        if not parameters and statements and not statements[-1][1]:
            statements[-1] = (f"{statements[-1][0]};\n{statement}", None)
        else:
            statements.append((statement, parameters or None))

    engine = create_db_engine(url)
    event.listen(engine, "after_cursor_execute", record)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return statements


def _in_schema(url: str, schema: str) -> str:
    """`url`, its connections' search_path set to `schema`."""
    scoped = make_url(normalize_url(url)).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False)
