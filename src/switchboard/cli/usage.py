"""`switchboard usage …`: what the gateway was used for, and repairing the hourly rollup."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer

from switchboard._types import utcnow
from switchboard.cli._context import (
    console,
    load_settings,
    make_table,
    reported_errors,
    session_for,
)
from switchboard.services.analytics import UsageFilters, top_models
from switchboard.services.rollups import rebuild_rollups

app = typer.Typer(help="Usage analytics.", no_args_is_help=True)


@app.command("top")
def top(
    days: Annotated[int, typer.Option(help="Look back this many days.", min=1, max=366)] = 7,
    limit: Annotated[int, typer.Option(help="How many models to show.", min=1)] = 10,
) -> None:
    """The models that cost the most over the last days (the spec's "Top Cost Models")."""
    settings = load_settings()
    with session_for(settings) as session, reported_errors():
        until = utcnow()
        filters = UsageFilters.build(since=until - timedelta(days=days), until=until)
        rows = top_models(session, filters=filters, limit=limit)
    table = make_table("model", "provider", "requests", "total cost (USD)", "per request (USD)")
    for row in rows:
        table.add_row(
            row.model_name,
            row.provider_name,
            str(row.request_count),
            f"{row.total_cost:f}",
            f"{row.avg_cost_per_request:f}",
        )
    console().print(table)


@app.command("rebuild-rollups")
def rebuild(
    since: Annotated[
        datetime | None,
        typer.Option(help="Rebuild from the UTC week (from Monday) of this time; default all."),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(help="Rebuild up to this time, its UTC week whole; default all."),
    ] = None,
) -> None:
    """Recompute the usage rollups from the usage rows (whole UTC weeks), after rows were
    inserted into `llm_usage_logs` directly. Usage writers wait while it runs."""
    settings = load_settings()
    with session_for(settings) as session, reported_errors():
        written = rebuild_rollups(session, since=since, until=until)
        session.commit()
    rows = ", ".join(f"{table} {count}" for table, count in written.items())
    console().print(f"rebuilt the usage rollups, now holding rollup rows: {rows}")
