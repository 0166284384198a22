"""Alert rules and webhooks on the Alerts page: create, edit (a refused field is shown beside
it and nothing is stored), delete after a confirmation. A webhook's URL and secret are
write-only once stored: shown masked, kept when their field is left empty; the secret is
stored encrypted by the service, never shown back (only whether there is one)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from switchboard.console import forms, page_flow
from switchboard.console.deps import AdminDep, GatewayDep, SessionDep
from switchboard.console.forms import FormError
from switchboard.console.pages.alerts import (
    ALERTS_URL,
    FORMATS,
    KINDS,
    page_of_alerts,
    rule_field_kinds,
)
from switchboard.console.rendering import ConsoleRoute, render, see_other, with_notice
from switchboard.gateway.service import Gateway
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
_WRITE_ONLY = frozenset({"secret"})
_SECRET = "secret"
"""A webhook refused because no key can store its secret: the secret's field says so."""


@router.post("/alerts/rules", response_class=HTMLResponse)
def create_rule(
    request: Request, session: SessionDep, _admin: AdminDep, form: forms.AdminFormDep
) -> Response:
    return page_flow.submit(
        session,
        lambda: alert_rules.create_rule(session, rule_fields(form), actor=Actor.ADMIN),
        done=lambda rule: (f"{ALERTS_URL}#rules-title", f"Rule {rule.name} added."),
        refused=lambda errors: page_of_alerts(
            request, session, rule_values=page_flow.shown(form), rule_errors=errors
        ),
    )


@router.get("/alerts/rules/{rule_id}", response_class=HTMLResponse)
def edit_rule(request: Request, rule_id: int, session: SessionDep, _admin: AdminDep) -> Response:
    rule = alert_rules.get_rule(session, rule_id)
    return _rule_page(request, rule, _rule_values(rule))


@router.post("/alerts/rules/{rule_id}", response_class=HTMLResponse)
def update_rule(
    request: Request, rule_id: int, session: SessionDep, _admin: AdminDep, form: forms.AdminFormDep
) -> Response:
    rule = alert_rules.get_rule(session, rule_id)
    return page_flow.submit(
        session,
        lambda: alert_rules.update_rule(session, rule_id, rule_fields(form), actor=Actor.ADMIN),
        done=lambda saved: (ALERTS_URL, f"Rule {saved.name} saved."),
        refused=lambda errors: _rule_page(request, rule, page_flow.shown(form), errors),
    )


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
    def create() -> Any:
        return alert_webhooks.create_webhook(
            session,
            webhook_fields(form),
            addresses=gateway.settings.provider_addresses,
            secrets=gateway.secrets,
            actor=Actor.ADMIN,
        )

    return page_flow.submit(
        session,
        create,
        done=lambda row: (f"{ALERTS_URL}#webhooks-title", f"Webhook {row.name} added."),
        refused=lambda errors: page_of_alerts(
            request,
            session,
            webhook_values=page_flow.shown(form, write_only=_WRITE_ONLY),
            webhook_errors=errors,
        ),
        default_field=_SECRET,
    )


@router.get("/alerts/webhooks/{webhook_id}", response_class=HTMLResponse)
def edit_webhook(
    request: Request, webhook_id: int, session: SessionDep, _admin: AdminDep
) -> Response:
    webhook = alert_webhooks.get_webhook(session, webhook_id)
    values = {"name": webhook.name, "format": webhook.format, "is_active": webhook.is_active}
    return _webhook_page(request, webhook, values)


@router.post("/alerts/webhooks/{webhook_id}", response_class=HTMLResponse)
def update_webhook(
    request: Request,
    webhook_id: int,
    session: SessionDep,
    gateway: GatewayDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    webhook = alert_webhooks.get_webhook(session, webhook_id)
    return page_flow.submit(
        session,
        lambda: _update_webhook(session, gateway, webhook_id, form),
        done=lambda row: (ALERTS_URL, f"Webhook {row.name} saved."),
        refused=lambda errors: _webhook_page(
            request, webhook, page_flow.shown(form, write_only=_WRITE_ONLY | {"url"}), errors
        ),
        default_field=_SECRET,
    )


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


def _update_webhook(
    session: Session, gateway: Gateway, webhook_id: int, form: Mapping[str, str]
) -> Any:
    return alert_webhooks.update_webhook(
        session,
        webhook_id,
        webhook_fields(form, editing=True),
        addresses=gateway.settings.provider_addresses,
        secrets=gateway.secrets,
        actor=Actor.ADMIN,
    )


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


def webhook_fields(
    form: Mapping[str, str], *, editing: bool = False
) -> alert_webhooks.WebhookFields:
    """A webhook as the admin API takes it. Editing, an empty URL or secret keeps the stored
    one (`remove_secret` drops the secret)."""
    fields: alert_webhooks.WebhookFields = {"name": _name(form)}
    url = forms.text(form, "url", required=not editing)
    if url is not None:
        if len(url) > MAX_URL_CHARS:
            raise FormError("url", f"is longer than {MAX_URL_CHARS} characters")
        fields["url"] = url
    fmt = form.get("format", WebhookFormat.JSON.value)
    if fmt not in set(WebhookFormat):
        raise FormError("format", "is not a format")
    fields["format"] = WebhookFormat(fmt)
    secret = form.get("secret", "")
    low, high = SECRET_CHARS
    if secret and not low <= len(secret) <= high:
        raise FormError("secret", f"must be {low} to {high} characters")
    if secret or not editing:
        fields["secret"] = secret or None
    elif forms.flag(form, "remove_secret"):
        fields["secret"] = None
    fields["is_active"] = forms.flag(form, "is_active")
    return fields


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


def _rule_values(rule: Any) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(rule, name) for name in ("name", "kind", "scope")}
    for name in ("subject", "factor", "threshold", "window_minutes"):
        value = getattr(rule, name)
        if isinstance(value, Decimal):
            value = forms.decimal_text(value)
        values[name] = "" if value is None else value
    values["thresholds"] = ", ".join(str(t) for t in rule.thresholds or [])
    values["is_active"] = "on" if rule.is_active else ""
    return values


def _rule_page(
    request: Request,
    rule: Any,
    values: Mapping[str, Any],
    errors: page_flow.FieldErrors | None = None,
) -> HTMLResponse:
    return page_flow.form_page(
        request,
        "alert_rule_form.html",
        {
            "title": f"Alert rule {rule.name}",
            "rule": rule,
            "values": values,
            "kinds": KINDS,
            "rule_fields": rule_field_kinds(),
            "scopes": [scope.value for scope in AlertScope],
        },
        errors,
    )


def _webhook_page(
    request: Request,
    webhook: Any,
    values: Mapping[str, Any],
    errors: page_flow.FieldErrors | None = None,
) -> HTMLResponse:
    return page_flow.form_page(
        request,
        "alert_webhook_form.html",
        {
            "title": f"Webhook {webhook.name}",
            "webhook": webhook,
            "values": values,
            "formats": FORMATS,
        },
        errors,
    )
