"""`switchboard serve`: the gateway over HTTP."""

from __future__ import annotations

import gc
import logging
from contextlib import ExitStack
from typing import Annotated, Any

import typer

from switchboard import __version__, db
from switchboard.cli._context import engine_for, load_settings
from switchboard.logs import configure_logging, log_config, log_event
from switchboard.metrics.multiprocess_dir import multiprocess_dir
from switchboard.settings import Settings

log = logging.getLogger(__name__)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [PORT].")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (one per core).", min=1)] = 1,
) -> None:
    """Serve the OpenAI- and Anthropic-compatible gateway (migrating the database first)."""
    import uvicorn

    settings = load_settings()
    configure_logging(settings)
    host, port = host or settings.host, port or settings.port
    with engine_for(settings) as engine:
        log_event(
            log,
            logging.INFO,
            "switchboard_starting",
            version=__version__,
            database=engine.dialect.name,  # never the URL: it may carry a password
            listen=f"{host}:{port}",
            workers=workers,
            spool_dir=str(settings.spool_dir.resolve()),
            log_format=str(settings.log_format),
            access_log=settings.access_log,
        )
        db.migrate_to_head(engine)
    # What is loaded so far lives as long as the server: leave it out of the collections that
    # importing and starting the app set off (a full one alone cost ~0.2 s of the start).
    gc.freeze()
    with ExitStack() as stack:
        if settings.metrics_enabled:
            # Before anything imports prometheus_client: it chooses per-process files (which
            # `/metrics` adds up over the workers) on import, by this variable.
            stack.enter_context(multiprocess_dir(settings.metrics_dir))
        _run(uvicorn, host, port, workers, settings)


def _run(uvicorn: Any, host: str, port: int, workers: int, settings: Settings) -> None:
    uvicorn.run(
        "switchboard.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        # Each worker process applies it again when it starts: every line of every process
        # has one format. Uvicorn's access log stays off: the gateway writes its own.
        log_config=log_config(settings),
        log_level=None,
        access_log=False,
    )
