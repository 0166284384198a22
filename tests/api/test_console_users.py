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
    asked = console.post(f"/ui/users/ada/keys/{row['id']}/revoke")
    assert (
        asked.status_code == 200 and "Revoke key" in asked.text and "cannot be undone" in asked.text
    )
    assert api.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    revoked = console.post(f"/ui/users/ada/keys/{row['id']}/revoke", {"confirmed": "yes"})
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


def test_deactivating_a_user_is_confirmed_first(
    console: Console, admin_headers: dict[str, str]
) -> None:
    console.post("/ui/users", {"id": "ada", "tier": "free"})
    asked = console.post("/ui/users/ada/active")
    assert asked.status_code == 200 and "Deactivate user ada?" in asked.text
    assert (
        'name="confirmed" value="yes"' in asked.text and 'href="/ui/users/ada">Cancel' in asked.text
    )
    user = console.client.get(f"{ADMIN}/users/ada", headers=admin_headers).json()
    assert user["is_active"] is True, "nothing changes before the confirmation"
    done = console.post("/ui/users/ada/active", {"confirmed": "yes"})
    assert "User ada deactivated" in done.text
    user = console.client.get(f"{ADMIN}/users/ada", headers=admin_headers).json()
    assert user["is_active"] is False
    back = console.post("/ui/users/ada/active", {"is_active": "on"})
    assert "User ada reactivated" in back.text, "reactivating needs no confirmation"


@pytest.mark.parametrize(
    ("path", "form", "field", "message"),
    [
        ("/ui/users", {"id": "has space", "tier": "free"}, "id", "use letters"),
        ("/ui/users", {"id": "bob", "tier": "free", "monthly_budget_usd": "-1"},
         "monthly_budget_usd", "zero or more"),
        ("/ui/users/ada", {"tier": "free", "monthly_budget_usd": "lots"},
         "monthly_budget_usd", "not a number"),
        ("/ui/users/ada/keys", {"expires_in_days": "0"}, "expires_in_days", "1 to"),
    ],
)  # fmt: skip
def test_a_refused_field_is_shown_beside_it_and_nothing_is_stored(
    console: Console,
    admin_headers: dict[str, str],
    path: str,
    form: dict[str, str],
    field: str,
    message: str,
) -> None:
    console.post("/ui/users", {"id": "ada", "tier": "starter", "monthly_budget_usd": "5"})
    before = console.client.get(f"{ADMIN}/users", headers=admin_headers).json()
    keys = console.client.get(f"{ADMIN}/users/ada/keys", headers=admin_headers).json()
    answer = console.post(path, form)
    assert answer.status_code == 422
    beside = re.search(rf'<span id="{field}-error" class="error">([^<]*)</span>', answer.text)
    assert beside and message in beside.group(1), answer.text
    assert f'aria-invalid="true" aria-describedby="{field}-error"' in answer.text
    assert console.client.get(f"{ADMIN}/users", headers=admin_headers).json() == before
    assert console.client.get(f"{ADMIN}/users/ada/keys", headers=admin_headers).json() == keys
