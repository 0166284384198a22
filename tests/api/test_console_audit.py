"""The console's audit log in-process: a change made in the console is listed, with what it
changed and never a secret."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.console_session import signed_in


def test_a_provider_change_is_listed_without_its_key(client: TestClient) -> None:
    console = signed_in(client)
    console.post(
        "/ui/providers/new",
        {"provider_name": "Acme", "provider_slug": "acme", "api_key": "sk-acme-secret-424242"},
    )
    page = client.get("/ui/audit", params={"entity_type": "provider", "actor": "admin"})
    assert page.status_code == 200
    assert "acme" in page.text and "create" in page.text
    assert "sk-acme-secret-424242" not in page.text
    none = client.get("/ui/audit", params={"entity_type": "model"})
    assert "0 entries" in none.text
