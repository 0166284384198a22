"""What every command needs: settings, a console, and a session on the configured database.

`switchboard serve` imports every command module before it starts uvicorn, and the gateway's
time to ready counts each of those imports: what only a command needs (rich, the seeding and
rotation services, uvicorn) is imported when that command runs. What the gateway loads anyway
(SQLAlchemy, the models, the services it shares) stays at the top.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from switchboard.change_notices import announce_changes
from switchboard.db import create_db_engine, open_database
from switchboard.errors import SwitchboardError
from switchboard.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


UNBOUNDED_WIDTH = 100_000
"""The width of a console writing to a file or a pipe: no line is cut or folded to fit."""


def console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr). On a terminal it is as wide as the terminal (and
    tables fold ids rather than cut them); into a file or a pipe, which have no width, lines
    are as long as they need to be, so a table never cuts a model id to fit 80 columns."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else UNBOUNDED_WIDTH
    return Console(stderr=stderr, width=width)


def make_table(*headers: str, title: str | None = None) -> Table:
    """A table whose cells fold onto more lines on a narrow terminal: an id is never cut."""
    from rich.table import Column, Table

    return Table(*(Column(header, overflow="fold") for header in headers), title=title)


def yes_no(flag: object) -> str:
    """How a table shows a flag, or whether something is there (a secret): `yes` or `no`."""
    return "yes" if flag else "no"


def load_settings() -> Settings:
    return Settings()


@contextmanager
def sessions_for(settings: Settings, *, migrate: bool = False) -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database whose commits the running gateways hear of
    (`announce_changes`); the engine is closed after."""
    factory = open_database(settings.database_url, migrate=migrate)
    announce_changes(factory, settings)
    try:
        yield factory
    finally:
        bind = factory.kw["bind"]
        bind.dispose()


@contextmanager
def session_for(settings: Settings, *, migrate: bool = False) -> Iterator[Session]:
    with sessions_for(settings, migrate=migrate) as factory, factory() as session:
        yield session


@contextmanager
def engine_for(settings: Settings) -> Iterator[Engine]:
    engine = create_db_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def fail(message: str) -> typer.Exit:
    """Print `message` as an error; the caller raises the returned Exit (status 1)."""
    console(stderr=True).print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn Switchboard's own errors and bad values into one line on stderr and status 1."""
    try:
        yield
    except (SwitchboardError, ValueError) as error:
        raise fail(str(error)) from None
