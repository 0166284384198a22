"""`switchboard serve`: the gateway over HTTP."""

from __future__ import annotations

import gc
from typing import Annotated

import typer

from switchboard import db
from switchboard.cli._context import engine_for, load_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [PORT].")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (one per core).", min=1)] = 1,
) -> None:
    """Serve the OpenAI- and Anthropic-compatible gateway (migrating the database first)."""
    import uvicorn

    settings = load_settings()
    with engine_for(settings) as engine:
        db.migrate_to_head(engine)
    # What is loaded so far lives as long as the server: leave it out of the collections that
    # importing and starting the app set off (a full one alone cost ~0.2 s of the start).
    gc.freeze()
    uvicorn.run(
        "switchboard.api.app:app_from_environment",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
