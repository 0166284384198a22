"""The console's Alerts page in-process: the alerts, rules and webhooks the admin API reads
and writes, from the same services; and the firing alerts on the Overview."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from switchboard.db import open_database
from switchboard.models import AlertRule, AlertWebhook
from switchboard.new_alert import NewAlert
from switchboard.services.alert_outbox import raise_alert
from switchboard.settings import Settings
from switchboard.vocabulary import AlertKind
from tests.api.alert_rows import ALERTS, count, stored_webhook
from tests.api.console_session import Console, signed_in


@pytest.fixture
def console(client: TestClient) -> Console:
    return signed_in(client)


def raised(settings: Settings, headers: dict[str, str], client: TestClient) -> list[int]:
    """Three alerts of two rules, raised a minute apart: their ids, oldest first."""
    budget = client.post(
        f"{ALERTS}/rules", json={"name": "Budgets", "kind": "budget_threshold"}, headers=headers
    ).json()
    health = client.post(
        f"{ALERTS}/rules", json={"name": "Health", "kind": "provider_health"}, headers=headers
    ).json()
    news = [
        NewAlert(budget["id"], AlertKind.BUDGET_THRESHOLD, "user:ada", "2026-12:50", "ada at 50%"),
        NewAlert(budget["id"], AlertKind.BUDGET_THRESHOLD, "user:bob", "2026-12:80", "bob at 80%"),
        NewAlert(health["id"], AlertKind.PROVIDER_HEALTH, "acme", "down:1", "acme is down"),
    ]
    sessions = open_database(settings.database_url)
    start = datetime.now(UTC) - timedelta(minutes=10)
    try:
        with sessions() as session:
            ids = [
                raise_alert(session, new, now=start + timedelta(minutes=n))
                for n, new in enumerate(news)
            ]
    finally:
        sessions.kw["bind"].dispose()
    assert None not in ids
    return [i for i in ids if i is not None]


def listed_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr id="alert-(\d+)"', html)]


def api_total(client: TestClient, headers: dict[str, str], **params: str) -> int:
    return int(client.get(ALERTS, params=params, headers=headers).json()["total"])


def test_the_list_is_newest_first_and_filters_agree_with_the_api(
    console: Console, admin_headers: dict[str, str], app_settings: Settings
) -> None:
    ada, bob, acme = raised(app_settings, admin_headers, console.client)
    page = console.client.get("/ui/alerts")
    assert page.status_code == 200
    assert listed_ids(page.text) == [acme, bob, ada]
    assert "3 alert(s), newest first" in page.text
    for params in ({"kind": "budget_threshold"}, {"state": "firing", "kind": "provider_health"}):
        shown = console.client.get("/ui/alerts", params=params)
        api = console.client.get(ALERTS, params=params, headers=admin_headers).json()
        assert listed_ids(shown.text) == [alert["id"] for alert in api["items"]]
        assert f"{api['total']} alert(s)" in shown.text
    assert console.client.get("/ui/alerts", params={"state": "dozing"}).status_code == 422
    empty = console.client.get("/ui/alerts", params={"state": "resolved"})
    assert listed_ids(empty.text) == [] and "No alerts match these filters." in empty.text


def test_acknowledge_and_resolve_change_the_state_the_api_reports(
    console: Console, admin_headers: dict[str, str], app_settings: Settings
) -> None:
    ada, bob, acme = raised(app_settings, admin_headers, console.client)
    acked = console.post(f"/ui/alerts/{ada}/acknowledge", {"back": "/ui/alerts?state=firing"})
    assert acked.status_code == 200 and f"Alert {ada} acknowledged." in acked.text
    assert acked.url.path == "/ui/alerts" and acked.url.params["state"] == "firing"
    assert listed_ids(acked.text) == [acme, bob]
    assert api_total(console.client, admin_headers, state="firing") == 2
    assert api_total(console.client, admin_headers, state="acknowledged") == 1

    again = console.post(f"/ui/alerts/{ada}/acknowledge")
    assert "Not changed" in again.text and "acknowledged" in again.text

    confirm = console.client.get(f"/ui/alerts/{bob}/resolve")
    assert confirm.status_code == 200 and f"Resolve alert {bob}?" in confirm.text
    done = console.post(f"/ui/alerts/{bob}/resolve", {"note": "budget raised"})
    assert f"Alert {bob} resolved." in done.text and "budget raised" in done.text
    detail = console.client.get(ALERTS + f"/{bob}", headers=admin_headers).json()
    assert [event["state"] for event in detail["history"]] == ["firing", "resolved"]
    assert api_total(console.client, admin_headers, state="resolved") == 1
    shown = console.client.get("/ui/alerts", params={"state": "firing"})
    assert listed_ids(shown.text) == [acme] and "1 alert(s)" in shown.text


def test_with_htmx_acknowledge_replaces_the_row_and_announces_it(
    console: Console, admin_headers: dict[str, str], app_settings: Settings
) -> None:
    ada, _bob, _acme = raised(app_settings, admin_headers, console.client)
    answer = console.post(
        f"/ui/alerts/{ada}/acknowledge",
        headers={"HX-Request": "true", "HX-Target": f"alert-{ada}"},
    )
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith(f'<tr id="alert-{ada}">')
    assert 'aria-live="polite" hx-swap-oob="true"' in answer.text
    assert f"Alert {ada} acknowledged." in answer.text and "<h1>" not in answer.text


def test_a_change_without_the_csrf_token_is_refused(
    console: Console, admin_headers: dict[str, str], app_settings: Settings
) -> None:
    ada, _bob, _acme = raised(app_settings, admin_headers, console.client)
    answer = console.client.post(f"/ui/alerts/{ada}/acknowledge", data={"note": "x"})
    assert answer.status_code == 403
    refused = console.client.post(
        "/ui/alerts/rules", data={"name": "x", "kind": "spend_anomaly", "csrf_token": "stale"}
    )
    assert refused.status_code == 403
    assert api_total(console.client, admin_headers, state="firing") == 3
    assert count(app_settings, AlertRule) == 2


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"kind": "error_rate", "threshold": "120"}, "threshold", "at most 100"),
        ({"kind": "budget_threshold", "thresholds": "50, 120"}, "thresholds", "1 to 100"),
        ({"kind": "budget_threshold", "thresholds": "lots"}, "thresholds", "whole percentages"),
        ({"kind": "spend_anomaly", "thresholds": "50"}, "thresholds", "has no thresholds"),
        ({"kind": "error_rate", "scope": "user"}, "scope", "one of: provider, model"),
        ({"kind": "weather"}, "kind", "choose one of the kinds"),
        ({"kind": "spend_anomaly", "name": ""}, "name", "is required"),
    ],
)
def test_a_bad_rule_shows_the_error_beside_its_field_and_stores_nothing(
    console: Console, app_settings: Settings, form: dict[str, str], field: str, message: str
) -> None:
    answer = console.post("/ui/alerts/rules", {"name": "Bad", **form})
    assert answer.status_code == 422
    beside = re.search(rf'<span id="rule-{field}-error" class="error">([^<]*)</span>', answer.text)
    assert beside and message in beside.group(1), answer.text
    assert f'aria-describedby="rule-{field}-error' in answer.text
    assert count(app_settings, AlertRule) == 0


def test_create_a_rule_with_its_kinds_fields_and_delete_it_after_confirming(
    console: Console, admin_headers: dict[str, str]
) -> None:
    page = console.client.get("/ui/alerts")
    for kind in AlertKind:
        assert f"<option>{kind}</option>" in page.text or f"<option selected>{kind}" in page.text
    made = console.post(
        "/ui/alerts/rules",
        {"name": "Slow", "kind": "latency_p95", "scope": "model", "threshold": "2500",
         "window_minutes": "30", "is_active": "on"},
    )  # fmt: skip
    assert made.status_code == 200 and "Rule Slow added." in made.text
    (rule,) = console.client.get(f"{ALERTS}/rules", headers=admin_headers).json()["items"]
    assert (rule["kind"], rule["scope"], rule["threshold"], rule["window_minutes"]) == (
        "latency_p95",
        "model",
        "2500",
        30,
    )
    confirm = console.client.get(f"/ui/alerts/rules/{rule['id']}/delete")
    assert "Delete alert rule Slow?" in confirm.text and "cannot be undone" in confirm.text
    deleted = console.post(f"/ui/alerts/rules/{rule['id']}/delete")
    assert "Rule Slow and its alerts deleted." in deleted.text
    assert console.client.get(f"{ALERTS}/rules", headers=admin_headers).json()["total"] == 0


def test_a_webhooks_secret_is_taken_and_never_shown_back(
    console: Console, admin_headers: dict[str, str], app_settings: Settings
) -> None:
    secret = "webhook-signing-secret-0123"
    made = console.post(
        "/ui/alerts/webhooks",
        {"name": "ops", "url": "http://127.0.0.1:9/hook", "format": "json", "secret": secret,
         "is_active": "on"},
    )  # fmt: skip
    assert made.status_code == 200 and "Webhook ops added." in made.text
    assert secret not in made.text
    (hook,) = console.client.get(f"{ALERTS}/webhooks", headers=admin_headers).json()["items"]
    assert hook["has_secret"] is True
    refused = console.post(
        "/ui/alerts/webhooks", {"name": "bad", "url": "ftp://example.com/x", "secret": secret}
    )
    assert refused.status_code == 422 and 'id="webhook-url-error"' in refused.text
    assert secret not in refused.text, "a refused form is shown again without its secret"
    assert count(app_settings, AlertWebhook) == 1
    confirm = console.client.get(f"/ui/alerts/webhooks/{hook['id']}/delete")
    assert secret not in confirm.text and "Delete webhook ops?" in confirm.text
    assert "Webhook ops deleted." in console.post(f"/ui/alerts/webhooks/{hook['id']}/delete").text
    assert count(app_settings, AlertWebhook) == 0


def beside(html: str, field_id: str) -> str | None:
    """The error shown beside a field, if its control says it is invalid and points at it."""
    found = re.search(rf'<span id="{field_id}-error" class="error">([^<]*)</span>', html)
    described = f'aria-invalid="true" aria-describedby="{field_id}-error' in html
    return found.group(1) if found and described else None


def test_edit_a_rule_shows_its_kinds_fields_and_a_refusal_stores_nothing(
    console: Console, admin_headers: dict[str, str]
) -> None:
    body = {"name": "Slow", "kind": "latency_p95", "scope": "model", "threshold": "2500"}
    rule = console.client.post(f"{ALERTS}/rules", json=body, headers=admin_headers).json()
    page = console.client.get(f"/ui/alerts/rules/{rule['id']}")
    assert page.status_code == 200 and 'value="2500"' in page.text
    assert 'name="threshold"' in page.text and 'name="thresholds"' not in page.text
    assert 'name="factor"' not in page.text, "only the fields a latency rule takes"
    assert f'href="/ui/alerts/rules/{rule["id"]}"' in console.client.get("/ui/alerts").text

    edit = {"name": "Slower", "kind": "latency_p95", "scope": "provider", "threshold": "5000",
            "window_minutes": "30", "is_active": "on"}  # fmt: skip
    saved = console.post(f"/ui/alerts/rules/{rule['id']}", edit)
    assert saved.status_code == 200 and "Rule Slower saved." in saved.text
    stored = console.client.get(f"{ALERTS}/rules/{rule['id']}", headers=admin_headers).json()
    assert (stored["name"], stored["scope"], stored["threshold"], stored["window_minutes"]) == (
        "Slower", "provider", "5000", 30
    )  # fmt: skip

    refused = console.post(f"/ui/alerts/rules/{rule['id']}", {**edit, "threshold": "9999999"})
    assert refused.status_code == 422
    assert "at most 3600000" in (beside(refused.text, "rule-threshold") or "")
    assert 'value="9999999"' in refused.text, "the form is shown again as it was sent"
    again = console.client.get(f"{ALERTS}/rules/{rule['id']}", headers=admin_headers).json()
    assert again == stored


def test_edit_a_webhook_keeping_its_masked_url_and_secret(
    console: Console, admin_headers: dict[str, str], app_settings: Settings
) -> None:
    secret, url = "webhook-signing-secret-0123", "http://127.0.0.1:9/services/T0/B0/xoxo-path"
    made = {"name": "ops", "url": url, "format": "json", "secret": secret, "is_active": "on"}
    assert console.post("/ui/alerts/webhooks", made).status_code == 200
    (hook,) = console.client.get(f"{ALERTS}/webhooks", headers=admin_headers).json()["items"]
    _, _, sealed = stored_webhook(app_settings, hook["id"])
    page = console.client.get(f"/ui/alerts/webhooks/{hook['id']}")
    assert page.status_code == 200 and "http://127.0.0.1:9/services/…" in page.text
    assert url not in page.text and secret not in page.text and "(stored: set)" in page.text

    kept = console.post(
        f"/ui/alerts/webhooks/{hook['id']}", {"name": "ops-2", "url": "", "secret": "",
                                              "format": "slack", "is_active": "on"}
    )  # fmt: skip
    assert kept.status_code == 200 and "Webhook ops-2 saved." in kept.text
    assert stored_webhook(app_settings, hook["id"]) == ("ops-2", url, sealed)

    refused = console.post(
        f"/ui/alerts/webhooks/{hook['id']}",
        {"name": "ops-3", "url": "ftp://example.com/x", "secret": "another-secret-456"},
    )
    assert refused.status_code == 422 and "http://" in (beside(refused.text, "webhook-url") or "")
    assert "another-secret-456" not in refused.text and "ftp://example.com/x" not in refused.text
    assert stored_webhook(app_settings, hook["id"]) == ("ops-2", url, sealed)

    short = console.post(f"/ui/alerts/webhooks/{hook['id']}", {"name": "ops", "secret": "short"})
    assert "8 to 500 characters" in (beside(short.text, "webhook-secret") or "")

    console.post(f"/ui/alerts/webhooks/{hook['id']}", {"name": "ops", "remove_secret": "on"})
    assert stored_webhook(app_settings, hook["id"]) == ("ops", url, None)
    answer = console.client.get(f"{ALERTS}/webhooks/{hook['id']}", headers=admin_headers)
    assert answer.json()["has_secret"] is False and answer.json()["format"] == "json"


def test_the_overview_shows_the_newest_firing_alerts_or_says_there_are_none(
    console: Console, admin_headers: dict[str, str], app_settings: Settings
) -> None:
    empty = console.client.get("/ui/")
    assert "No alerts are firing." in empty.text
    ada, bob, acme = raised(app_settings, admin_headers, console.client)
    console.post(f"/ui/alerts/{bob}/acknowledge")
    overview = console.client.get("/ui/")
    shown = [int(i) for i in re.findall(r'<li><a href="/ui/alerts/(\d+)">', overview.text)]
    assert shown == [acme, ada]
    assert 'href="/ui/alerts?state=firing"' in overview.text
    assert "No alerts are firing." not in overview.text
