"""Alert rules and webhooks on the Alerts page: create (a refused field is shown beside it and
nothing is stored), delete after a confirmation. A webhook's secret is write-only: taken,
stored encrypted by the service, never shown back (only whether there is one)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from switchboard.console import forms
from switchboard.console.deps import AdminDep, GatewayDep, SessionDep
from switchboard.console.forms import FormError
from switchboard.console.pages.alerts import ALERTS_URL, page_of_alerts
from switchboard.console.rendering import ConsoleRoute, render, see_other, with_notice
from switchboard.errors import ConfigurationError, ConflictError, InvalidFieldError
from switchboard.services import alert_rules, alert_webhooks
from switchboard.services.audit import Actor
from switchboard.services.user_rules import NAME_MAX_LENGTH, TEXT_PATTERN
from switchboard.vocabulary import AlertKind, AlertScope, WebhookFormat

router = APIRouter(route_class=ConsoleRoute)

TEXT = re.compile(TEXT_PATTERN)
SUBJECT = re.compile(r"^[!-~]{1,255}$")
MAX_URL_CHARS = 1000
SECRET_CHARS = (8, 500)
MAX_THRESHOLDS = 20
_WRITE_ONLY = frozenset({"csrf_token", "secret"})


@router.post("/alerts/rules", response_class=HTMLResponse)
def create_rule(
    request: Request, session: SessionDep, _admin: AdminDep, form: forms.AdminFormDep
) -> Response:
    try:
        rule = alert_rules.create_rule(session, rule_fields(form), actor=Actor.ADMIN)
    except (FormError, InvalidFieldError) as error:
        session.rollback()
        return page_of_alerts(
            request, session, rule_values=_shown(form), rule_errors={error.field: _why(error)}
        )
    return see_other(with_notice(ALERTS_URL, f"Rule {rule.name} added.") + "#rules-title")


@router.get("/alerts/rules/{rule_id}/delete", response_class=HTMLResponse)
def confirm_delete_rule(
    request: Request, rule_id: int, session: SessionDep, _admin: AdminDep
) -> HTMLResponse:
    rule = alert_rules.get_rule(session, rule_id)
    return render(request, "alert_rule_delete.html", {"title": "Delete alert rule", "rule": rule})


@router.post("/alerts/rules/{rule_id}/delete", response_class=HTMLResponse)
def delete_rule(
    request: Request, rule_id: int, session: SessionDep, _admin: AdminDep, form: forms.AdminFormDep
) -> Response:
    name = alert_rules.get_rule(session, rule_id).name
    alert_rules.delete_rule(session, rule_id, actor=Actor.ADMIN)
    return see_other(with_notice(ALERTS_URL, f"Rule {name} and its alerts deleted."))


@router.post("/alerts/webhooks", response_class=HTMLResponse)
def create_webhook(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    try:
        row = alert_webhooks.create_webhook(
            session,
            webhook_fields(form),
            addresses=gateway.settings.provider_addresses,
            secrets=gateway.secrets,
            actor=Actor.ADMIN,
        )
    except (FormError, InvalidFieldError, ConfigurationError, ConflictError) as error:
        session.rollback()
        field = getattr(error, "field", "secret" if isinstance(error, ConfigurationError) else "")
        return page_of_alerts(
            request, session, webhook_values=_shown(form), webhook_errors={field: _why(error)}
        )
    return see_other(with_notice(ALERTS_URL, f"Webhook {row.name} added.") + "#webhooks-title")


@router.get("/alerts/webhooks/{webhook_id}/delete", response_class=HTMLResponse)
def confirm_delete_webhook(
    request: Request, webhook_id: int, session: SessionDep, _admin: AdminDep
) -> HTMLResponse:
    webhook = alert_webhooks.get_webhook(session, webhook_id)
    context = {"title": "Delete webhook", "webhook": webhook}
    return render(request, "alert_webhook_delete.html", context)


@router.post("/alerts/webhooks/{webhook_id}/delete", response_class=HTMLResponse)
def delete_webhook(
    request: Request,
    webhook_id: int,
    session: SessionDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    name = alert_webhooks.get_webhook(session, webhook_id).name
    alert_webhooks.delete_webhook(session, webhook_id, actor=Actor.ADMIN)
    return see_other(with_notice(ALERTS_URL, f"Webhook {name} deleted."))


def rule_fields(form: Mapping[str, str]) -> alert_rules.RuleFields:
    """A rule as the admin API takes it; FormError naming a field that is not well-formed.
    Whether the kind takes a field, and its range, the service checks."""
    kind = form.get("kind", "")
    if kind not in alert_rules.KINDS:
        raise FormError("kind", "choose one of the kinds listed")
    scope = forms.text(form, "scope")
    if scope is not None and scope not in set(AlertScope):
        raise FormError("scope", "is not a scope")
    subject = forms.text(form, "subject")
    if subject is not None and not SUBJECT.match(subject):
        raise FormError("subject", "use printable characters without spaces (at most 255)")
    window = forms.integer(form, "window_minutes")
    return {
        "name": _name(form),
        "kind": AlertKind(kind),
        "scope": AlertScope(scope) if scope else None,
        "subject": subject,
        "thresholds": _thresholds(form),
        "factor": forms.decimal(form, "factor"),
        "threshold": forms.decimal(form, "threshold"),
        "window_minutes": window,
        "is_active": forms.flag(form, "is_active"),
    }


def webhook_fields(form: Mapping[str, str]) -> alert_webhooks.WebhookFields:
    url = forms.required_text(form, "url")
    if len(url) > MAX_URL_CHARS:
        raise FormError("url", f"is longer than {MAX_URL_CHARS} characters")
    fmt = form.get("format", WebhookFormat.JSON.value)
    if fmt not in set(WebhookFormat):
        raise FormError("format", "is not a format")
    secret = form.get("secret", "")
    low, high = SECRET_CHARS
    if secret and not low <= len(secret) <= high:
        raise FormError("secret", f"must be {low} to {high} characters")
    return {
        "name": _name(form),
        "url": url,
        "format": WebhookFormat(fmt),
        "secret": secret or None,
        "is_active": forms.flag(form, "is_active"),
    }


def _name(form: Mapping[str, str]) -> str:
    name = forms.required_text(form, "name")
    if len(name) > NAME_MAX_LENGTH or not TEXT.match(name):
        raise FormError("name", f"use at most {NAME_MAX_LENGTH} printable characters")
    return name


def _thresholds(form: Mapping[str, str]) -> list[int] | None:
    """Percentages, separated by commas or spaces."""
    given = forms.text(form, "thresholds")
    if given is None:
        return None
    parts = [part for part in re.split(r"[,\s]+", given) if part]
    if not parts or len(parts) > MAX_THRESHOLDS or not all(part.isdigit() for part in parts):
        raise FormError("thresholds", f"list up to {MAX_THRESHOLDS} whole percentages, e.g. 50, 80")
    return [int(part) for part in parts]


def _why(error: Exception) -> str:
    """The message without the field's name, which the page shows beside the field."""
    message = getattr(error, "message", None) or str(error)
    field = getattr(error, "field", None)
    prefix = f"{field}: "
    return message[len(prefix) :] if field and message.startswith(prefix) else message


def _shown(form: Mapping[str, str]) -> dict[str, Any]:
    """What the form is shown again with: never its secret or token."""
    return {name: value for name, value in form.items() if name not in _WRITE_ONLY}
