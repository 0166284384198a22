"""The admin API's alerts: rules and webhooks (bad input is a 422 naming the field, and
nothing is stored), alerts raised once per identity, listed, acknowledged and resolved."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from switchboard.db import open_database
from switchboard.models import AlertDelivery, AlertRule, AlertWebhook
from switchboard.new_alert import NewAlert
from switchboard.services.alert_outbox import raise_alert
from switchboard.settings import Settings
from switchboard.vocabulary import AlertKind
from tests.api.alert_rows import ALERTS, count


def test_a_budget_rule_has_50_80_100_by_default(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    made = client.post(
        f"{ALERTS}/rules",
        json={"name": "Budgets", "kind": "budget_threshold"},
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    assert made.json() | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0,
        "name": "Budgets",
        "kind": "budget_threshold",
        "scope": "user",
        "subject": None,
        "thresholds": [50, 80, 100],
        "factor": None,
        "threshold": None,
        "window_minutes": None,
        "is_active": True,
        "created_at": "",
        "updated_at": "",
    }
    rule_id = made.json()["id"]
    changed = client.patch(
        f"{ALERTS}/rules/{rule_id}", json={"thresholds": [90, 75]}, headers=admin_headers
    )
    assert changed.json()["thresholds"] == [75, 90]
    listed = client.get(f"{ALERTS}/rules", headers=admin_headers).json()
    assert [rule["id"] for rule in listed["items"]] == [rule_id]
    assert client.delete(f"{ALERTS}/rules/{rule_id}", headers=admin_headers).status_code == 204
    assert client.get(f"{ALERTS}/rules/{rule_id}", headers=admin_headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "kind": "weather"}, "kind"),
        ({"name": "x", "kind": "budget_threshold", "thresholds": [50, 120]}, "thresholds"),
        ({"name": "x", "kind": "budget_threshold", "thresholds": [-5]}, "thresholds"),
        ({"name": "x", "kind": "budget_threshold", "scope": "galaxy"}, "scope"),
        ({"name": "x", "kind": "spend_anomaly", "thresholds": [50]}, "thresholds"),
        ({"name": "x", "kind": "provider_health", "scope": "user"}, "scope"),
        ({"name": "x", "kind": "spend_anomaly", "factor": -1}, "factor"),
        ({"name": "x", "kind": "error_rate", "threshold": 120}, "threshold"),
        ({"name": "x", "kind": "error_rate", "scope": "user"}, "scope"),
        ({"name": "x", "kind": "budget_threshold", "scope": "model"}, "scope"),
        ({"name": "x", "kind": "latency_p95", "window_minutes": 0}, "window_minutes"),
        ({"name": "x", "kind": "deprecation_soon", "window_minutes": 5}, "window_minutes"),
    ],
)
def test_a_bad_rule_is_a_422_naming_the_field_and_nothing_is_stored(
    client: TestClient,
    admin_headers: dict[str, str],
    app_settings: Settings,
    body: dict[str, object],
    field: str,
) -> None:
    answer = client.post(f"{ALERTS}/rules", json=body, headers=admin_headers)
    assert answer.status_code == 422, answer.text
    assert any(field in error["loc"] for error in answer.json()["detail"]), answer.json()
    assert count(app_settings, AlertRule) == 0


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "ftp://hooks.example.com/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
    ],
)
def test_a_webhook_url_that_is_not_one_or_the_policy_refuses_is_a_422_naming_url(
    client: TestClient, admin_headers: dict[str, str], app_settings: Settings, url: str
) -> None:
    answer = client.post(
        f"{ALERTS}/webhooks", json={"name": "ops", "url": url}, headers=admin_headers
    )
    assert answer.status_code == 422, answer.text
    assert any("url" in error["loc"] for error in answer.json()["detail"]), answer.json()
    assert count(app_settings, AlertWebhook) == 0


def test_a_webhooks_secret_is_stored_encrypted_and_never_shown(
    client: TestClient, admin_headers: dict[str, str], app_settings: Settings
) -> None:
    made = client.post(
        f"{ALERTS}/webhooks",
        json={"name": "ops", "url": "http://127.0.0.1:9/hook", "secret": "very-secret-value"},
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["has_secret"] is True
    assert "very-secret-value" not in made.text
    shown = client.get(f"{ALERTS}/webhooks", headers=admin_headers)
    assert "very-secret-value" not in shown.text
    audit = client.get("/api/v1/admin/llm/audit", headers=admin_headers)
    assert "very-secret-value" not in audit.text
    sessions = open_database(app_settings.database_url)
    with sessions() as session:
        stored = session.scalars(select(AlertWebhook)).one()
        assert stored.encrypted_secret and "very-secret" not in stored.encrypted_secret
    sessions.kw["bind"].dispose()


def test_a_slack_webhooks_path_is_its_credential_and_is_shown_masked(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    path = "/services/T0AAAAAAA/B0BBBBBBB/XXXXXXXXXXXXXXXXXXXXXXXX"
    made = client.post(
        f"{ALERTS}/webhooks",
        json={"name": "slack", "url": f"http://127.0.0.1:9{path}", "format": "slack"},
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["url"] == "http://127.0.0.1:9/services/…"
    for shown in (
        client.get(f"{ALERTS}/webhooks", headers=admin_headers),
        client.get(f"{ALERTS}/webhooks/{made.json()['id']}", headers=admin_headers),
        client.patch(
            f"{ALERTS}/webhooks/{made.json()['id']}", json={"name": "s2"}, headers=admin_headers
        ),
        client.get("/api/v1/admin/llm/audit", headers=admin_headers),
    ):
        assert shown.status_code == 200, shown.text
        assert "XXXXXXXX" not in shown.text and "T0AAAAAAA" not in shown.text


def test_an_alert_is_raised_once_listed_acknowledged_and_resolved(
    client: TestClient, admin_headers: dict[str, str], app_settings: Settings
) -> None:
    rule = client.post(
        f"{ALERTS}/rules", json={"name": "b", "kind": "budget_threshold"}, headers=admin_headers
    ).json()
    client.post(
        f"{ALERTS}/webhooks",
        json={"name": "ops", "url": "http://127.0.0.1:9/hook"},
        headers=admin_headers,
    )
    new = NewAlert(rule["id"], AlertKind.BUDGET_THRESHOLD, "user:ada", "2026-12-01:50", "50%")
    sessions = open_database(app_settings.database_url)
    with sessions() as session:
        now = datetime.now(UTC)
        first = raise_alert(session, new, now=now)
        again = raise_alert(session, new, now=now)
        deliveries = session.scalar(select(func.count()).select_from(AlertDelivery))
    sessions.kw["bind"].dispose()
    assert first is not None and again is None
    assert deliveries == 1
    listed = client.get(ALERTS, params={"state": "firing"}, headers=admin_headers).json()
    assert [alert["id"] for alert in listed["items"]] == [first]
    assert (
        client.get(ALERTS, params={"kind": "spend_anomaly"}, headers=admin_headers).json()["total"]
        == 0
    )
    assert client.get(ALERTS, params={"state": "dozing"}, headers=admin_headers).status_code == 422
    acked = client.post(f"{ALERTS}/{first}/acknowledge", headers=admin_headers)
    assert acked.json()["state"] == "acknowledged"
    assert client.post(f"{ALERTS}/{first}/acknowledge", headers=admin_headers).status_code == 409
    resolved = client.post(
        f"{ALERTS}/{first}/resolve", json={"note": "raised the budget"}, headers=admin_headers
    ).json()
    assert [event["state"] for event in resolved["history"]] == [
        "firing",
        "acknowledged",
        "resolved",
    ]
    assert resolved["history"][-1]["note"] == "raised the budget"
