"""The console's providers page in-process: the same rows the admin API reads and writes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.console_session import Console, signed_in


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
