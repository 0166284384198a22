"""`switchboard alerts …`: alert rules, webhooks, and the alerts raised.

The same rules and checks as the admin API (`services.alert_rules`, `alert_webhooks`,
`alerts`): a rule of an unknown kind, a threshold outside 1–100 %, or a webhook URL the
address policy refuses is refused by name, and nothing is stored. A running gateway picks
up a changed rule within a few seconds.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from switchboard.cli._context import (
    console,
    fail,
    load_settings,
    make_table,
    reported_errors,
    session_for,
    yes_no,
)
from switchboard.redaction import mask_url
from switchboard.secrets import configured_secret_manager
from switchboard.services import alert_rules, alert_webhooks, alerts
from switchboard.services.audit import Actor
from switchboard.services.paging import Window
from switchboard.vocabulary import AlertKind, AlertScope, AlertState, WebhookFormat

app = typer.Typer(help="Alerts, their rules and webhooks.", no_args_is_help=True)
rules_app = typer.Typer(help="Alert rules.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Where alerts are sent.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(webhooks_app, name="webhooks")


@app.command("list")
def list_alerts(
    state: Annotated[AlertState | None, typer.Option(help="Only in this state.")] = None,
    kind: Annotated[AlertKind | None, typer.Option(help="Only of this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """Alerts, newest first."""
    with session_for(load_settings()) as session:
        page = alerts.list_alerts(session, state=state, kind=kind, window=Window(limit=limit))
        table = make_table("id", "raised", "state", "kind", "subject", "message")
        for row in page.items:
            table.add_row(
                str(row.id),
                f"{row.raised_at:%Y-%m-%d %H:%M:%S}",
                row.state,
                row.kind,
                row.subject,
                row.message,
            )
    console().print(table)


@app.command("ack")
def acknowledge(alert_id: int, note: Annotated[str | None, typer.Option()] = None) -> None:
    """Acknowledge a firing alert."""
    _move(alert_id, AlertState.ACKNOWLEDGED, note)


@app.command("resolve")
def resolve(alert_id: int, note: Annotated[str | None, typer.Option()] = None) -> None:
    """Resolve an alert."""
    _move(alert_id, AlertState.RESOLVED, note)


@rules_app.command("list")
def list_rules() -> None:
    with session_for(load_settings()) as session:
        page = alert_rules.list_rules(session, window=Window(limit=500))
        table = make_table(
            "id",
            "name",
            "kind",
            "scope",
            "subject",
            "thresholds",
            "factor",
            "threshold",
            "window",
            "on",
        )
        for row in page.items:
            table.add_row(
                str(row.id),
                row.name,
                row.kind,
                row.scope or "-",
                row.subject or "-",
                ",".join(map(str, row.thresholds or [])) or "-",
                "-" if row.factor is None else f"{row.factor.normalize():f}",
                "-" if row.threshold is None else f"{row.threshold.normalize():f}",
                "-" if row.window_minutes is None else f"{row.window_minutes} min",
                yes_no(row.is_active),
            )
    console().print(table)


@rules_app.command("add")
def add_rule(
    name: Annotated[str, typer.Argument(help="What the rule is called.")],
    kind: Annotated[AlertKind, typer.Option(help="What it watches.")],
    scope: Annotated[AlertScope | None, typer.Option(help="Budget rules: whose.")] = None,
    subject: Annotated[
        str | None, typer.Option(help="A user id, key id, tier or provider slug (none: all).")
    ] = None,
    thresholds: Annotated[
        str | None, typer.Option(help="budget_threshold: percentages, e.g. 50,80,100.")
    ] = None,
    factor: Annotated[str | None, typer.Option(help="spend_anomaly: times the median.")] = None,
    threshold: Annotated[
        str | None,
        typer.Option(help="error_rate: %; latency_p95: ms; deprecation_soon: days."),
    ] = None,
    window: Annotated[
        int | None, typer.Option(help="error_rate, latency_p95, deprecated_traffic: minutes.")
    ] = None,
) -> None:
    """Add a rule."""
    fields: Any = {
        "name": name,
        "kind": kind,
        "scope": scope,
        "subject": subject,
        "thresholds": _percentages(thresholds),
        "factor": _number("factor", factor),
        "threshold": _number("threshold", threshold),
        "window_minutes": window,
    }
    with session_for(load_settings()) as session, reported_errors():
        row = alert_rules.create_rule(session, fields, actor=Actor.CLI)
        console().print(f"rule {row.id} ({row.kind}) added")


@rules_app.command("remove")
def remove_rule(rule_id: int) -> None:
    """Remove a rule and the alerts it raised."""
    with session_for(load_settings()) as session, reported_errors():
        alert_rules.delete_rule(session, rule_id, actor=Actor.CLI)
    console().print(f"rule {rule_id} removed")


@webhooks_app.command("list")
def list_webhooks() -> None:
    with session_for(load_settings()) as session:
        page = alert_webhooks.list_webhooks(session, window=Window(limit=500))
        table = make_table("id", "name", "url", "format", "signed", "on")
        for row in page.items:
            table.add_row(
                str(row.id),
                row.name,
                mask_url(row.url),
                row.format,
                yes_no(row.encrypted_secret),
                yes_no(row.is_active),
            )
    console().print(table)


@webhooks_app.command("add")
def add_webhook(
    name: Annotated[str, typer.Argument(help="What the webhook is called.")],
    url: Annotated[str, typer.Argument(help="Where alerts are POSTed.")],
    body_format: Annotated[
        WebhookFormat, typer.Option("--format", help="json, or a Slack message.")
    ] = WebhookFormat.JSON,
    secret: Annotated[
        str | None,
        typer.Option(envvar="ALERT_WEBHOOK_SECRET", help="Signing secret (stored encrypted)."),
    ] = None,
) -> None:
    """Add a webhook (its URL held to PROVIDER_ADDRESSES)."""
    settings = load_settings()
    fields: Any = {"name": name, "url": url, "format": body_format, "secret": secret}
    with session_for(settings) as session, reported_errors():
        row = alert_webhooks.create_webhook(
            session,
            fields,
            addresses=settings.provider_addresses,
            secrets=configured_secret_manager(settings),
            actor=Actor.CLI,
        )
        console().print(f"webhook {row.id} added")


@webhooks_app.command("remove")
def remove_webhook(webhook_id: int) -> None:
    with session_for(load_settings()) as session, reported_errors():
        alert_webhooks.delete_webhook(session, webhook_id, actor=Actor.CLI)
    console().print(f"webhook {webhook_id} removed")


def _move(alert_id: int, state: AlertState, note: str | None) -> None:
    with session_for(load_settings()) as session, reported_errors():
        found = alerts.move_alert(session, alert_id, state, actor=Actor.CLI, note=note)
        console().print(f"alert {alert_id}: {found.alert.state}")


def _percentages(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise fail("thresholds: must be whole percentages, such as 50,80,100") from None


def _number(name: str, text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise fail(f"{name}: must be a number") from None
    if not value.is_finite():
        raise fail(f"{name}: must be a number")
    return value
