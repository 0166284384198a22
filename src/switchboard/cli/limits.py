"""`switchboard limits …`: budgets and rate limits of users, keys and tiers, and spend.

The same rules and effects as the admin API (`services.limits_admin`): a value is checked as
the API checks it, `none` clears a field, and every change reaches the running gateways
within their catalog poll interval. `spend` reads the counters where the gateways keep them
(Redis, with REDIS_URL), else the database's sums for the period.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, Any, cast

import typer
from pydantic import ValidationError

from switchboard.cli._context import console, fail, load_settings, reported_errors, session_for
from switchboard.limit_fields import LimitFields
from switchboard.services import limits_admin
from switchboard.services.audit import Actor
from switchboard.services.limits_admin import LimitChanges
from switchboard.vocabulary import BudgetPeriod, Tier

app = typer.Typer(help="Budgets and rate limits.", no_args_is_help=True)

Value = Annotated[str | None, typer.Option(help="A number, or `none` to clear.")]
Period = Annotated[BudgetPeriod | None, typer.Option(help="The budget's period.")]
IncludeByok = Annotated[
    bool | None, typer.Option("--include-byok/--system-only", help="Count BYOK spend.")
]


@app.command("user")
def set_user(
    user_id: Annotated[str, typer.Argument(help="The user.")],
    rpm: Value = None,
    tpm: Value = None,
    concurrency: Value = None,
    budget: Annotated[
        str | None, typer.Option(help="Monthly budget in dollars, or `none`.")
    ] = None,
    include_byok: IncludeByok = None,
) -> None:
    """Set a user's own limits (requests and tokens per minute over all their keys, requests
    at once per key, a monthly budget). Options left out are kept."""
    changes = _changes(rpm, tpm, concurrency, budget, None, include_byok)
    with session_for(load_settings()) as session, reported_errors():
        user = limits_admin.set_user_limits(
            session, user_id=user_id, changes=changes, actor=Actor.CLI
        )
        _show(f"user {user.id}", limits_admin.limit_values(user))


@app.command("key")
def set_key(
    user_id: Annotated[str, typer.Argument(help="The key's user.")],
    key_id: Annotated[int, typer.Argument(help="The key's id (`switchboard keys …`).")],
    rpm: Value = None,
    tpm: Value = None,
    concurrency: Value = None,
    budget: Annotated[str | None, typer.Option(help="Budget in dollars, or `none`.")] = None,
    period: Period = None,
    include_byok: IncludeByok = None,
) -> None:
    """Set a virtual key's own limits and budget (counted for the key alone)."""
    changes = _changes(rpm, tpm, concurrency, budget, period, include_byok)
    with session_for(load_settings()) as session, reported_errors():
        key = limits_admin.set_key_limits(
            session, user_id=user_id, key_id=key_id, changes=changes, actor=Actor.CLI
        )
        _show(f"key {key.id} of {user_id}", limits_admin.limit_values(key))


@app.command("tier")
def set_tier(
    tier: Annotated[Tier, typer.Argument(help="The tier.")],
    rpm: Value = None,
    tpm: Value = None,
    concurrency: Value = None,
    budget: Annotated[str | None, typer.Option(help="Budget per user in dollars.")] = None,
    period: Period = None,
    include_byok: IncludeByok = None,
    reset: Annotated[
        bool, typer.Option(help="Remove the stored limits: TIER_LIMITS again.")
    ] = False,
) -> None:
    """Store a tier's defaults (every field: those left out are not set), replacing its
    TIER_LIMITS defaults; `--reset` removes them."""
    with session_for(load_settings()) as session, reported_errors():
        if reset:
            limits_admin.clear_tier_limits(session, tier=tier, actor=Actor.CLI)
            console().print(f"tier {tier}: TIER_LIMITS applies")
            return
        changes = _changes(rpm, tpm, concurrency, budget, period, include_byok, every=True)
        row = limits_admin.set_tier_limits(session, tier=tier, changes=changes, actor=Actor.CLI)
        _show(f"tier {tier}", limits_admin.limit_values(row))


@app.command("spend")
def spend(
    user_id: Annotated[str, typer.Argument(help="The user.")],
    key: Annotated[int | None, typer.Option(help="A key of theirs instead.")] = None,
) -> None:
    """The current period of the user's (or key's) budget: spent, reserved, remaining."""
    from switchboard.cli.limits_spend import read_spend

    settings = load_settings()
    with reported_errors():
        shown = asyncio.run(read_spend(settings, user_id, key))
    _show(shown.pop("title"), shown)


def _changes(
    rpm: str | None,
    tpm: str | None,
    concurrency: str | None,
    budget: str | None,
    period: BudgetPeriod | None,
    include_byok: bool | None,
    *,
    every: bool = False,
) -> LimitChanges:
    given: dict[str, Any] = {
        "requests_per_minute": rpm,
        "tokens_per_minute": tpm,
        "max_concurrent_requests": concurrency,
        "budget_usd": budget,
    }
    values = {
        name: None if value is None or value.strip().lower() == "none" else value
        for name, value in given.items()
        if every or value is not None
    }
    try:
        checked = LimitFields.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        raise fail(f"{first['loc'][0]}: {first['msg']}") from None
    changes: dict[str, Any] = {name: getattr(checked, name) for name in values}
    if period is not None or every:
        changes["budget_period"] = period
    if include_byok is not None or every:
        changes["budget_include_byok"] = bool(include_byok)
    return cast(LimitChanges, changes)


def _show(title: str, values: dict[str, Any]) -> None:
    out = console()
    out.print(f"[bold]{title}[/]")
    for name, value in values.items():
        if isinstance(value, Decimal):
            value = f"{value.normalize():f}"
        shown = f"${value}" if name.endswith("_usd") and value is not None else value
        out.print(f"  {name}: {'-' if shown is None else shown}")
