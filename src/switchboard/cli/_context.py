"""What every command needs: settings, a console, and a session on the configured database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from switchboard.db import create_db_engine, open_database
from switchboard.errors import SwitchboardError
from switchboard.settings import Settings

console = Console()
error_console = Console(stderr=True)


def load_settings() -> Settings:
    return Settings()


@contextmanager
def session_for(settings: Settings, *, migrate: bool = False) -> Iterator[Session]:
    factory = open_database(settings.database_url, migrate=migrate)
    try:
        with factory() as session:
            yield session
    finally:
        bind = factory.kw["bind"]
        bind.dispose()


@contextmanager
def engine_for(settings: Settings) -> Iterator[Engine]:
    engine = create_db_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def fail(message: str) -> typer.Exit:
    """Print `message` as an error; the caller raises the returned Exit (status 1)."""
    error_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn Switchboard's own errors and bad values into one line on stderr and status 1."""
    try:
        yield
    except (SwitchboardError, ValueError) as error:
        raise fail(str(error)) from None
