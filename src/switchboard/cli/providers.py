"""`switchboard providers …` and `switchboard models …`: the catalog, from the command line.

Changes go through the same services as the admin API (audited, as actor `cli`), and reach a
running gateway at its next catalog poll.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.cli._context import (
    console,
    fail,
    load_settings,
    make_table,
    reported_errors,
    session_for,
    yes_no,
)
from switchboard.db import open_database
from switchboard.errors import NotFoundError
from switchboard.gateway.health_probe import HealthProbe, HealthReport
from switchboard.models import LLMModel, LLMProvider
from switchboard.providers import AdapterRegistry
from switchboard.providers.client import provider_client
from switchboard.secrets import configured_secret_manager
from switchboard.services import catalog_admin
from switchboard.services.audit import Actor
from switchboard.services.paging import Window
from switchboard.settings import Settings
from switchboard.vocabulary import AuthType, HealthStatus, PowerLevel, Tier

_PAGE = Window(limit=500)
_ONE = Window(limit=1)

providers_app = typer.Typer(help="LLM providers: list, add, check health.", no_args_is_help=True)
models_app = typer.Typer(help="LLM models.", no_args_is_help=True)


@providers_app.command("list")
def providers_list(
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Only active or inactive ones.")
    ] = None,
) -> None:
    """List providers, with their key (masked) and last known health."""
    settings = load_settings()
    with session_for(settings) as session:
        rows = catalog_admin.list_providers(session, is_active=active, window=Window(10_000))
        table = make_table("id", "slug", "name", "base url", "active", "key", "health", "checked")
        for row in rows.items:
            table.add_row(
                str(row.id),
                row.provider_slug,
                row.provider_name,
                row.base_url or "",
                yes_no(row.is_active),
                catalog_admin.masked_key(row) or "",
                row.health_status,
                f"{row.last_health_check_at:%Y-%m-%d %H:%M:%S}" if row.last_health_check_at else "",
            )
    console().print(table)


@providers_app.command("add")
def providers_add(
    slug: Annotated[str, typer.Argument(help="Short lower-case name, e.g. `openai`.")],
    name: Annotated[str | None, typer.Option(help="Display name; default: the slug.")] = None,
    base_url: Annotated[str | None, typer.Option(help="e.g. https://api.openai.com/v1")] = None,
    api_format: Annotated[
        str | None, typer.Option(help="Wire format: openai, anthropic, mock; default by slug.")
    ] = None,
    auth_type: Annotated[AuthType, typer.Option(help="How the key is sent.")] = AuthType.BEARER,
    api_key: Annotated[
        str | None, typer.Option(help="The system key; stored encrypted, shown masked.")
    ] = None,
    byok: Annotated[bool, typer.Option(help="Users may bring their own key.")] = False,
    min_tier: Annotated[Tier, typer.Option(help="Lowest tier allowed to use it.")] = Tier.FREE,
    active: Annotated[
        bool, typer.Option("--active/--inactive", help="Route to it at once, or not yet.")
    ] = True,
) -> None:
    """Add a provider. Its base URL must point where PROVIDER_ADDRESSES allows."""
    settings = load_settings()
    fields = {
        "provider_slug": slug,
        "provider_name": name or slug,
        "base_url": base_url.rstrip("/") if base_url else None,
        "api_format": api_format,
        "auth_type": auth_type.value,
        "is_byok_supported": byok,
        "min_tier_required": min_tier.value,
        "is_active": active,
    }
    with session_for(settings) as session, reported_errors():
        row = catalog_admin.create_provider(
            session,
            actor=Actor.CLI,
            fields=fields,
            addresses=settings.provider_addresses,
            api_key=api_key,
            secrets=configured_secret_manager(settings) if api_key is not None else None,
        )
        key = catalog_admin.masked_key(row)
        console().print(
            f"added provider {row.id} [bold]{row.provider_slug}[/]"
            + (f", key {key}" if key else "")
        )


@providers_app.command("health")
def providers_health(
    slug: Annotated[
        str | None, typer.Argument(help="One provider; default: every active one.")
    ] = None,
) -> None:
    """Probe providers now (a non-billed call listing their models) and record the result.
    Exits with status 1 when a provider probed is down."""
    settings = load_settings()
    with reported_errors():
        reports = asyncio.run(_check_health(settings, slug))
    table = make_table("provider", "status", "latency", "models", "error")
    for report in reports:
        table.add_row(
            report.provider_slug,
            report.status,
            f"{report.latency_ms} ms" if report.latency_ms is not None else "",
            str(report.models_found) if report.models_found is not None else "",
            report.error or "",
        )
    console().print(table)
    if any(report.status is HealthStatus.DOWN for report in reports):
        raise typer.Exit(code=1)


@models_app.command("list")
def models_list(
    provider: Annotated[
        str | None, typer.Option(help="Only this provider's models (its slug or id).")
    ] = None,
    power_level: Annotated[PowerLevel | None, typer.Option(help="Only this power level.")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Only active or inactive ones.")
    ] = None,
    deprecated: Annotated[
        bool | None,
        typer.Option("--deprecated/--not-deprecated", help="Only deprecated ones, or the others."),
    ] = None,
) -> None:
    """List models, as the admin API's `GET /models` does: prices in US dollars per 1M tokens."""
    settings = load_settings()
    with session_for(settings) as session, reported_errors():
        provider_id = _find_provider(session, provider).id if provider is not None else None
        rows = _all_models(session, provider_id, power_level, active, deprecated)
        table = make_table(
            *("id", "model id", "provider", "power level", "input $/1M", "output $/1M"),
            *("cached input $/1M", "context window", "active", "deprecated"),
        )
        for row in rows:
            cached = row.cost_per_1m_cached_input_tokens
            table.add_row(
                str(row.id),
                row.model_id,
                row.provider.provider_slug,
                row.power_level,
                _dollars(row.cost_per_1m_input_tokens),
                _dollars(row.cost_per_1m_output_tokens),
                _dollars(cached) if cached is not None else "",
                f"{row.context_window:,}" if row.context_window is not None else "",
                yes_no(row.is_active),
                yes_no(row.is_deprecated),
            )
    console().print(table)


def _all_models(
    session: Session,
    provider_id: int | None,
    power_level: PowerLevel | None,
    active: bool | None,
    deprecated: bool | None,
) -> list[LLMModel]:
    """Every model matching the filters, by id: the service's pages, one after another."""
    models: list[LLMModel] = []
    while True:
        page = catalog_admin.list_models(
            session,
            provider_id=provider_id,
            power_level=power_level,
            is_active=active,
            is_deprecated=deprecated,
            window=replace(_PAGE, offset=len(models)),
        )
        models += page.items
        if not page.items or len(models) >= page.total:
            return models


def _find_provider(session: Session, name: str) -> LLMProvider:
    rows = catalog_admin.list_providers(session, provider_slug=name, window=_ONE).items
    if rows:
        return rows[0]
    if name.isdigit():
        return catalog_admin.get_provider(session, provider_id=int(name))
    raise NotFoundError(f"provider {name!r} does not exist")


def _dollars(price: Decimal) -> str:
    """`0.15` for 0.150000: the price as stored, without its padding zeros."""
    text = format(price, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@models_app.command("deprecate")
def models_deprecate(
    old: Annotated[
        str, typer.Argument(help="The model: its id, `model_id` or `provider/model_id`.")
    ],
    replacement: Annotated[str, typer.Option(help="The model that serves it from now on.")],
    date: Annotated[
        datetime | None, typer.Option(help="The deprecation date (UTC); default: now.")
    ] = None,
) -> None:
    """Deprecate a model: it leaves routing, and requests for it are served by the replacement."""
    settings = load_settings()
    with session_for(settings) as session, reported_errors():
        old_model = _find_model(session, old)
        new_model = _find_model(session, replacement)
        catalog_admin.deprecate_model(
            session,
            actor=Actor.CLI,
            model_row_id=old_model.id,
            replacement_model_id=new_model.id,
            deprecation_date=date,
        )
        console().print(f"deprecated {old_model.model_id}; served by {new_model.model_id}")


async def _check_health(settings: Settings, slug: str | None) -> list[HealthReport]:
    sessions = open_database(settings.database_url, migrate=False)
    try:
        provider_id = None
        if slug is not None:
            with sessions() as session:
                rows = catalog_admin.list_providers(session, provider_slug=slug, window=_ONE).items
            if not rows:
                raise NotFoundError(f"provider {slug!r} does not exist")
            provider_id = rows[0].id
        async with provider_client(settings.provider_addresses) as http:
            probe = HealthProbe(
                sessions,
                settings,
                secrets=configured_secret_manager(settings),
                adapters=AdapterRegistry(),
                http=http,
            )
            if provider_id is not None:
                return [await probe.check_provider(provider_id)]
            return await probe.check_all()
    finally:
        sessions.kw["bind"].dispose()


def _find_model(session: Session, name: str) -> LLMModel:
    """A model by row id, `provider_slug/model_id`, or a `model_id` only one provider has."""
    if name.isdigit():
        found = session.get(LLMModel, int(name))
        if found is not None:
            return found
    query = select(LLMModel).join(LLMProvider)
    slug, _, model_id = name.partition("/")
    if model_id:
        query = query.where(LLMProvider.provider_slug == slug, LLMModel.model_id == model_id)
    else:
        query = query.where(LLMModel.model_id == name)
    matches = session.scalars(query).all()
    if len(matches) > 1:
        raise fail(f"{name!r} names {len(matches)} models: say `provider/{name}`")
    if not matches:
        raise NotFoundError(f"model {name!r} does not exist")
    return matches[0]
