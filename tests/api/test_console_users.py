"""The console's users page in-process: create a user, change them, issue a key that works
(shown once), revoke it and see the gateway refuse it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.api.console_session import Console, signed_in

ADMIN = "/api/v1/admin/llm"


@pytest.fixture
def console(client: TestClient) -> Console:
    return signed_in(client)


def test_create_change_issue_and_revoke(console: Console, admin_headers: dict[str, str]) -> None:
    api = console.client
    created = console.post(
        "/ui/users",
        {"id": "ada", "tier": "starter", "display_name": "Ada", "monthly_budget_usd": ""},
    )
    assert "User ada created." in created.text
    saved = console.post(
        "/ui/users/ada",
        {"tier": "professional", "monthly_budget_usd": "12.5", "default_power_level": ""},
    )
    assert "User saved." in saved.text
    user = api.get(f"{ADMIN}/users/ada", headers=admin_headers).json()
    assert user["tier"] == "professional" and user["monthly_budget_usd"] == "12.5"

    issued = console.post("/ui/users/ada/keys", {"name": "laptop"})
    assert issued.status_code == 201
    match = re.search(r'id="issued-key">(sk-sb-[^<]+)<', issued.text)
    assert match
    key = match.group(1)
    assert api.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    again = api.get("/ui/users/ada")
    assert key not in again.text, "the key is shown once"

    (row,) = api.get(f"{ADMIN}/users/ada/keys", headers=admin_headers).json()
    revoked = console.post(f"/ui/users/ada/keys/{row['id']}/revoke")
    assert "revoked." in revoked.text
    assert api.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_search_finds_users_by_name(console: Console) -> None:
    console.post("/ui/users", {"id": "u1", "tier": "free", "display_name": "Grace Hopper"})
    console.post("/ui/users", {"id": "u2", "tier": "free", "display_name": "Alan Turing"})
    found = console.client.get("/ui/users", params={"q": "hopper"})
    assert "u1" in found.text and ">u2<" not in found.text


def test_a_taken_id_is_refused_with_the_form_again(console: Console) -> None:
    console.post("/ui/users", {"id": "ada", "tier": "free"})
    again = console.post("/ui/users", {"id": "ada", "tier": "free"})
    assert again.status_code == 422 and "already exists" in again.text


def test_the_list_is_paged_on_the_server(console: Console) -> None:
    for number in range(30):
        console.post("/ui/users", {"id": f"user-{number:02}", "tier": "free"})
    first = console.client.get("/ui/users")
    assert "Page 1 of 2 (30 in all)" in first.text and "user-24" in first.text
    assert "user-25" not in first.text
    second = console.client.get("/ui/users", params={"page": 2})
    assert (
        "Page 2 of 2" in second.text and "user-29" in second.text and "user-00" not in second.text
    )


def test_a_key_may_expire(console: Console, admin_headers: dict[str, str]) -> None:
    console.post("/ui/users", {"id": "ada", "tier": "free"})
    issued = console.post("/ui/users/ada/keys", {"name": "trial", "expires_in_days": "7"})
    assert issued.status_code == 201 and "expires " in issued.text
    (row,) = console.client.get(f"{ADMIN}/users/ada/keys", headers=admin_headers).json()
    assert row["expires_at"] is not None
    refused = console.post("/ui/users/ada/keys", {"expires_in_days": "0"})
    assert refused.status_code == 422 and "expires_in_days" in refused.text
