"""A round of alert evaluation in-process, over a synthetic spend history in the database:
a budget that at the last 24 hours' pace runs out before its month ends is a forecast alert,
today's platform spend over 3× the median of the week before is an anomaly; each raised once
however often the round runs."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.alerts.runner import AlertRunner
from switchboard.api.app import create_app
from switchboard.db import open_database
from switchboard.models import LLMModel, LLMUsageLog, User
from switchboard.secrets import SecretManager
from switchboard.services.rollups import rebuild_rollups
from switchboard.settings import Settings
from tests.e2e.limits_rows import add_catalog

ALERTS = "/api/v1/admin/llm/alerts"
_IDS = itertools.count(1)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    """The app with the evaluation timer off: each test runs rounds itself."""
    settings = app_settings.model_copy(update={"alert_evaluation_interval_s": 0.0})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def spend(session: Session, user_id: str, at: datetime, dollars: str) -> None:
    session.add(
        LLMUsageLog(
            request_id=f"synthetic-{next(_IDS)}",
            user_id=user_id,
            cost_total_usd=Decimal(dollars),
            created_at=at,
        )
    )


def history(settings: Settings, write: object) -> None:
    sessions = open_database(settings.database_url)
    with sessions() as session:
        write(session)  # type: ignore[operator]
        session.flush()
        rebuild_rollups(session)  # rows written behind the usage writer's back
        session.commit()
    sessions.kw["bind"].dispose()


def evaluate(client: TestClient) -> int:
    runner: AlertRunner = client.app.state.alerts  # type: ignore[attr-defined]
    assert client.portal is not None
    return client.portal.call(runner.evaluator.evaluate)


def test_a_budget_running_out_before_its_month_ends_is_a_forecast_alert(
    client: TestClient, admin_headers: dict[str, str], app_settings: Settings
) -> None:
    now = datetime.now(UTC)

    def write(session: Session) -> None:
        session.add(User(id="ada", tier="free", monthly_budget_usd=Decimal("31")))
        session.add(User(id="bob", tier="free", monthly_budget_usd=Decimal("1000")))
        spend(session, "ada", now - timedelta(hours=1), "30")  # $1 left at $30 a day
        spend(session, "bob", now - timedelta(hours=1), "1")  # lasts well past the month

    history(app_settings, write)
    made = client.post(
        f"{ALERTS}/rules",
        json={"name": "Forecast", "kind": "spend_forecast"},
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    assert evaluate(client) == 1
    assert evaluate(client) == 0  # once per budget period
    (alert,) = client.get(ALERTS, headers=admin_headers).json()["items"]
    assert (alert["kind"], alert["subject"], alert["state"]) == (
        "spend_forecast",
        "user:ada",
        "firing",
    )
    runs_out = datetime.fromisoformat(alert["details"]["runs_out_at"])
    assert now < runs_out < now + timedelta(hours=2)
    assert alert["details"]["last_24h_usd"] == "30"
    assert f"runs out on {runs_out:%Y-%m-%d}" in alert["message"]


def test_todays_spend_over_three_times_the_weeks_median_is_an_anomaly(
    client: TestClient, admin_headers: dict[str, str], app_settings: Settings
) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def write(session: Session) -> None:
        session.add(User(id="ada", tier="free"))
        for days_ago, dollars in enumerate(["2", "1", "1", "1", "0.5", "1", "1"], start=1):
            spend(session, "ada", today - timedelta(days=days_ago) + timedelta(hours=1), dollars)
        spend(session, "ada", today, "3")  # 3× the median ($1): not over it

    history(app_settings, write)
    client.post(
        f"{ALERTS}/rules", json={"name": "Spike", "kind": "spend_anomaly"}, headers=admin_headers
    )
    assert evaluate(client) == 0
    history(app_settings, lambda session: spend(session, "ada", today, "0.01"))
    assert evaluate(client) == 1
    assert evaluate(client) == 0  # once a day
    (alert,) = client.get(ALERTS, params={"kind": "spend_anomaly"}, headers=admin_headers).json()[
        "items"
    ]
    assert alert["subject"] == "platform"
    assert alert["dedup_key"] == f"{today:%Y-%m-%d}"
    assert alert["details"] | {"day": ""} == {
        "today_usd": "3.01",
        "median_usd": "1",
        "factor": "3",
        "day": "",
        "rule_name": "Spike",
    }
    assert "over 3× the median of the previous 7 days ($1)" in alert["message"]


def test_traffic_and_deprecation_rules_over_the_last_minutes(
    client: TestClient,
    admin_headers: dict[str, str],
    app_settings: Settings,
    clean_environment: str,
) -> None:
    now = datetime.now(UTC)
    names: dict[str, int] = {}

    def write(session: Session) -> None:
        cipher = SecretManager([clean_environment])
        add_catalog(session, cipher, slug="busy", base_url="http://127.0.0.1:9", model_id="m1")
        model = session.scalars(select(LLMModel).where(LLMModel.model_id == "m1")).one()
        model.is_deprecated = True
        model.deprecation_date = now + timedelta(days=10)
        names["model"], names["provider"] = model.id, model.provider_id
        session.add(User(id="ada", tier="free"))
        for n in range(20):  # 5 of 20 failed; latencies 100, 200, … 2000 ms: p95 1900 ms
            session.add(
                LLMUsageLog(
                    request_id=f"traffic-{n}",
                    user_id="ada",
                    provider_id=model.provider_id,
                    model_id=model.id,
                    status_code=502 if n % 4 == 0 else 200,
                    latency_ms=(n + 1) * 100,
                    created_at=now - timedelta(minutes=5),
                )
            )

    history(app_settings, write)
    for rule in (
        {"kind": "error_rate", "threshold": 20, "window_minutes": 15},
        {"kind": "latency_p95", "scope": "model", "threshold": 1800},
        {"kind": "latency_p95", "threshold": 1900},  # not over it
        {"kind": "deprecated_traffic"},
        {"kind": "deprecation_soon", "threshold": 30},
        {"kind": "deprecation_soon", "threshold": 5},  # too far off
    ):
        made = client.post(f"{ALERTS}/rules", json={"name": "r"} | rule, headers=admin_headers)
        assert made.status_code == 201, made.text
    assert evaluate(client) == 4
    assert evaluate(client) == 0
    alerts = client.get(ALERTS, headers=admin_headers).json()["items"]
    found = sorted((a["kind"], a["subject"]) for a in alerts)
    provider, model = f"provider:{names['provider']}", f"model:{names['model']}"
    assert found == [
        ("deprecated_traffic", model),
        ("deprecation_soon", model),
        ("error_rate", provider),
        ("latency_p95", model),
    ]
    by_kind = {a["kind"]: a for a in alerts}
    assert by_kind["latency_p95"]["details"]["p95_ms"] == 1900
    assert "25.0% of 20 requests to busy failed" in by_kind["error_rate"]["message"]
