"""`switchboard seed` and `switchboard explain`: the catalog, and why a request goes where."""

from __future__ import annotations

from typing import Annotated

import typer

from switchboard.cli._context import (
    console,
    load_settings,
    make_table,
    reported_errors,
    session_for,
)
from switchboard.engine import LLMRoutingEngine
from switchboard.routing import Verdict

_VERDICT_STYLE = {Verdict.CHOSEN: "bold green", Verdict.FALLBACK: "cyan", Verdict.REJECTED: "dim"}


def seed(
    demo: Annotated[
        bool, typer.Option(help="Activate the built-in mock provider, so no keys are needed.")
    ] = False,
) -> None:
    """Load the starter catalog (providers, models, prices, rules). Safe to run again."""
    from switchboard.services.seeding import seed_catalog

    settings = load_settings()
    with session_for(settings, migrate=True) as session:
        report = seed_catalog(session, demo=demo, litellm_proxy_url=settings.litellm_proxy_url)
    console().print(f"seeded: {report}")


def explain(
    tier: Annotated[str, typer.Option(help="free, starter, professional or enterprise.")],
    power: Annotated[str, typer.Option(help="eco, balanced or precision.")] = "balanced",
    task: Annotated[str, typer.Option(help="Task type: general, chat, code, …")] = "general",
    tokens: Annotated[int | None, typer.Option(help="Estimated tokens.", min=0)] = None,
    user: Annotated[str, typer.Option(help="User id, for their BYOK keys.")] = "explain",
    stream: Annotated[bool, typer.Option(help="The request streams.")] = False,
    tools: Annotated[bool, typer.Option(help="The request uses tools.")] = False,
    vision: Annotated[bool, typer.Option(help="The request has images.")] = False,
    json_mode: Annotated[bool, typer.Option(help="The request asks for JSON.")] = False,
) -> None:
    """Show, for every model in the catalog, whether it would serve a request, and why."""
    settings = load_settings()
    with session_for(settings) as session, reported_errors():
        verdicts = LLMRoutingEngine(session, settings=settings).explain(
            user,
            tier,
            power,
            task_type=task,
            estimated_tokens=tokens,
            require_streaming=stream,
            require_function_calling=tools,
            require_vision=vision,
            require_json_mode=json_mode,
        )
    title = f"{tier} · {power} · {task}" + (f" · {tokens} tokens" if tokens is not None else "")
    table = make_table("#", "verdict", "provider", "model", "why", "key", "notes", title=title)
    for verdict in verdicts:
        table.add_row(
            str(verdict.position or ""),
            f"[{_VERDICT_STYLE[verdict.verdict]}]{verdict.verdict}[/]",
            verdict.provider_slug,
            verdict.model_id,
            f"{verdict.reason}: {verdict.detail}" if verdict.reason else verdict.detail,
            verdict.key_source or "",
            "; ".join(verdict.notes),
        )
    console().print(table)
