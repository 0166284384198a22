"""`switchboard alerts …`: rules and webhooks added, listed and removed; bad values refused
by the field's name with nothing stored; alerts listed, acknowledged and resolved."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import AlertRule, AlertWebhook
from switchboard.new_alert import NewAlert
from switchboard.secrets import SecretManager
from switchboard.services.alert_outbox import raise_alert
from switchboard.vocabulary import AlertKind
from tests.integration.cli_runner import invoke


@pytest.fixture
def cli_env(
    database_url: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)


def count(
    session_factory: sessionmaker[Session], table: type[AlertRule] | type[AlertWebhook]
) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_rules_and_webhooks_are_added_listed_and_removed(
    cli_env: None, session_factory: sessionmaker[Session]
) -> None:
    code, out = invoke("alerts", "rules", "add", "Budgets", "--kind", "budget_threshold")
    assert code == 0, out
    code, out = invoke(
        "alerts",
        "rules",
        "add",
        "Errors",
        "--kind",
        "error_rate",
        "--threshold",
        "5",
        "--window",
        "30",
    )
    assert code == 0, out
    code, out = invoke("alerts", "rules", "list")
    assert "50,80,100" in out and "30 min" in out
    code, out = invoke(
        "alerts",
        "webhooks",
        "add",
        "ops",
        "http://127.0.0.1:9/hook",
        "--format",
        "slack",
        "--secret",
        "a-secret-of-the-cli",
    )
    assert code == 0, out
    code, out = invoke("alerts", "webhooks", "list")
    assert "slack" in out and "a-secret-of-the-cli" not in out
    assert invoke("alerts", "rules", "remove", "1")[0] == 0
    assert invoke("alerts", "webhooks", "remove", "1")[0] == 0
    assert count(session_factory, AlertRule) == 1
    assert count(session_factory, AlertWebhook) == 0


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("rules", "add", "x", "--kind", "weather"), "kind"),
        (
            ("rules", "add", "x", "--kind", "budget_threshold", "--thresholds", "50,120"),
            "thresholds",
        ),
        (("rules", "add", "x", "--kind", "budget_threshold", "--thresholds", "-5"), "thresholds"),
        (("webhooks", "add", "ops", "not a url"), "url"),
        (("webhooks", "add", "ops", "http://169.254.169.254/"), "url"),
    ],
)
def test_bad_values_are_refused_by_name_and_nothing_is_stored(
    cli_env: None, session_factory: sessionmaker[Session], args: tuple[str, ...], field: str
) -> None:
    code, out = invoke("alerts", *args)
    assert code != 0
    assert field in out
    assert count(session_factory, AlertRule) == count(session_factory, AlertWebhook) == 0


def test_alerts_are_listed_acknowledged_and_resolved(
    cli_env: None, session_factory: sessionmaker[Session]
) -> None:
    assert invoke("alerts", "rules", "add", "Budgets", "--kind", "budget_threshold")[0] == 0
    with session_factory() as session:
        new = NewAlert(1, AlertKind.BUDGET_THRESHOLD, "user:ada", "2026-12-01:80", "80% spent")
        alert_id = raise_alert(session, new, now=datetime.now(UTC))
    code, out = invoke("alerts", "list", "--state", "firing")
    assert code == 0 and "user:ada" in out and "80% spent" in out
    assert "acknowledged" in invoke("alerts", "ack", str(alert_id))[1]
    assert "resolved" in invoke("alerts", "resolve", str(alert_id), "--note", "done")[1]
    code, out = invoke("alerts", "resolve", str(alert_id))
    assert code == 1 and "cannot become resolved" in out
    assert "user:ada" not in invoke("alerts", "list", "--state", "firing")[1]


def test_a_webhooks_secret_is_rotated_with_the_other_secrets(
    cli_env: None,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    clean_environment: str,
) -> None:
    code, out = invoke(
        "alerts", "webhooks", "add", "ops", "http://127.0.0.1:9/hook", "--secret", "s3cret-value"
    )
    assert code == 0, out
    new_key = Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEY", f"{new_key},{clean_environment}")
    code, out = invoke("secrets", "rotate")
    assert code == 0 and "1 alert webhook secret(s)" in out, out
    with session_factory() as session:
        stored = session.scalars(select(AlertWebhook.encrypted_secret)).one()
    assert stored is not None
    assert SecretManager([new_key]).decrypt_secret(stored) == "s3cret-value"
