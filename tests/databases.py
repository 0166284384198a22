"""Throwaway PostgreSQL schemas, for the tests and the benchmarks alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text

from switchboard.db import normalize_url


@contextmanager
def postgres_schema(url: str, prefix: str) -> Iterator[str]:
    """A URL to a new, empty schema on the PostgreSQL server at `url` (dropped afterwards),
    reached through the connection's search_path."""
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(normalize_url(url))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = make_url(normalize_url(url)).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
