"""Budget thresholds are raised as soon as a request's cost crosses them, without waiting for
an evaluation round (the timer is off here), and each once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from switchboard.api.app import create_app
from switchboard.db import open_database
from switchboard.secrets import SecretManager
from switchboard.settings import Settings
from tests.e2e.limits_rows import add_catalog, add_user
from tests.fake_upstream import FakeUpstream, Reply, running_fake_upstream

ALERTS = "/api/v1/admin/llm/alerts"
MODEL = "watched-model"


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with running_fake_upstream() as upstream:
        upstream.set_default(MODEL, Reply(prompt_tokens=6, completion_tokens=1000))
        yield upstream


@pytest.fixture
def key(app_settings: Settings, clean_environment: str, fake: FakeUpstream) -> str:
    sessions = open_database(app_settings.database_url)
    with sessions() as session:
        add_catalog(
            session,
            SecretManager([clean_environment]),
            slug="wt",
            base_url=fake.url,
            model_id=MODEL,
            input_price="1",
            output_price="10",
            max_output_tokens=1000,
        )
        made, _ = add_user(session, "ada", budget=Decimal("0.10006"))
        session.commit()
    sessions.kw["bind"].dispose()
    return made


@pytest.fixture
def client(app_settings: Settings, key: str) -> Iterator[TestClient]:
    settings = app_settings.model_copy(update={"alert_evaluation_interval_s": 0.0})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def chat(client: TestClient, key: str) -> int:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1000}
    answer = client.post(
        "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    return answer.status_code


def thresholds(client: TestClient, admin_headers: dict[str, str], count: int) -> list[int]:
    deadline = time.monotonic() + 5
    while True:
        items = client.get(ALERTS, headers=admin_headers).json()["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return sorted(item["details"]["threshold_percent"] for item in items)
        time.sleep(0.05)


def test_each_threshold_is_raised_once_as_the_request_that_crosses_it_settles(
    client: TestClient, admin_headers: dict[str, str], key: str
) -> None:
    made = client.post(
        f"{ALERTS}/rules", json={"name": "b", "kind": "budget_threshold"}, headers=admin_headers
    )
    assert made.status_code == 201
    assert [chat(client, key) for _ in range(4)] == [200] * 4
    assert thresholds(client, admin_headers, 1) == []  # 40%
    assert chat(client, key) == 200
    assert thresholds(client, admin_headers, 1) == [50]
    assert [chat(client, key) for _ in range(5)] == [200] * 5
    assert thresholds(client, admin_headers, 3) == [50, 80, 100]
    assert chat(client, key) == 429
    time.sleep(0.3)
    assert thresholds(client, admin_headers, 4) == [50, 80, 100]
