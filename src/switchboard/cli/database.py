"""`switchboard db …`: the schema's migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from switchboard import db
from switchboard.cli._context import console, engine_for, load_settings

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Bring the schema up to REVISION (default: the newest)."""
    with engine_for(load_settings()) as engine:
        db.upgrade(engine, revision)
        console().print(f"database at revision [bold]{db.current_revision(engine)}[/]")


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; `base` drops everything.")],
) -> None:
    """Take the schema back down to REVISION."""
    with engine_for(load_settings()) as engine:
        db.downgrade(engine, revision)
        console().print(f"database at revision [bold]{db.current_revision(engine) or 'base'}[/]")


@app.command()
def current() -> None:
    """Print the schema's current revision."""
    with engine_for(load_settings()) as engine:
        console().print(db.current_revision(engine) or "base (empty database)")
