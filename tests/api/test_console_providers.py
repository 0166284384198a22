"""The console's providers page in-process: the same rows the admin API reads and writes."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.api.console_session import Console, signed_in

ADMIN = "/api/v1/admin/llm"


@pytest.fixture
def console(client: TestClient) -> Console:
    return signed_in(client)


def provider(client: TestClient, headers: dict[str, str], slug: str) -> dict[str, object]:
    listing = client.get("/api/v1/admin/llm/providers", params={"slug": slug}, headers=headers)
    (row,) = listing.json()["items"]
    return dict(row)


def test_create_edit_deactivate_and_delete_a_provider(
    console: Console, admin_headers: dict[str, str]
) -> None:
    created = console.post(
        "/ui/providers/new",
        {
            "provider_name": "Acme",
            "provider_slug": "acme",
            "api_format": "mock",
            "api_key": "sk-acme-secret-0123456789",
            "is_active": "on",
        },
    )
    assert created.status_code == 200 and "Provider acme added." in created.text
    assert "sk-acme-secret-0123456789" not in created.text
    row = provider(console.client, admin_headers, "acme")
    assert row["api_key_masked"] and row["is_active"] is True

    edit = console.client.get(f"/ui/providers/{row['id']}")
    assert "sk-acme-secret-0123456789" not in edit.text and str(row["api_key_masked"]) in edit.text
    saved = console.post(
        f"/ui/providers/{row['id']}",
        {"provider_name": "Acme Inc", "provider_slug": "acme", "api_format": "mock"},
    )
    assert saved.status_code == 200
    row = provider(console.client, admin_headers, "acme")
    assert row["provider_name"] == "Acme Inc" and row["is_active"] is False
    assert row["api_key_masked"], "an empty key field keeps the stored key"

    deleted = console.post(f"/ui/providers/{row['id']}/delete")
    assert "Provider acme deleted." in deleted.text


def test_a_wrong_field_shows_the_form_again_with_the_error(console: Console) -> None:
    answer = console.post(
        "/ui/providers/new", {"provider_name": "X", "provider_slug": "Not A Slug"}
    )
    assert answer.status_code == 422 and "provider_slug" in answer.text


def test_a_change_without_the_csrf_token_is_refused(console: Console) -> None:
    answer = console.client.post(
        "/ui/providers/new", data={"provider_name": "Acme", "provider_slug": "acme"}
    )
    assert answer.status_code == 403


def _statements_on(console: Console, path: str) -> tuple[str, list[str]]:
    """The page, and the SQL statements run while it was answered (the gateway's background
    catalog poll's among them)."""
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(Engine, "before_cursor_execute", count)
    try:
        page = console.client.get(path)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert page.status_code == 200
    return page.text, seen


def test_the_list_shows_model_counts_and_byok_with_one_query_for_all_counts(
    console: Console, admin_headers: dict[str, str]
) -> None:
    api = console.client
    ids = []
    for slug, byok in (("acme", True), ("zeta", False)):
        body = {"provider_name": slug, "provider_slug": slug, "is_byok_supported": byok}
        ids.append(api.post(f"{ADMIN}/providers", json=body, headers=admin_headers).json()["id"])
    for n in range(3):
        model = {"provider_id": ids[0], "model_name": f"m{n}", "model_id": f"m{n}",
                 "cost_per_1m_input_tokens": "1", "cost_per_1m_output_tokens": "1"}  # fmt: skip
        assert api.post(f"{ADMIN}/models", json=model, headers=admin_headers).status_code == 201
    page, _ = _statements_on(console, "/ui/providers")
    cells = re.findall(
        r'data-label="Models"><a [^>]*>(\d+)</a></td>\s*<td data-label="BYOK">(\w+)', page
    )
    assert cells == [("3", "yes"), ("0", "no")]
    assert len(re.findall(r"data-label=\"Last check\"><span id=\"checked-\d+\">never<", page)) == 2
    for slug in ("p1", "p2", "p3"):
        body = {"provider_name": slug, "provider_slug": slug}
        api.post(f"{ADMIN}/providers", json=body, headers=admin_headers)
    _, statements = _statements_on(console, "/ui/providers")
    grouped = [sql for sql in statements if "GROUP BY llm_models.provider_id" in sql]
    one_by_one = [sql for sql in statements if "llm_models.provider_id = " in sql]
    assert len(grouped) == 1 and not one_by_one, statements


def test_deactivating_a_provider_is_confirmed_first(
    console: Console, admin_headers: dict[str, str]
) -> None:
    body = {"provider_name": "Acme", "provider_slug": "acme"}
    row = console.client.post(f"{ADMIN}/providers", json=body, headers=admin_headers).json()
    asked = console.post(f"/ui/providers/{row['id']}/active")
    assert "Deactivate provider acme?" in asked.text
    assert provider(console.client, admin_headers, "acme")["is_active"] is True
    done = console.post(f"/ui/providers/{row['id']}/active", {"confirmed": "yes"})
    assert "Provider acme deactivated." in done.text
    assert provider(console.client, admin_headers, "acme")["is_active"] is False


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"provider_slug": "acme"}, "provider_slug", "already exists"),
        ({"provider_slug": "zeta", "base_url": "ftp://x"}, "base_url", "http://"),
        ({"provider_slug": "zeta", "api_format": "smoke-signals"}, "api_format", "no adapter"),
        ({"provider_slug": "zeta", "api_key": "has space"}, "api_key", "printable"),
    ],
)
def test_a_refused_provider_shows_the_reason_beside_the_field_and_stores_nothing(
    console: Console, admin_headers: dict[str, str], form: dict[str, str], field: str, message: str
) -> None:
    body = {"provider_name": "Acme", "provider_slug": "acme"}
    console.client.post(f"{ADMIN}/providers", json=body, headers=admin_headers)
    before = console.client.get(f"{ADMIN}/providers", headers=admin_headers).json()
    answer = console.post("/ui/providers/new", {"provider_name": "Z", **form})
    assert answer.status_code == 422
    beside = re.search(rf'<span id="{field}-error" class="error">([^<]*)</span>', answer.text)
    assert beside and message in beside.group(1), answer.text
    assert f'aria-invalid="true" aria-describedby="{field}-error' in answer.text
    assert "has space" not in answer.text, "a refused key is not shown back"
    assert console.client.get(f"{ADMIN}/providers", headers=admin_headers).json() == before
