"""Alerts as admins see them: listing (by state and kind), one alert with its history, and
acknowledging or resolving it. (Raising them: `alert_outbox`.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.errors import ConflictError
from switchboard.models import Alert, AlertEvent
from switchboard.services.paging import FIRST_PAGE, Page, Window, page_of, rows_where
from switchboard.services.rows import get_row
from switchboard.vocabulary import AlertKind, AlertState

_NEXT = {
    AlertState.ACKNOWLEDGED: frozenset({AlertState.FIRING}),
    AlertState.RESOLVED: frozenset({AlertState.FIRING, AlertState.ACKNOWLEDGED}),
}
"""Which states an alert may move to a state from."""


@dataclass(frozen=True, slots=True)
class AlertWithHistory:
    alert: Alert
    events: list[AlertEvent]


def list_alerts(
    session: Session,
    *,
    state: AlertState | None = None,
    kind: AlertKind | None = None,
    window: Window = FIRST_PAGE,
) -> Page[Alert]:
    """Alerts, newest first."""
    query = rows_where(
        Alert, {"state": None if state is None else str(state), "kind": kind and str(kind)}
    )
    return page_of(session, query, Alert.raised_at.desc(), Alert.id.desc(), window=window)


def get_alert(session: Session, alert_id: int) -> AlertWithHistory:
    alert = get_row(session, Alert, alert_id, f"alert {alert_id}")
    events = session.scalars(
        select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
    ).all()
    return AlertWithHistory(alert, list(events))


def move_alert(
    session: Session, alert_id: int, state: AlertState, *, actor: str, note: str | None = None
) -> AlertWithHistory:
    """Acknowledge or resolve an alert (ConflictError if it is past that). Commits."""
    alert = get_row(session, Alert, alert_id, f"alert {alert_id}")
    if AlertState(alert.state) not in _NEXT[state]:
        raise ConflictError(f"alert {alert_id} is {alert.state}: it cannot become {state}")
    change_state(session, alert, state, actor=actor, now=utcnow(), note=note)
    session.commit()
    return get_alert(session, alert_id)


def change_state(
    session: Session,
    alert: Alert,
    state: AlertState,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> None:
    """Move `alert` to `state` with its history entry; committed with the caller's change."""
    alert.state = str(state)
    alert.updated_at = now
    session.add(AlertEvent(alert_id=alert.id, state=str(state), actor=str(actor), note=note))


def alert_payload(alert: Alert, rule_name: str | None) -> dict[str, Any]:
    """An alert as a webhook receives it (and as it is shown)."""
    return {
        "id": alert.id,
        "rule_id": alert.rule_id,
        "rule_name": rule_name,
        "kind": alert.kind,
        "subject": alert.subject,
        "dedup_key": alert.dedup_key,
        "state": alert.state,
        "message": alert.message,
        "details": alert.details,
        "raised_at": alert.raised_at.isoformat(),
    }
