"""The console's audit log in-process: a change made in the console is listed, with what it
changed and never a secret."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.console_session import signed_in

ADMIN = "/api/v1/admin/llm"


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
    assert "No entries match these filters." in none.text


def test_every_changed_field_is_listed_folded_when_many_with_secrets_masked(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    console = signed_in(client)
    console.post(
        "/ui/providers/new",
        {"provider_name": "Acme", "provider_slug": "acme", "api_key": "sk-acme-secret-424242"},
    )
    created = client.get(
        f"{ADMIN}/audit", params={"entity_type": "provider"}, headers=admin_headers
    )
    (entry,) = created.json()["items"]
    changed = [
        name
        for name in {**(entry["before"] or {}), **(entry["after"] or {})}
        if name not in ("created_at", "updated_at")
        and (entry["before"] or {}).get(name) != (entry["after"] or {}).get(name)
    ]
    assert len(changed) > 8
    page = client.get("/ui/audit", params={"entity_type": "provider"})
    folded = re.search(
        r"<details><summary>(\d+) fields changed</summary>(.*?)</details>", page.text, re.S
    )
    assert folded and int(folded.group(1)) == len(changed)
    listed = re.findall(r"<li><strong>([^<]+)</strong>", folded.group(2))
    assert sorted(listed) == sorted(changed) and "more</li>" not in page.text
    assert "<strong>encrypted_api_key</strong>: – → (set)" in page.text
    assert "sk-acme-secret-424242" not in page.text

    console.post(
        f"/ui/providers/{entry['entity_id']}",
        {"provider_name": "Acme Inc", "provider_slug": "acme", "is_active": "on"},
    )
    page = client.get(
        "/ui/audit", params={"entity_type": "provider", "entity_id": entry["entity_id"]}
    )
    newest = page.text.split('<tr><td data-label="When">')[1]
    assert "<strong>provider_name</strong>: Acme → Acme Inc" in newest
    assert "<details>" not in newest.split("</tr>")[0], "a few changes are shown open"
