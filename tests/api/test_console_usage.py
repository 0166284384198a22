"""The console's usage page and CSV export agree with the admin usage API on the same rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from switchboard.usage import write_records
from tests.api.console_session import Console, signed_in
from tests.api.test_admin_usage import T0, Catalog, hand_rows
from tests.api.test_admin_usage import catalog as catalog  # the fixture

URL = "/api/v1/admin/llm/usage"


@pytest.fixture
def console(client: TestClient) -> Console:
    return signed_in(client)


def test_the_view_and_its_csv_equal_the_admin_api(
    console: Console, admin_headers: dict[str, str], db: Session, catalog: Catalog
) -> None:
    write_records(db, hand_rows(catalog))
    db.commit()
    days = {"since": "2026-03-10", "until": "2026-03-12"}  # three whole UTC days
    period = {"since": T0.isoformat(), "until": (T0 + timedelta(days=3)).isoformat()}

    page = console.client.get("/ui/usage", params=days)
    assert page.status_code == 200
    stats = console.client.get(f"{URL}/users", params=period, headers=admin_headers).json()
    total = sum(item["total_requests"] for item in stats["items"])
    assert f'id="total-requests">{total}<' in page.text
    assert "GPT-4o mini" in page.text and "alice" in page.text

    ours = console.client.get("/ui/usage/export.csv", params=days)
    theirs = console.client.get(
        f"{URL}/export.csv",
        params={**period, "kind": "timeseries", "granularity": "day"},
        headers=admin_headers,
    )
    assert ours.status_code == 200 and ours.text == theirs.text

    filtered = console.client.get("/ui/usage/export.csv", params={**days, "user_id": "bob"})
    theirs_bob = console.client.get(
        f"{URL}/export.csv",
        params={**period, "granularity": "day", "user_id": "bob"},
        headers=admin_headers,
    )
    assert filtered.text == theirs_bob.text


def test_the_usage_page_needs_a_sign_in(client: TestClient) -> None:
    assert client.get("/ui/usage/export.csv", follow_redirects=False).status_code == 303


def test_a_form_sent_with_every_filter_on_any_shows_everything(console: Console) -> None:
    empty = dict.fromkeys(["since", "until", "user_id", "model_id", "provider_id"], "")
    everything = {**empty, "user_tier": "", "power_level": ""}
    assert console.client.get("/ui/usage", params=everything).status_code == 200
    assert console.client.get("/ui/usage/export.csv", params=everything).status_code == 200
    models = console.client.get("/ui/models", params={"q": "", "provider": "", "power": ""})
    assert models.status_code == 200
    assert console.client.get("/ui/users", params={"q": "", "tier": ""}).status_code == 200
    assert console.client.get("/ui/usage", params={"since": "yesterday"}).status_code == 422
