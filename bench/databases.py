"""Throwaway databases for the benchmarks: a SQLite file in a temporary directory, or a
PostgreSQL schema of its own (the tests' `postgres_schema`); and the `--postgres` option."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from tests.databases import postgres_schema as _postgres_schema

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def sqlite_database(prefix: str = "bench-") -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        yield f"sqlite:///{Path(directory) / 'bench.db'}"


def postgres_schema(url: str) -> AbstractContextManager[str]:
    """A new schema on the server at `url`, reached through the search_path, dropped after."""
    return _postgres_schema(url, "bench")


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
