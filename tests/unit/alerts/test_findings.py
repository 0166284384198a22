"""What each kind of rule finds, over data made up here: no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from switchboard.alerts.findings import (
    BudgetStanding,
    ModelUse,
    ProviderHealth,
    Rule,
    Traffic,
    budget_thresholds,
    deprecated_traffic,
    deprecation_soon,
    error_rate,
    latency_p95,
    provider_health,
    runs_out_at,
    spend_anomaly,
    spend_forecast,
)
from switchboard.alerts.signing import signature, verify
from switchboard.vocabulary import AlertKind, AlertScope, HealthStatus

DOLLAR = 10**10
START = datetime(2026, 12, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)
BUDGET = Rule(1, "budgets", AlertKind.BUDGET_THRESHOLD, AlertScope.USER)
FORECAST = Rule(2, "forecast", AlertKind.SPEND_FORECAST, AlertScope.USER)


def standing(
    spent: int, *, scope: AlertScope = AlertScope.USER, owner: str = "ada", tier: str = "free"
) -> BudgetStanding:
    return BudgetStanding(scope, owner, tier, 100 * DOLLAR, spent, START, END, "ada")


@pytest.mark.parametrize(
    ("spent", "reached"),
    [
        (0, []),
        (49 * DOLLAR, []),
        (50 * DOLLAR, [50]),
        (99 * DOLLAR, [50, 80]),
        (100 * DOLLAR, [50, 80, 100]),
        (150 * DOLLAR, [50, 80, 100]),
    ],
)
def test_a_budget_reaches_each_threshold_once_per_period(spent: int, reached: list[int]) -> None:
    found = budget_thresholds(BUDGET, standing(spent))
    assert [f.details["threshold_percent"] for f in found] == reached
    assert [f.dedup_key for f in found] == [f"2026-12-01:{p}" for p in reached]
    assert {f.subject for f in found} <= {"user:ada"}


@pytest.mark.parametrize(
    ("rule", "budget", "applies"),
    [
        (
            Rule(1, "r", AlertKind.BUDGET_THRESHOLD, AlertScope.USER, "bob"),
            standing(DOLLAR * 90),
            False,
        ),
        (
            Rule(1, "r", AlertKind.BUDGET_THRESHOLD, AlertScope.TIER, "free"),
            standing(DOLLAR * 90),
            True,
        ),
        (
            Rule(1, "r", AlertKind.BUDGET_THRESHOLD, AlertScope.TIER, "starter"),
            standing(DOLLAR * 90),
            False,
        ),
        (Rule(1, "r", AlertKind.BUDGET_THRESHOLD, AlertScope.KEY), standing(DOLLAR * 90), False),
        (
            Rule(1, "r", AlertKind.BUDGET_THRESHOLD, AlertScope.KEY, "7"),
            standing(DOLLAR * 90, scope=AlertScope.KEY, owner="7"),
            True,
        ),
    ],
)
def test_a_rule_watches_the_budgets_of_its_scope_and_subject(
    rule: Rule, budget: BudgetStanding, applies: bool
) -> None:
    assert bool(budget_thresholds(rule, budget)) is applies


def test_a_forecast_says_when_the_budget_runs_out_if_before_the_period_ends() -> None:
    now = datetime(2026, 12, 10, tzinfo=UTC)
    # $40 left at $10 a day: runs out on the 14th, before January
    found = spend_forecast(FORECAST, standing(60 * DOLLAR), last_day_units=10 * DOLLAR, now=now)
    assert found is not None
    assert found.details["runs_out_at"].startswith("2026-12-14")
    assert "runs out on 2026-12-14" in found.message
    assert found.dedup_key == "2026-12-01"
    # $40 left at $1 a day: lasts past the period's end
    assert spend_forecast(FORECAST, standing(60 * DOLLAR), last_day_units=DOLLAR, now=now) is None
    assert runs_out_at(spent_units=1, limit_units=2, last_day_units=0, now=now) is None


def test_an_anomaly_is_today_over_factor_times_the_median_of_seven_days() -> None:
    rule = Rule(3, "anomaly", AlertKind.SPEND_ANOMALY, factor=Decimal(3))
    today = datetime(2026, 12, 5, tzinfo=UTC)
    week = [10, 12, 9, 11, 10, 0, 10]  # median 10
    assert spend_anomaly(rule, today=today, today_units=30, previous_days=week) is None
    found = spend_anomaly(rule, today=today, today_units=31, previous_days=week)
    assert found is not None and found.dedup_key == "2026-12-05" and found.subject == "platform"
    assert spend_anomaly(rule, today=today, today_units=5, previous_days=[0] * 7) is None


def test_a_provider_going_down_then_recovering_is_two_findings() -> None:
    rule = Rule(4, "health", AlertKind.PROVIDER_HEALTH)
    went_down = datetime(2026, 12, 5, 12, tzinfo=UTC)
    down = ProviderHealth(3, "fake", HealthStatus.DOWN, went_down, "timeout")
    (outage,) = provider_health(rule, [down], {})
    assert (outage.subject, outage.dedup_key) == ("provider:3", f"down:{went_down.isoformat()}")
    assert provider_health(rule, [down], {3: 41}) == []  # already open
    up = ProviderHealth(3, "fake", HealthStatus.HEALTHY, went_down, None)
    (recovery,) = provider_health(rule, [up], {3: 41})
    assert (recovery.dedup_key, recovery.resolves) == ("recovered:41", 41)
    assert provider_health(rule, [up], {}) == []


def test_a_signature_is_the_hmac_of_the_time_and_the_exact_body() -> None:
    body, sent = b'{"alert": 1}', 1_780_000_000
    header = signature("s3cret", body, sent)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify("s3cret", body, header, str(sent), now=sent + 10)
    assert not verify("s3cret", body + b" ", header, str(sent), now=sent)
    assert not verify("other", body, header, str(sent), now=sent)
    assert not verify("s3cret", body, header, str(sent + 1), now=sent)  # another time
    assert not verify("s3cret", body, header, str(sent), now=sent + 301)  # replayed later
    assert not verify("s3cret", body, header, None, now=sent)


def traffic(label: str, requests: int, errors: int, p95: int | None = None) -> Traffic:
    return Traffic(f"provider:{label}", label, requests, errors, p95)


def test_an_error_rate_over_the_threshold_is_one_alert_per_episode() -> None:
    rule = Rule(
        5,
        "errors",
        AlertKind.ERROR_RATE,
        AlertScope.PROVIDER,
        threshold=Decimal(10),
        window_minutes=15,
    )
    seen = [traffic("a", 100, 10), traffic("b", 100, 11), traffic("c", 9, 9)]
    found = error_rate(rule, seen, {}, bucket="2026-12-05T12:00")
    assert [(f.subject, f.dedup_key) for f in found.raised] == [
        ("provider:b", "over:2026-12-05T12:00")
    ]
    assert "11.0% of 100 requests to b failed" in found.raised[0].message
    assert found.resolved == []
    still = error_rate(rule, seen, {"provider:b": 7}, bucket="2026-12-05T12:15")
    assert (still.raised, still.resolved) == ([], [])
    over = error_rate(rule, [traffic("b", 100, 2)], {"provider:b": 7}, bucket="x")
    assert (over.raised, over.resolved) == ([], [7])


def test_a_p95_latency_over_the_threshold_is_an_alert() -> None:
    rule = Rule(
        6,
        "slow",
        AlertKind.LATENCY_P95,
        AlertScope.PROVIDER,
        subject="b",
        threshold=Decimal(2000),
        window_minutes=15,
    )
    seen = [traffic("a", 5, 0, 9000), traffic("b", 5, 0, 2500), traffic("c", 5, 0, None)]
    (found,) = latency_p95(rule, seen, {}, bucket="t").raised
    assert found.subject == "provider:b" and found.details["p95_ms"] == 2500


def test_deprecated_models_with_traffic_and_deprecations_within_n_days() -> None:
    now = datetime(2026, 12, 5, tzinfo=UTC)
    used = Rule(7, "old", AlertKind.DEPRECATED_TRAFFIC, window_minutes=60)
    models = [ModelUse(1, "old-model", 3, replacement="new-model"), ModelUse(2, "idle", 0)]
    (found,) = deprecated_traffic(used, models, day=now)
    assert (found.subject, found.dedup_key) == ("model:1", "2026-12-05")
    assert "replacement is new-model" in found.message
    soon = Rule(8, "soon", AlertKind.DEPRECATION_SOON, threshold=Decimal(30))
    dated = [
        ModelUse(1, "a", 0, now + timedelta(days=29)),
        ModelUse(2, "b", 0, now + timedelta(days=31)),
        ModelUse(3, "c", 0, now - timedelta(days=1)),
    ]
    assert [f.subject for f in deprecation_soon(soon, dated, now=now)] == ["model:1"]
