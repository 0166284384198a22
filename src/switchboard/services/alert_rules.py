"""Alert rules: what to watch and when to raise, checked per kind, every change audited.

Each kind takes only its own fields (`KINDS`): a budget rule (`budget_threshold`,
`spend_forecast`) a `scope` (user, key, tier) and optionally a `subject` (that user, key id or
tier; none: all), and thresholds in percent (default 50, 80, 100) for `budget_threshold`;
`spend_anomaly` a `factor` (default 3: today over 3× the median of the previous 7 days);
`provider_health` optionally a provider slug as `subject`; `error_rate` and `latency_p95` a
scope (provider, model), a `threshold` (%, ms) and a `window_minutes`; `deprecated_traffic`
a window; `deprecation_soon` a `threshold` in days. A field another kind takes is refused by
name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
BUDGET_SCOPES = (AlertScope.USER, AlertScope.KEY, AlertScope.TIER)
TRAFFIC_SCOPES = (AlertScope.PROVIDER, AlertScope.MODEL)
MAX_WINDOW_MINUTES = 7 * 24 * 60


@dataclass(frozen=True, slots=True)
class KindSpec:
    """What a kind of rule takes: its scopes (the first is the default; none: no scope),
    its optional fields, and its numbers as (field, default, ceiling)."""

    scopes: tuple[AlertScope, ...] = ()
    fields: frozenset[str] = frozenset()
    numbers: tuple[tuple[str, Decimal | int, Decimal | int], ...] = ()


def _window(default: int) -> tuple[str, int, int]:
    return ("window_minutes", default, MAX_WINDOW_MINUTES)


KINDS: Mapping[AlertKind, KindSpec] = {
    AlertKind.BUDGET_THRESHOLD: KindSpec(BUDGET_SCOPES, frozenset({"thresholds"})),
    AlertKind.SPEND_FORECAST: KindSpec(BUDGET_SCOPES),
    AlertKind.SPEND_ANOMALY: KindSpec(
        fields=frozenset({"factor"}), numbers=(("factor", Decimal(3), Decimal(1000)),)
    ),
    AlertKind.PROVIDER_HEALTH: KindSpec(),
    AlertKind.ERROR_RATE: KindSpec(
        TRAFFIC_SCOPES,
        frozenset({"threshold", "window_minutes"}),
        (("threshold", Decimal(10), Decimal(100)), _window(15)),
    ),
    AlertKind.LATENCY_P95: KindSpec(
        TRAFFIC_SCOPES,
        frozenset({"threshold", "window_minutes"}),
        (("threshold", Decimal(10_000), Decimal(3_600_000)), _window(15)),
    ),
    AlertKind.DEPRECATED_TRAFFIC: KindSpec(
        fields=frozenset({"window_minutes"}), numbers=(_window(60),)
    ),
    AlertKind.DEPRECATION_SOON: KindSpec(
        fields=frozenset({"threshold"}), numbers=(("threshold", Decimal(30), Decimal(3650)),)
    ),
}
"""Every kind's fields: `threshold` is a percentage for error_rate, milliseconds for
latency_p95, days for deprecation_soon."""


class RuleFields(TypedDict, total=False):
    name: str
    kind: AlertKind
    scope: AlertScope | None
    subject: str | None
    thresholds: list[int] | None
    factor: Decimal | None
    threshold: Decimal | None
    window_minutes: int | None
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
        "threshold": row.threshold,
        "window_minutes": row.window_minutes,
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
    """The rule's fields with its kind's defaults; a field its kind does not take, or a value
    out of range, is an InvalidFieldError naming it."""
    kind = AlertKind(str(values["kind"]))
    spec = KINDS[kind]
    for name in ("thresholds", "factor", "threshold", "window_minutes"):
        if values.get(name) is not None and name not in spec.fields:
            raise InvalidFieldError(name, f"a {kind} rule has no {name}")
    scope = values.get("scope")
    if spec.scopes:
        values["scope"] = str(scope or spec.scopes[0])
        if AlertScope(str(values["scope"])) not in spec.scopes:
            allowed = ", ".join(spec.scopes)
            raise InvalidFieldError("scope", f"a {kind} rule's scope is one of: {allowed}")
    elif scope is not None:
        raise InvalidFieldError("scope", f"a {kind} rule has no scope")
    if kind is AlertKind.SPEND_ANOMALY and values.get("subject") is not None:
        raise InvalidFieldError("subject", "a spend_anomaly rule watches the whole platform")
    if "thresholds" in spec.fields:
        thresholds = values.get("thresholds") or DEFAULT_THRESHOLDS
        if not isinstance(thresholds, list) or any(
            not isinstance(t, int) or not 1 <= t <= 100 for t in thresholds
        ):
            raise InvalidFieldError("thresholds", "each must be a percentage from 1 to 100")
        values["thresholds"] = sorted(set(thresholds))
    for name, default, ceiling in spec.numbers:
        value = values.get(name)
        value = default if value is None else value
        if not isinstance(value, int | Decimal) or not 0 < value <= ceiling:
            raise InvalidFieldError(name, f"must be above 0 and at most {ceiling}")
        values[name] = value
    values["kind"] = str(kind)
    return values
