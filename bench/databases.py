"""Throwaway databases for the benchmarks: a SQLite file in a temporary directory, or a
PostgreSQL schema of its own (reached through the connection's search_path), dropped after."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from switchboard.db import normalize_url


@contextmanager
def sqlite_database(prefix: str = "bench-") -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        yield f"sqlite:///{Path(directory) / 'bench.db'}"


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A new schema, reached through the connection's search_path, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:16]}"
    admin = create_engine(normalize_url(url))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = make_url(normalize_url(url))
        scoped = scoped.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
