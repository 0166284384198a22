"""Throwaway databases for the benchmarks: a SQLite file in a temporary directory, or a
PostgreSQL schema of its own (the tests' `postgres_schema`); and the `--postgres` and `--keep`
options. A kept schema (`kept_postgres_schema`) outlives the run, so that the next run with
the same sizes skips loading millions of rows."""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text
from tests.databases import postgres_schema as _postgres_schema

from switchboard.db import normalize_url

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
KEPT_PREFIX = "bench_kept_"
_META = "bench_kept_meta"
_NAME = re.compile(r"[a-z0-9_]{1,40}")


@contextmanager
def sqlite_database(prefix: str = "bench-") -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        yield f"sqlite:///{Path(directory) / 'bench.db'}"


def postgres_schema(url: str) -> AbstractContextManager[str]:
    """A new schema on the server at `url`, reached through the search_path, dropped after."""
    return _postgres_schema(url, "bench")


@dataclass(frozen=True, slots=True)
class KeptSchema:
    """A schema kept between runs: its URL, and what the run that loaded it recorded (None
    when it is new or was loaded with other sizes: load it, then `remember` what it holds)."""

    url: str
    recorded: dict[str, Any] | None
    _server: str
    _schema: str

    def remember(self, figures: dict[str, Any]) -> None:
        """Record that the schema is loaded, with `figures` (JSON: the sizes, the load's
        time and figures), for the next run to find."""
        engine = create_engine(self._server)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(f'CREATE TABLE IF NOT EXISTS "{self._schema}".{_META} (figures TEXT)')
                )
                connection.execute(text(f'DELETE FROM "{self._schema}".{_META}'))
                connection.execute(
                    text(f'INSERT INTO "{self._schema}".{_META} VALUES (:figures)'),
                    {"figures": json.dumps(figures)},
                )
        finally:
            engine.dispose()


def kept_postgres_schema(url: str, name: str, sizes: dict[str, Any]) -> KeptSchema:
    """The schema `bench_kept_<name>` on the server at `url`. When a run recorded it loaded
    with the same `sizes`, it is reused as it is (the caller brings it to the newest
    migration); otherwise it is dropped and made again, empty."""
    if not _NAME.fullmatch(name):
        raise SystemExit(f"--keep {name!r}: use 1-40 lower-case letters, digits or _")
    server = normalize_url(url)
    schema = KEPT_PREFIX + name
    engine = create_engine(server)
    recorded: dict[str, Any] | None = None
    try:
        with engine.begin() as connection:
            found = connection.execute(
                text(
                    "SELECT 1 FROM information_schema.tables"
                    " WHERE table_schema = :s AND table_name = :t"
                ),
                {"s": schema, "t": _META},
            ).first()
            if found:
                stored = connection.execute(text(f'SELECT figures FROM "{schema}".{_META}')).first()
                figures = json.loads(stored[0]) if stored else None
                if figures and figures.get("sizes") == sizes:
                    recorded = figures
            if recorded is None:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()
    scoped = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    return KeptSchema(scoped.render_as_string(hide_password=False), recorded, server, schema)


def add_postgres_option(parser: argparse.ArgumentParser, does: str) -> None:
    """`--postgres [URL]`: also `does` on a fresh PostgreSQL schema (or BENCH_DATABASE_URL)."""
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=DEFAULT_POSTGRES,
        default=os.environ.get("BENCH_DATABASE_URL"),
        metavar="URL",
        help=f"also {does} a fresh PostgreSQL schema (URL default: {DEFAULT_POSTGRES})",
    )


def add_keep_option(parser: argparse.ArgumentParser) -> None:
    """`--keep NAME`: keep the loaded schema, and reuse it on the next run with the same sizes."""
    parser.add_argument(
        "--keep",
        metavar="NAME",
        help=f"keep the loaded PostgreSQL schema ({KEPT_PREFIX}NAME) and reuse it on the next "
        "run with the same sizes, brought to the newest migration first (drop it with "
        f"DROP SCHEMA {KEPT_PREFIX}NAME CASCADE)",
    )
