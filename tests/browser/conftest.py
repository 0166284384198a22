"""Browser tests of the console: Debian's Chromium, driven by Playwright, against a real
`switchboard serve` on SQLite and on PostgreSQL, with the fake upstream as its provider.

Chromium comes from the system (`apt-get install chromium`), never from Playwright's own
download; without it these tests are skipped, saying why. Screenshots go to
`tests/browser/artifacts/` (not committed)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

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

    @property
    def ui(self) -> str:
        return f"{self.gateway.base_url}/ui"


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[ConsoleWorld]:
    with stage.catalog() as rows:
        fake = rows.provider("fake")
        rows.rule(rows.model(fake, "fake-chat"))
        key = rows.user("walt")
    env = {"ADMIN_TOKEN": ADMIN_TOKEN, "CONSOLE_FREE_SIGN_IN_FAILURES": "20"}
    with stage.gateway(env) as gateway:
        client(gateway, key).chat.completions.create(
            model="balanced", messages=[{"role": "user", "content": "Hi"}]
        )
        yield ConsoleWorld(gateway, stage, key)


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
