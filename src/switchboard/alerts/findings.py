"""What each kind of alert rule finds, as pure functions over the data they are given: the
same inputs always give the same findings, and nothing here does I/O.

A finding (a `NewAlert`) names its subject (`user:ada`, `key:12`, `platform`, `provider:3`)
and a dedup key that says which occurrence it is (a budget period and threshold, a day, an
outage): the database raises one alert per rule, subject and dedup key, however often, and by
however many replicas, the same finding is made.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from switchboard.new_alert import NewAlert
from switchboard.vocabulary import AlertKind, AlertScope, HealthStatus

DEFAULT_THRESHOLDS = (50, 80, 100)
UNITS_PER_DOLLAR = 10**10
"""Money comes in integer units of 10⁻¹⁰ dollars, as the limits count it."""
ANOMALY_DAYS = 7
_DOWN = frozenset({HealthStatus.DOWN, HealthStatus.UNHEALTHY})


@dataclass(frozen=True, slots=True)
class Rule:
    """An alert rule as evaluation reads it."""

    id: int
    name: str
    kind: AlertKind
    scope: AlertScope | None = None
    subject: str | None = None
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    factor: Decimal | None = None
    threshold: Decimal | None = None
    window_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class BudgetStanding:
    """One budget's current period: whose, how much, how much is spent."""

    scope: AlertScope
    """`user` or `key`: whose budget it is (a tier's budget is each of its users')."""
    owner: str
    tier: str
    limit_units: int
    spent_units: int
    period_start: datetime
    period_end: datetime
    user_id: str


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    provider_id: int
    slug: str
    status: HealthStatus
    changed_at: datetime
    """When the status last changed (the provider row's `updated_at`)."""
    error: str | None = None


def _finding(
    rule: Rule,
    subject: str,
    dedup_key: str,
    message: str,
    details: Mapping[str, Any],
    resolves: int | None = None,
) -> NewAlert:
    return NewAlert(
        rule.id,
        rule.kind,
        subject,
        dedup_key,
        message,
        dict(details) | {"rule_name": rule.name},
        resolves,
    )


def dollars(units: int) -> str:
    return format((Decimal(units) / UNITS_PER_DOLLAR).normalize(), "f")


def applies(rule: Rule, standing: BudgetStanding) -> bool:
    """Whether a budget rule watches this budget: a user rule a user's (theirs, or any with
    no subject), a key rule a key's, a tier rule the budgets of the tier's users."""
    if rule.scope is AlertScope.KEY:
        return standing.scope is AlertScope.KEY and rule.subject in (None, standing.owner)
    if standing.scope is not AlertScope.USER:
        return False
    if rule.scope is AlertScope.TIER:
        return rule.subject in (None, standing.tier)
    return rule.subject in (None, standing.owner)


def budget_thresholds(rule: Rule, standing: BudgetStanding) -> list[NewAlert]:
    """Every threshold of `rule` the budget has reached in its current period."""
    if not applies(rule, standing) or standing.limit_units <= 0:
        return []
    subject = f"{standing.scope}:{standing.owner}"
    found = []
    for percent in sorted(rule.thresholds):
        if standing.spent_units * 100 < standing.limit_units * percent:
            break
        found.append(
            _finding(
                rule=rule,
                subject=subject,
                dedup_key=f"{standing.period_start:%Y-%m-%d}:{percent}",
                message=(
                    f"The {standing.scope} {standing.owner!r} has spent {percent}% of its "
                    f"budget: ${dollars(standing.spent_units)} of "
                    f"${dollars(standing.limit_units)} (period from "
                    f"{standing.period_start:%Y-%m-%d})."
                ),
                details=_budget_details(standing) | {"threshold_percent": percent},
            )
        )
    return found


def runs_out_at(
    *, spent_units: int, limit_units: int, last_day_units: int, now: datetime
) -> datetime | None:
    """When the budget runs out at the pace of the last 24 hours; None if nothing was spent
    in them, or it has run out already."""
    if last_day_units <= 0 or spent_units >= limit_units:
        return None
    left = limit_units - spent_units
    return now + timedelta(days=1) * (left / last_day_units)


def spend_forecast(
    rule: Rule, standing: BudgetStanding, *, last_day_units: int, now: datetime
) -> NewAlert | None:
    """A finding when, at the last 24 hours' pace, the budget runs out before its period
    ends: once per budget period."""
    if not applies(rule, standing):
        return None
    when = runs_out_at(
        spent_units=standing.spent_units,
        limit_units=standing.limit_units,
        last_day_units=last_day_units,
        now=now,
    )
    if when is None or when >= standing.period_end:
        return None
    return _finding(
        rule=rule,
        subject=f"{standing.scope}:{standing.owner}",
        dedup_key=f"{standing.period_start:%Y-%m-%d}",
        message=(
            f"At the last 24 h's pace (${dollars(last_day_units)} a day) the budget of the "
            f"{standing.scope} {standing.owner!r} runs out on {when:%Y-%m-%d}, before its "
            f"period ends on {standing.period_end:%Y-%m-%d}."
        ),
        details=_budget_details(standing)
        | {"runs_out_at": when.isoformat(), "last_24h_usd": dollars(last_day_units)},
    )


def spend_anomaly(
    rule: Rule, *, today: datetime, today_units: int, previous_days: Sequence[int]
) -> NewAlert | None:
    """A finding when today's platform spend is over `factor` × the median of the previous
    days (seven; a day without spend counts as 0). No median, no anomaly."""
    factor = (rule.factor or Decimal(3)).normalize()
    median = Decimal(statistics.median(previous_days)) if previous_days else Decimal(0)
    if median <= 0 or today_units <= factor * median:
        return None
    return _finding(
        rule=rule,
        subject="platform",
        dedup_key=f"{today:%Y-%m-%d}",
        message=(
            f"Today's spend, ${dollars(today_units)}, is over {factor:f}× the median of the "
            f"previous {len(previous_days)} days (${dollars(int(median))})."
        ),
        details={
            "today_usd": dollars(today_units),
            "median_usd": dollars(int(median)),
            "factor": format(factor, "f"),
            "day": f"{today:%Y-%m-%d}",
        },
    )


def provider_health(
    rule: Rule, providers: Iterable[ProviderHealth], open_outages: Mapping[int, int]
) -> list[NewAlert]:
    """A provider that is down (with no outage alert open): its outage, keyed by when it went
    down. One that is up again while its outage alert is open (`open_outages`: provider id →
    alert id): its recovery, which resolves the outage."""
    found = []
    for provider in providers:
        if rule.subject not in (None, provider.slug):
            continue
        subject = f"provider:{provider.provider_id}"
        details = {"provider": provider.slug, "status": str(provider.status)}
        outage = open_outages.get(provider.provider_id)
        if provider.status in _DOWN and outage is None:
            found.append(
                _finding(
                    rule=rule,
                    subject=subject,
                    dedup_key=f"down:{provider.changed_at.isoformat()}",
                    message=f"Provider {provider.slug!r} is down: {provider.error or 'no answer'}.",
                    details=details | {"event": "down", "error": provider.error},
                )
            )
        elif provider.status not in _DOWN and outage is not None:
            found.append(
                _finding(
                    rule=rule,
                    subject=subject,
                    dedup_key=f"recovered:{outage}",
                    message=f"Provider {provider.slug!r} has recovered ({provider.status}).",
                    details=details | {"event": "recovered", "outage_alert_id": outage},
                    resolves=outage,
                )
            )
    return found


def _budget_details(standing: BudgetStanding) -> dict[str, Any]:
    return {
        "scope": str(standing.scope),
        "owner": standing.owner,
        "user_id": standing.user_id,
        "tier": standing.tier,
        "limit_usd": dollars(standing.limit_units),
        "spent_usd": dollars(standing.spent_units),
        "period_start": standing.period_start.isoformat(),
        "period_end": standing.period_end.isoformat(),
    }


# Traffic: error rate and latency over a window ------------------------------------------

MIN_REQUESTS = 10
"""Fewer requests than this in a window say nothing about an error rate."""


@dataclass(frozen=True, slots=True)
class Traffic:
    """A provider's or model's requests in the window: how many failed (5xx or no answer),
    and the 95th percentile of their latency."""

    subject: str
    """`provider:<id>` or `model:<id>`."""
    label: str
    """The provider's slug or the model's id: what a rule's `subject` names."""
    requests: int
    errors: int
    p95_ms: int | None


@dataclass(frozen=True, slots=True)
class Episodes:
    """What a traffic rule finds: subjects newly over the threshold, and the open alerts of
    subjects no longer over it (resolved)."""

    raised: list[NewAlert]
    resolved: list[int]


def error_rate(
    rule: Rule, traffic: Iterable[Traffic], open_alerts: Mapping[str, int], *, bucket: str
) -> Episodes:
    """Subjects whose share of failed requests is over `threshold` % (with at least
    MIN_REQUESTS requests). One alert per episode: raised in the window `bucket` it began,
    resolved when the rate is back under."""
    limit = rule.threshold or Decimal(10)

    def over(item: Traffic) -> str | None:
        if item.requests < MIN_REQUESTS or item.errors * 100 <= limit * item.requests:
            return None
        rate = Decimal(item.errors * 100) / item.requests
        return (
            f"{rate:.1f}% of {item.requests} requests to {item.label} failed in the last "
            f"{rule.window_minutes} minutes (over {limit.normalize():f}%)."
        )

    return _episodes(rule, traffic, open_alerts, over, bucket)


def latency_p95(
    rule: Rule, traffic: Iterable[Traffic], open_alerts: Mapping[str, int], *, bucket: str
) -> Episodes:
    """Subjects whose 95th percentile latency is over `threshold` ms; episodes as for
    `error_rate`."""
    limit = rule.threshold or Decimal(10_000)

    def over(item: Traffic) -> str | None:
        if item.p95_ms is None or item.p95_ms <= limit:
            return None
        return (
            f"The 95th percentile latency of {item.label} was {item.p95_ms} ms over the last "
            f"{rule.window_minutes} minutes (over {limit.normalize():f} ms)."
        )

    return _episodes(rule, traffic, open_alerts, over, bucket)


def _episodes(
    rule: Rule,
    traffic: Iterable[Traffic],
    open_alerts: Mapping[str, int],
    over: Callable[[Traffic], str | None],
    bucket: str,
) -> Episodes:
    raised, still_over = [], set()
    for item in traffic:
        if rule.subject not in (None, item.label):
            continue
        message = over(item)
        if message is None:
            continue
        still_over.add(item.subject)
        if item.subject not in open_alerts:
            details = {
                "label": item.label,
                "requests": item.requests,
                "errors": item.errors,
                "p95_ms": item.p95_ms,
                "window_minutes": rule.window_minutes,
            }
            raised.append(_finding(rule, item.subject, f"over:{bucket}", message, details))
    resolved = [alert for subject, alert in open_alerts.items() if subject not in still_over]
    return Episodes(raised, sorted(resolved))


# Models: deprecated and still used, or deprecated soon -----------------------------------


@dataclass(frozen=True, slots=True)
class ModelUse:
    model_pk: int
    model_id: str
    requests: int
    """Requests it served in the window (deprecated_traffic), or 0."""
    deprecation_date: datetime | None = None
    replacement: str | None = None


def deprecated_traffic(rule: Rule, models: Iterable[ModelUse], *, day: datetime) -> list[NewAlert]:
    """Deprecated models that served requests in the window: once a day per model."""
    return [
        _finding(
            rule,
            f"model:{model.model_pk}",
            f"{day:%Y-%m-%d}",
            f"The deprecated model {model.model_id} served {model.requests} requests in the "
            f"last {rule.window_minutes} minutes"
            + (f"; its replacement is {model.replacement}." if model.replacement else "."),
            {"model": model.model_id, "requests": model.requests, "replacement": model.replacement},
        )
        for model in models
        if model.requests > 0 and rule.subject in (None, model.model_id)
    ]


def deprecation_soon(rule: Rule, models: Iterable[ModelUse], *, now: datetime) -> list[NewAlert]:
    """Models whose deprecation date is within `threshold` days: once per date."""
    horizon = now + timedelta(days=float(rule.threshold or 30))
    return [
        _finding(
            rule,
            f"model:{model.model_pk}",
            f"{model.deprecation_date:%Y-%m-%d}",
            f"The model {model.model_id} is deprecated on {model.deprecation_date:%Y-%m-%d}"
            + (f"; its replacement is {model.replacement}." if model.replacement else "."),
            {
                "model": model.model_id,
                "deprecation_date": model.deprecation_date.isoformat(),
                "replacement": model.replacement,
            },
        )
        for model in models
        if model.deprecation_date is not None
        and now <= model.deprecation_date <= horizon
        and rule.subject in (None, model.model_id)
    ]
