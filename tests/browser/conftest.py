"""Browser tests of the console: Debian's Chromium, driven by Playwright, against a real
`switchboard serve` on SQLite and on PostgreSQL, with the fake upstream as its provider.

Chromium comes from the system (`apt-get install chromium`), never from Playwright's own
download; without it these tests are skipped, saying why. Screenshots go to
`tests/browser/artifacts/` (not committed)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from switchboard.services import alert_rules
from switchboard.services.alert_outbox import NewAlert, raise_alert
from switchboard.services.audit import Actor
from switchboard.vocabulary import AlertKind
from tests.browser.console_pages import sign_in
from tests.e2e.catalog_rows import client
from tests.e2e.conftest import e2e_database_url, e2e_sessions, encryption_key, stage
from tests.e2e.harness import GatewayProcess
from tests.e2e.stage import Stage

__all__ = ["e2e_database_url", "e2e_sessions", "encryption_key", "stage"]

CHROMIUM = Path("/usr/bin/chromium")
ADMIN_TOKEN = "sb-console-admin-token-0123456789abcdef"
ARTIFACTS = Path(__file__).parent / "artifacts"


@dataclass(frozen=True)
class ConsoleWorld:
    gateway: GatewayProcess
    stage: Stage
    user_key: str
    """A key of user `walt`, who may chat with the `fake-chat` model."""
    alerts: tuple[int, ...]
    """Firing alerts, oldest first."""

    @property
    def ui(self) -> str:
        return f"{self.gateway.base_url}/ui"


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[ConsoleWorld]:
    with stage.catalog() as rows:
        fake = rows.provider("fake")
        rows.rule(rows.model(fake, "fake-chat"))
        key = rows.user("walt")
    alerts = raise_alerts(stage)
    env = {"ADMIN_TOKEN": ADMIN_TOKEN, "CONSOLE_FREE_SIGN_IN_FAILURES": "20"}
    with stage.gateway(env) as gateway:
        client(gateway, key).chat.completions.create(
            model="balanced", messages=[{"role": "user", "content": "Hi"}]
        )
        yield ConsoleWorld(gateway, stage, key, alerts)


def raise_alerts(stage: Stage) -> tuple[int, ...]:
    """Two budget alerts of an inactive rule (so the gateway's evaluation leaves them be)."""
    now = datetime.now(UTC)
    with stage.sessions() as session:
        rule = alert_rules.create_rule(
            session,
            {"name": "Budgets", "kind": AlertKind.BUDGET_THRESHOLD, "is_active": False},
            actor=Actor.SYSTEM,
        )
        raised = [
            raise_alert(
                session,
                NewAlert(rule.id, AlertKind.BUDGET_THRESHOLD, subject, key, message),
                now=now - timedelta(minutes=minutes),
            )
            for subject, key, message, minutes in (
                ("user:walt", "2026-12:50", "walt has spent 50% of the month's budget", 30),
                ("user:grace", "2026-12:80", "grace has spent 80% of the month's budget", 5),
            )
        ]
    return tuple(alert_id for alert_id in raised if alert_id is not None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium`"
        print(f"SKIPPED browser tests: {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # axe-core is injected as an inline script, which the console's CSP refuses otherwise.
    context = browser.new_context(accept_downloads=True, bypass_csp=True)
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


@pytest.fixture
def admin(page: Page, world: ConsoleWorld) -> Page:
    """The page, signed in to the console world's gateway as the admin."""
    sign_in(page, world.ui, ADMIN_TOKEN)
    return page
