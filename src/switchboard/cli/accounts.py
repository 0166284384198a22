"""`switchboard users …` and `switchboard keys …`: who may call the gateway."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated

import typer
from sqlalchemy import select

from switchboard._types import utcnow
from switchboard.cli._context import (
    console,
    load_settings,
    make_table,
    reported_errors,
    session_for,
    yes_no,
)
from switchboard.models import User
from switchboard.services.users import create_user, issue_virtual_key
from switchboard.vocabulary import Tier

users_app = typer.Typer(help="Gateway users.", no_args_is_help=True)
keys_app = typer.Typer(help="Virtual keys (sk-sb-…) for gateway users.", no_args_is_help=True)


@users_app.command("create")
def users_create(
    user_id: Annotated[str, typer.Argument(help="The user's id, as your platform names them.")],
    tier: Annotated[Tier, typer.Option(help="The user's tier.")] = Tier.FREE,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    budget: Annotated[
        str | None, typer.Option(help="Monthly budget in US dollars, e.g. 25.00.")
    ] = None,
) -> None:
    """Add a user. The id, name, email and budget follow the admin API's rules."""
    settings = load_settings()
    with session_for(settings) as session, reported_errors():
        user = create_user(
            session,
            user_id=user_id,
            tier=tier,
            display_name=name,
            email=email,
            monthly_budget_usd=_dollars(budget),
        )
        console().print(f"created user [bold]{user.id}[/] at tier {user.tier}")


@users_app.command("list")
def users_list() -> None:
    """List users."""
    settings = load_settings()
    with session_for(settings) as session:
        table = make_table("id", "tier", "name", "email", "budget", "active")
        for user in session.scalars(select(User).order_by(User.id)):
            table.add_row(
                user.id,
                user.tier,
                user.display_name or "",
                user.email or "",
                f"${user.monthly_budget_usd:.2f}" if user.monthly_budget_usd is not None else "",
                yes_no(user.is_active),
            )
    console().print(table)


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option(help="The user the key belongs to.")],
    name: Annotated[str | None, typer.Option(help="A name to recognise the key by.")] = None,
    expires_days: Annotated[
        int | None, typer.Option(help="Days until the key expires; default never.", min=1)
    ] = None,
) -> None:
    """Issue a virtual key. It is printed once: only its hash is stored."""
    settings = load_settings()
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    with session_for(settings) as session, reported_errors():
        issued = issue_virtual_key(session, user_id=user, name=name, expires_at=expires_at)
    console().print(issued.key, soft_wrap=True, highlight=False)


def _dollars(value: str | None) -> Decimal | None:
    """The budget as a number; its range is checked with the user's other fields."""
    if value is None:
        return None
    try:
        return Decimal(value)
    except ArithmeticError:
        raise ValueError(f"budget {value!r} is not an amount in dollars") from None
