"""Alerts: the list (newest first, filtered by state and kind, paged), one alert with its
history, acknowledging one and resolving one after a confirmation; below the list, the rules
and webhooks (`alert_settings` changes them). The same services as `/api/v1/admin/llm/alerts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from switchboard.console import forms, paging
from switchboard.console.deps import AdminDep, SessionDep
from switchboard.console.rendering import ConsoleRoute, render, see_other, with_notice
from switchboard.errors import ConflictError, NotFoundError
from switchboard.services import alert_rules, alert_webhooks, alerts
from switchboard.services.audit import Actor
from switchboard.services.paging import Window
from switchboard.vocabulary import AlertKind, AlertScope, AlertState, WebhookFormat

router = APIRouter(route_class=ConsoleRoute)

ALERTS_URL = "/ui/alerts"
MAX_SETTINGS_ROWS = 100
"""Rules and webhooks shown (a platform has a handful of each)."""
MAX_NOTE_CHARS = 2000
KINDS = [kind.value for kind in alert_rules.KINDS]
STATES = [state.value for state in AlertState]
FORMATS = [fmt.value for fmt in WebhookFormat]


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    state: str = "",
    kind: str = "",
    page: int = 1,
) -> HTMLResponse:
    return page_of_alerts(request, session, state=state, kind=kind, page=page)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_detail(
    request: Request, alert_id: int, session: SessionDep, _admin: AdminDep
) -> HTMLResponse:
    found = alerts.get_alert(session, alert_id)
    return render(
        request,
        "alert.html",
        {
            "title": f"Alert {alert_id}",
            "alert": found.alert,
            "events": found.events,
            "rule_name": _rule_name(session, found.alert.rule_id),
        },
    )


@router.post("/alerts/{alert_id}/acknowledge", response_class=HTMLResponse)
def acknowledge(
    request: Request,
    alert_id: int,
    session: SessionDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    """With htmx only the alert's row is replaced and the result announced; without, the
    page the form came from is shown again with the result as its notice."""
    return _move(request, session, alert_id, AlertState.ACKNOWLEDGED, form)


@router.get("/alerts/{alert_id}/resolve", response_class=HTMLResponse)
def confirm_resolve(
    request: Request, alert_id: int, session: SessionDep, _admin: AdminDep
) -> HTMLResponse:
    found = alerts.get_alert(session, alert_id)
    return render(request, "alert_resolve.html", {"title": "Resolve alert", "alert": found.alert})


@router.post("/alerts/{alert_id}/resolve", response_class=HTMLResponse)
def resolve(
    request: Request,
    alert_id: int,
    session: SessionDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    return _move(request, session, alert_id, AlertState.RESOLVED, form)


def _move(
    request: Request,
    session: Session,
    alert_id: int,
    state: AlertState,
    form: Mapping[str, str],
) -> Response:
    note = forms.text(form, "note")
    if note is not None and len(note) > MAX_NOTE_CHARS:
        note = None
        notice = f"The note is longer than {MAX_NOTE_CHARS} characters: nothing changed."
    else:
        try:
            alerts.move_alert(session, alert_id, state, actor=Actor.ADMIN, note=note)
            notice = f"Alert {alert_id} {state}."
        except ConflictError as error:
            session.rollback()
            notice = f"Not changed: {error}."
    if request.headers.get("hx-target") == f"alert-{alert_id}":
        found = alerts.get_alert(session, alert_id)
        return render(request, "alert_row.html", {"alert": found.alert, "notice_text": notice})
    return see_other(with_notice(_back(form, alert_id), notice))


def _back(form: Mapping[str, str], alert_id: int) -> str:
    """Where the form came from: an Alerts page address (never anywhere else)."""
    back = form.get("back", "")
    if back == ALERTS_URL or back.startswith((f"{ALERTS_URL}?", f"{ALERTS_URL}/")):
        return back
    return f"{ALERTS_URL}/{alert_id}"


def page_of_alerts(
    request: Request,
    session: Session,
    *,
    state: str = "",
    kind: str = "",
    page: int = 1,
    rule_values: Mapping[str, str] | None = None,
    rule_errors: Mapping[str, str] | None = None,
    webhook_values: Mapping[str, str] | None = None,
    webhook_errors: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The Alerts page; with a refused rule or webhook form shown again with its errors."""
    page = paging.page_number(page)
    chosen_state = forms.query_choice(state, AlertState, "state")
    chosen_kind = forms.query_choice(kind, AlertKind, "kind")
    listing = alerts.list_alerts(
        session,
        state=chosen_state,
        kind=chosen_kind,
        window=paging.rows_of(page),
    )
    rules = alert_rules.list_rules(session, window=Window(limit=MAX_SETTINGS_ROWS))
    webhooks = alert_webhooks.list_webhooks(session, window=Window(limit=MAX_SETTINGS_ROWS))
    filters = {"state": state, "kind": kind}
    query = paging.filter_query(filters)
    refused = bool(rule_errors or webhook_errors)
    return render(
        request,
        "alerts.html",
        {
            "title": "Alerts",
            "alerts": listing.items,
            **paging.pager(page, listing.total),
            "filters": filters,
            "query": query,
            "back": f"{ALERTS_URL}?{query}&page={page}" if query else f"{ALERTS_URL}?page={page}",
            "states": STATES,
            "kinds": KINDS,
            "rules": rules.items,
            "rules_total": rules.total,
            "webhooks": webhooks.items,
            "webhooks_total": webhooks.total,
            "rule_fields": rule_field_kinds(),
            "describe": describe,
            "scopes": [scope.value for scope in AlertScope],
            "formats": FORMATS,
            "rule_values": rule_values or {"kind": KINDS[0], "is_active": "on"},
            "rule_errors": rule_errors or {},
            "webhook_values": webhook_values or {"format": FORMATS[0], "is_active": "on"},
            "webhook_errors": webhook_errors or {},
        },
        status_code=422 if refused else 200,
    )


def rule_field_kinds() -> dict[str, list[str]]:
    """Which kinds take each optional field of a rule, as the service checks them."""
    taking: dict[str, list[str]] = {
        "scope": [kind.value for kind, spec in alert_rules.KINDS.items() if spec.scopes],
        "subject": [
            kind.value for kind in alert_rules.KINDS if kind is not AlertKind.SPEND_ANOMALY
        ],
    }
    for name in ("thresholds", "factor", "threshold", "window_minutes"):
        taking[name] = [
            kind.value for kind, spec in alert_rules.KINDS.items() if name in spec.fields
        ]
    return taking


def _rule_name(session: Session, rule_id: int) -> str | None:
    try:
        return alert_rules.get_rule(session, rule_id).name
    except NotFoundError:
        return None


def describe(rule: Any) -> str:
    """A rule's settings in a few words, for the list."""
    parts = [f"{rule.scope}" if rule.scope else "", rule.subject or ""]
    if rule.thresholds:
        parts.append(", ".join(f"{t}%" for t in rule.thresholds))
    for name in ("factor", "threshold", "window_minutes"):
        value = getattr(rule, name)
        if value is not None:
            parts.append(f"{name.replace('_', ' ')} {value}")
    return "; ".join(part for part in parts if part) or "–"
