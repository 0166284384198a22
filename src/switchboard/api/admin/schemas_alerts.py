"""Alert rules, webhooks and alerts in the admin API: what may be sent, what is shown.

A rule's `kind` is one of the kinds alerts know (another is a 422 naming `kind`); thresholds
are percentages from 1 to 100; a webhook's `url` is http(s) and held to `PROVIDER_ADDRESSES`
(by the service), and its `secret` is taken, stored encrypted, and never shown back
(`has_secret` says whether there is one).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    StrictBool,
    UrlConstraints,
    WithJsonSchema,
)

from switchboard.api.schemas import AS_DECIMAL_TEXT, Name, RowId, json_integer, with_examples
from switchboard.models import Alert, AlertEvent, AlertRule, AlertWebhook
from switchboard.redaction import mask_url
from switchboard.vocabulary import AlertKind, AlertScope, AlertState, WebhookFormat

Percent = Annotated[int, Field(ge=1, le=100), BeforeValidator(json_integer)]
Subject = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[!-~]+$")]
Factor = Annotated[
    Decimal,
    Field(gt=0, le=1000, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 1000}),
]
Url = Annotated[HttpUrl, UrlConstraints(max_length=1000)]
Threshold = Annotated[
    Decimal,
    Field(gt=0, le=3_600_000, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 3_600_000}),
]
"""A percentage (error_rate, up to 100), milliseconds (latency_p95) or days
(deprecation_soon, up to 3650)."""
WindowMinutes = Annotated[int, Field(ge=1, le=7 * 24 * 60), BeforeValidator(json_integer)]

_NONE = {"type": "null"}
_TAKES = {
    "budget_threshold": {"scope", "subject", "thresholds"},
    "spend_forecast": {"scope", "subject"},
    "spend_anomaly": {"factor"},
    "provider_health": {"subject"},
    "error_rate": {"scope", "subject", "threshold", "window_minutes"},
    "latency_p95": {"scope", "subject", "threshold", "window_minutes"},
    "deprecated_traffic": {"subject", "window_minutes"},
    "deprecation_soon": {"subject", "threshold"},
}
_SCOPES = {
    "budget_threshold": ["user", "key", "tier"],
    "spend_forecast": ["user", "key", "tier"],
    "error_rate": ["provider", "model"],
    "latency_p95": ["provider", "model"],
}
_CEILING = {"error_rate": 100, "deprecation_soon": 3650}
"""Thresholds of these kinds are at most this (a percentage, days)."""
_OPTIONAL = ("scope", "subject", "thresholds", "factor", "threshold", "window_minutes")
_PER_KIND = [
    {
        "properties": {"kind": {"const": kind}}
        | {name: _NONE for name in _OPTIONAL if name not in takes}
        | ({"scope": {"anyOf": [{"enum": _SCOPES[kind]}, _NONE]}} if kind in _SCOPES else {})
        | (
            {"threshold": {"anyOf": [{"type": "number", "maximum": _CEILING[kind]}, _NONE]}}
            if kind in _CEILING
            else {}
        )
    }
    for kind, takes in _TAKES.items()
]
"""Which fields each kind takes (the others are left out or null): checked by the service,
documented here."""
Secret = Annotated[str, Field(min_length=8, max_length=500)]


class AlertRuleCreate(BaseModel):
    """A rule: `budget_threshold` (scope user/key/tier, optional subject, thresholds in % —
    default 50, 80, 100), `spend_forecast` (scope, subject), `spend_anomaly` (factor, default
    3), `provider_health` (optional provider slug as subject), `error_rate` and `latency_p95`
    (scope provider/model, optional slug or model id as subject, threshold in % — default 10 —
    or ms — default 10000 —, window_minutes — default 15), `deprecated_traffic` (optional
    model id, window_minutes — default 60), `deprecation_soon` (optional model id, threshold
    in days — default 30)."""

    model_config = ConfigDict(extra="forbid") | with_examples(
        {"name": "Budgets", "kind": "budget_threshold", "scope": "user"},
        {"name": "Spend spike", "kind": "spend_anomaly", "factor": 3},
        keywords={"oneOf": _PER_KIND},
    )

    name: Name
    kind: AlertKind
    scope: AlertScope | None = None
    subject: Subject | None = None
    thresholds: list[Percent] | None = Field(default=None, min_length=1, max_length=20)
    factor: Factor | None = None
    threshold: Threshold | None = None
    window_minutes: WindowMinutes | None = None
    is_active: StrictBool = True


class AlertRuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    scope: AlertScope | None = None
    subject: Subject | None = None
    thresholds: list[Percent] | None = Field(default=None, min_length=1, max_length=20)
    factor: Factor | None = None
    threshold: Threshold | None = None
    window_minutes: WindowMinutes | None = None
    is_active: StrictBool | None = None


class AlertRulePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: RowId
    name: str
    kind: AlertKind
    scope: AlertScope | None
    subject: str | None
    thresholds: list[int] | None
    factor: Annotated[Decimal, AS_DECIMAL_TEXT] | None
    threshold: Annotated[Decimal, AS_DECIMAL_TEXT] | None
    window_minutes: int | None
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AlertRule) -> AlertRulePublic:
        return cls.model_validate(row)


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid") | with_examples(
        {"name": "ops", "url": "https://hooks.example.com/switchboard", "secret": "a-long-secret"}
    )

    name: Name
    url: Url
    format: WebhookFormat = WebhookFormat.JSON
    secret: Secret | None = None
    is_active: StrictBool = True


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    url: Url | None = None
    format: WebhookFormat | None = None
    secret: Secret | None = None
    """Sent: replaces the secret (null removes it). Left out: kept."""
    is_active: StrictBool | None = None


def webhook_fields(body: WebhookCreate | WebhookUpdate) -> dict[str, Any]:
    """The fields sent, as the service takes them (a URL as text)."""
    fields = body.model_dump(exclude_unset=True)
    if fields.get("url") is not None:
        fields["url"] = str(body.url)
    return fields


class WebhookPublic(BaseModel):
    id: RowId
    name: str
    url: str
    """Where it goes, the rest of its path masked: a Slack webhook's path is its credential."""
    format: WebhookFormat
    has_secret: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AlertWebhook) -> WebhookPublic:
        return cls(
            id=row.id,
            name=row.name,
            url=mask_url(row.url),
            format=WebhookFormat(row.format),
            has_secret=row.encrypted_secret is not None,
            is_active=row.is_active,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class AlertEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    state: AlertState
    actor: str
    note: str | None
    at: datetime


class AlertPublic(BaseModel):
    id: RowId
    rule_id: int
    kind: AlertKind
    subject: str
    dedup_key: str
    state: AlertState
    message: str
    details: dict[str, Any]
    raised_at: datetime
    updated_at: datetime
    history: list[AlertEventPublic] | None = None
    """The alert's states, oldest first (in answers about one alert)."""

    @classmethod
    def of(cls, row: Alert, events: list[AlertEvent] | None = None) -> AlertPublic:
        return cls(
            id=row.id,
            rule_id=row.rule_id,
            kind=AlertKind(row.kind),
            subject=row.subject,
            dedup_key=row.dedup_key,
            state=AlertState(row.state),
            message=row.message,
            details=row.details,
            raised_at=row.raised_at,
            updated_at=row.updated_at,
            history=None
            if events is None
            else [AlertEventPublic.model_validate(event) for event in events],
        )


class AlertStateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, Field(max_length=2000)] | None = None
