"""`switchboard catalog sync`: the catalog's prices against a price map (LiteLLM's format)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from switchboard.cli._context import load_settings, reported_errors, sessions_for

if TYPE_CHECKING:
    from switchboard.services.price_sync import SyncReport

catalog_app = typer.Typer(
    help="The catalog's prices: compare them with a price map, and bring them up to date.",
    no_args_is_help=True,
)
NEW_MODELS_SHOWN = 12
"""New models listed per provider in the text report (`--json` lists them all)."""


@catalog_app.command("sync")
def sync(
    source: Annotated[
        str | None,
        typer.Option(help="A price map file or URL (default PRICE_MAP_SOURCE: LiteLLM's map)."),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Write the changes (default: show them only).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite prices set by hand, too.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compare the catalog with a price map: prices, context windows, output limits,
    deprecations, models the map no longer has (retired?) and new models of known providers.
    With --apply, write prices through the price history, and deprecations."""
    from switchboard.services.audit import Actor
    from switchboard.services.price_sync_job import run_price_sync

    settings = load_settings()
    with sessions_for(settings) as sessions, reported_errors():
        report = asyncio.run(
            run_price_sync(
                sessions,
                source=source or settings.price_map_source,
                timeout_s=settings.price_map_timeout_s,
                actor=Actor.CLI,
                apply=apply,
                force=force,
            )
        )
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(report), indent=2, default=_jsonable))
    else:
        typer.echo("\n".join(report_lines(report)))


def report_lines(report: SyncReport) -> list[str]:
    """The report as text, a section per kind of difference."""
    lines = [f"Price map: {report.source}", f"Providers in it: {', '.join(report.providers)}"]
    if report.changes:
        lines += ["", f"Prices and limits ({len(report.changes)} models):"]
        for change in report.changes:
            head = f"  {change.provider}/{change.model_id} (map: {change.map_key})"
            lines.append(head + (f": skipped, {change.skipped}" if change.skipped else ""))
            lines += [
                f"      {c.column}: {_shown(c.old)} → {_shown(c.new)}" for c in change.changes
            ]
    if report.deprecations:
        lines += ["", f"Deprecated ({len(report.deprecations)}):"]
        for item in report.deprecations:
            name = f"  {item.provider}/{item.model_id}"
            if item.scheduled:
                lines.append(f"{name}: on {item.deprecation_date} (the date is recorded)")
            else:
                served = item.replacement or "nothing (no replacement found)"
                lines.append(f"{name}: since {item.deprecation_date}, served by {served}")
    if report.missing:
        lines += ["", f"Retired? In the catalog, not in the map ({len(report.missing)}):"]
        lines += [f"  {ref.provider}/{ref.model_id}" for ref in report.missing]
        lines.append("  (never deleted: deprecate them if they are gone)")
    if report.new_models:
        lines += ["", f"New in the map ({len(report.new_models)} chat models):"]
        lines += _new_model_lines(report)
    if report.warnings:
        lines += ["", "Warnings:", *(f"  {warning}" for warning in report.warnings)]
    lines.append("")
    if not report.to_write:
        lines.append("Nothing to change.")
    elif report.applied:
        lines.append(f"Applied: {report.to_write} changes written.")
    else:
        lines.append(f"Dry run: nothing written; --apply writes the {report.to_write} changes.")
    return lines


def _new_model_lines(report: SyncReport) -> list[str]:
    by_provider: dict[str, list[str]] = {}
    for ref in report.new_models:
        by_provider.setdefault(ref.provider, []).append(ref.model_id)
    lines = []
    for provider, names in by_provider.items():
        shown = ", ".join(names[:NEW_MODELS_SHOWN])
        more = f" and {len(names) - NEW_MODELS_SHOWN} more" if len(names) > NEW_MODELS_SHOWN else ""
        lines.append(f"  {provider}: {shown}{more}")
    return lines


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
