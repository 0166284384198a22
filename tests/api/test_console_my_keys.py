"""'My keys' in-process: a user signs in with their virtual key, manages their own provider
keys, and is signed out when that virtual key is revoked."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.console_session import signed_in

ADMIN = "/api/v1/admin/llm"
BYOK_KEY = "sk-mine-0123456789abcdef"


def user_with_key(client: TestClient, headers: dict[str, str]) -> tuple[str, int]:
    client.post(
        f"{ADMIN}/providers",
        json={
            "provider_name": "Acme",
            "provider_slug": "acme",
            "api_format": "mock",
            "is_byok_supported": True,
        },
        headers=headers,
    )
    client.post(f"{ADMIN}/users", json={"id": "ada", "tier": "starter"}, headers=headers)
    issued = client.post(f"{ADMIN}/users/ada/keys", json={"name": "console"}, headers=headers)
    return issued.json()["key"], issued.json()["id"]


def test_a_user_manages_their_own_keys(client: TestClient, admin_headers: dict[str, str]) -> None:
    key, _ = user_with_key(client, admin_headers)
    me = signed_in(client, key, path="/ui/me/sign-in")
    page = client.get("/ui/me")
    assert "Signed in as ada" in page.text and key not in page.text
    assert client.get("/ui/providers", follow_redirects=False).status_code == 303

    provider_id = re.search(r'<option value="(\d+)"[^>]*>Acme', page.text)
    assert provider_id
    added = me.post(
        "/ui/me/keys",
        {"provider_id": provider_id.group(1), "api_key": BYOK_KEY, "key_name": "laptop"},
    )
    assert added.status_code == 200 and "added" in added.text
    assert BYOK_KEY not in added.text
    (row,) = client.get("/api/v1/llm/byok/keys", headers={"Authorization": f"Bearer {key}"}).json()
    assert row["key_name"] == "laptop"

    renamed = me.post(f"/ui/me/keys/{row['id']}", {"action": "rename", "key_name": "desk"})
    assert "renamed" in renamed.text and ">desk<" in renamed.text
    off = me.post(f"/ui/me/keys/{row['id']}", {"action": "deactivate"})
    assert "deactivated" in off.text
    assert me.post(f"/ui/me/keys/{row['id']}", {"action": "validate"}).status_code == 200
    deleted = me.post(f"/ui/me/keys/{row['id']}/delete")
    assert "deleted" in deleted.text and "No keys of your own yet." in deleted.text


def test_revoking_the_virtual_key_ends_the_session(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    key, key_id = user_with_key(client, admin_headers)
    signed_in(client, key, path="/ui/me/sign-in")
    assert client.get("/ui/me").status_code == 200
    client.post(f"{ADMIN}/users/ada/keys/{key_id}/revoke", headers=admin_headers)
    answer = client.get("/ui/me", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/me/sign-in"


def test_a_wrong_virtual_key_is_refused(client: TestClient) -> None:
    page = client.get("/ui/me/sign-in")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    answer = client.post(
        "/ui/me/sign-in", data={"token": "sk-sb-nope", "csrf_token": csrf.group(1)}
    )
    assert answer.status_code == 401 and "Wrong API key" in answer.text


def test_an_admin_session_is_not_a_user_session(client: TestClient) -> None:
    signed_in(client)
    answer = client.get("/ui/me", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/me/sign-in"
