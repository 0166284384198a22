"""Alert rules: what to watch and when to raise, checked per kind, every change audited.

Each kind takes only its own fields: a budget rule (`budget_threshold`, `spend_forecast`) a
`scope` (user, key, tier) and optionally a `subject` (that user, key id or tier; none: all),
and thresholds in percent (default 50, 80, 100) for `budget_threshold`; `spend_anomaly` a
`factor` (default 3: today over 3× the median of the previous 7 days); `provider_health`
optionally a provider slug as `subject`. A field another kind takes is refused by name.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypedDict

from sqlalchemy.orm import Session

from switchboard.errors import InvalidFieldError
from switchboard.models import AlertRule
from switchboard.services.audit import Action, Entity, snapshot_row
from switchboard.services.paging import FIRST_PAGE, Page, Window, page_of, rows_where
from switchboard.services.rows import Change, apply_changes, commit, commit_change, delete_row
from switchboard.services.rows import get_row as _get_row
from switchboard.vocabulary import AlertKind, AlertScope

DEFAULT_THRESHOLDS = [50, 80, 100]
DEFAULT_FACTOR = Decimal(3)
_BUDGET_KINDS = frozenset({AlertKind.BUDGET_THRESHOLD, AlertKind.SPEND_FORECAST})


class RuleFields(TypedDict, total=False):
    name: str
    kind: AlertKind
    scope: AlertScope | None
    subject: str | None
    thresholds: list[int] | None
    factor: Decimal | None
    is_active: bool


def list_rules(
    session: Session,
    *,
    kind: AlertKind | None = None,
    is_active: bool | None = None,
    window: Window = FIRST_PAGE,
) -> Page[AlertRule]:
    query = rows_where(AlertRule, {"kind": kind and str(kind), "is_active": is_active})
    return page_of(session, query, AlertRule.id, window=window)


def active_rules(session: Session) -> list[AlertRule]:
    return list(
        page_of(
            session,
            rows_where(AlertRule, {"is_active": True}),
            AlertRule.id,
            window=Window(limit=10_000),
        ).items
    )


def get_rule(session: Session, rule_id: int) -> AlertRule:
    return _get_row(session, AlertRule, rule_id, f"alert rule {rule_id}")


def create_rule(session: Session, fields: RuleFields, *, actor: str) -> AlertRule:
    """Commits."""
    values = _checked(dict(fields))
    row = AlertRule(**values)
    session.add(row)
    commit_change(session, Change(actor, Action.CREATE, Entity.ALERT_RULE), row, None)
    return row


def update_rule(session: Session, rule_id: int, fields: RuleFields, *, actor: str) -> AlertRule:
    """The fields given change (the kind stays); checked as a whole. Commits."""
    row = get_rule(session, rule_id)
    if "kind" in fields and fields["kind"] != row.kind:
        raise InvalidFieldError("kind", "cannot change: create another rule")
    before = snapshot_row(row)
    merged = {
        "name": row.name,
        "kind": AlertKind(row.kind),
        "scope": row.scope and AlertScope(row.scope),
        "subject": row.subject,
        "thresholds": row.thresholds,
        "factor": row.factor,
        "is_active": row.is_active,
    } | dict(fields)
    if apply_changes(row, _checked(merged)):
        commit_change(session, Change(actor, Action.UPDATE, Entity.ALERT_RULE), row, before)
    return row


def delete_rule(session: Session, rule_id: int, *, actor: str) -> None:
    """The rule and its alerts. Commits."""
    row = get_rule(session, rule_id)
    change = Change(actor, Action.DELETE, Entity.ALERT_RULE)
    delete_row(session, change, row)
    commit(session, change)


def _checked(values: dict[str, object]) -> dict[str, object]:
    kind = AlertKind(str(values["kind"]))
    budget = kind in _BUDGET_KINDS
    if budget:
        values["scope"] = str(values.get("scope") or AlertScope.USER)
    elif values.get("scope") is not None:
        raise InvalidFieldError("scope", f"a {kind} rule has no scope")
    if kind is AlertKind.SPEND_ANOMALY and values.get("subject") is not None:
        raise InvalidFieldError("subject", "a spend_anomaly rule watches the whole platform")
    if kind is AlertKind.BUDGET_THRESHOLD:
        thresholds = values.get("thresholds") or DEFAULT_THRESHOLDS
        if not isinstance(thresholds, list) or any(
            not isinstance(t, int) or not 1 <= t <= 100 for t in thresholds
        ):
            raise InvalidFieldError("thresholds", "each must be a percentage from 1 to 100")
        values["thresholds"] = sorted(set(thresholds))
    elif values.get("thresholds") is not None:
        raise InvalidFieldError("thresholds", f"a {kind} rule has no thresholds")
    if kind is AlertKind.SPEND_ANOMALY:
        factor = values.get("factor")
        values["factor"] = DEFAULT_FACTOR if factor is None else factor
    elif values.get("factor") is not None:
        raise InvalidFieldError("factor", f"a {kind} rule has no factor")
    values["kind"] = str(kind)
    return values
