"""Admin API: alert rules, webhooks, and the alerts raised (`/alerts/…`).

Rules and webhooks are created, read, changed and deleted like other admin resources; alerts
are listed (newest first, by `state` and `kind`), read with their history, acknowledged and
resolved. A rule's change reaches the evaluation of every replica within a few seconds.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from switchboard.api.admin.schemas_alerts import (
    AlertPublic,
    AlertRuleCreate,
    AlertRulePublic,
    AlertRuleUpdate,
    AlertStateChange,
    WebhookCreate,
    WebhookPublic,
    WebhookUpdate,
    webhook_fields,
)
from switchboard.api.deps import AdminDep, GatewayDep, SessionDep
from switchboard.api.schemas import Page, PagingDep, RowIdPath
from switchboard.services import alert_rules, alert_webhooks, alerts
from switchboard.vocabulary import AlertKind, AlertState

router = APIRouter(tags=["admin: alerts"])


@router.get("/alerts/rules")
def list_rules(
    session: SessionDep, kind: AlertKind | None = None, *, paging: PagingDep
) -> Page[AlertRulePublic]:
    page = alert_rules.list_rules(session, kind=kind, window=paging)
    return Page[AlertRulePublic].of(page, AlertRulePublic.of, paging)


@router.post("/alerts/rules", status_code=status.HTTP_201_CREATED)
def create_rule(body: AlertRuleCreate, session: SessionDep, actor: AdminDep) -> AlertRulePublic:
    fields: Any = body.model_dump()
    return AlertRulePublic.of(alert_rules.create_rule(session, fields, actor=actor))


@router.get("/alerts/rules/{rule_id}")
def read_rule(rule_id: RowIdPath, session: SessionDep) -> AlertRulePublic:
    return AlertRulePublic.of(alert_rules.get_rule(session, rule_id))


@router.patch("/alerts/rules/{rule_id}")
def update_rule(
    rule_id: RowIdPath, body: AlertRuleUpdate, session: SessionDep, actor: AdminDep
) -> AlertRulePublic:
    fields: Any = body.model_dump(exclude_unset=True)
    return AlertRulePublic.of(alert_rules.update_rule(session, rule_id, fields, actor=actor))


@router.delete("/alerts/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: RowIdPath, session: SessionDep, actor: AdminDep) -> None:
    """The rule and the alerts it raised."""
    alert_rules.delete_rule(session, rule_id, actor=actor)


@router.get("/alerts/webhooks")
def list_webhooks(session: SessionDep, *, paging: PagingDep) -> Page[WebhookPublic]:
    page = alert_webhooks.list_webhooks(session, window=paging)
    return Page[WebhookPublic].of(page, WebhookPublic.of, paging)


@router.post("/alerts/webhooks", status_code=status.HTTP_201_CREATED)
def create_webhook(
    body: WebhookCreate, session: SessionDep, gateway: GatewayDep, actor: AdminDep
) -> WebhookPublic:
    fields: Any = webhook_fields(body)
    row = alert_webhooks.create_webhook(
        session,
        fields,
        addresses=gateway.settings.provider_addresses,
        secrets=gateway.secrets,
        actor=actor,
    )
    return WebhookPublic.of(row)


@router.get("/alerts/webhooks/{webhook_id}")
def read_webhook(webhook_id: RowIdPath, session: SessionDep) -> WebhookPublic:
    return WebhookPublic.of(alert_webhooks.get_webhook(session, webhook_id))


@router.patch("/alerts/webhooks/{webhook_id}")
def update_webhook(
    webhook_id: RowIdPath,
    body: WebhookUpdate,
    session: SessionDep,
    gateway: GatewayDep,
    actor: AdminDep,
) -> WebhookPublic:
    fields: Any = webhook_fields(body)
    row = alert_webhooks.update_webhook(
        session,
        webhook_id,
        fields,
        addresses=gateway.settings.provider_addresses,
        secrets=gateway.secrets,
        actor=actor,
    )
    return WebhookPublic.of(row)


@router.delete("/alerts/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: RowIdPath, session: SessionDep, actor: AdminDep) -> None:
    alert_webhooks.delete_webhook(session, webhook_id, actor=actor)


@router.get("/alerts")
def list_alerts(
    session: SessionDep,
    state: AlertState | None = None,
    kind: AlertKind | None = None,
    *,
    paging: PagingDep,
) -> Page[AlertPublic]:
    """Alerts, newest first; filter by `state` and `kind`."""
    page = alerts.list_alerts(session, state=state, kind=kind, window=paging)
    return Page[AlertPublic].of(page, AlertPublic.of, paging)


@router.get("/alerts/{alert_id}")
def read_alert(alert_id: RowIdPath, session: SessionDep) -> AlertPublic:
    found = alerts.get_alert(session, alert_id)
    return AlertPublic.of(found.alert, found.events)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_alert(
    alert_id: RowIdPath, session: SessionDep, actor: AdminDep, body: AlertStateChange | None = None
) -> AlertPublic:
    """A firing alert, seen (409 when it is not firing)."""
    return _move(session, alert_id, AlertState.ACKNOWLEDGED, actor=actor, body=body)


@router.post("/alerts/{alert_id}/resolve")
def resolve_alert(
    alert_id: RowIdPath, session: SessionDep, actor: AdminDep, body: AlertStateChange | None = None
) -> AlertPublic:
    """A firing or acknowledged alert, resolved (409 when it is resolved already)."""
    return _move(session, alert_id, AlertState.RESOLVED, actor=actor, body=body)


def _move(
    session: Session,
    alert_id: int,
    state: AlertState,
    *,
    actor: str,
    body: AlertStateChange | None,
) -> AlertPublic:
    found = alerts.move_alert(
        session, alert_id, state, actor=actor, note=body.note if body else None
    )
    return AlertPublic.of(found.alert, found.events)
