"""'My keys' in-process: a user signs in with their virtual key, manages their own provider
keys, and is signed out when that virtual key is revoked."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from switchboard.db import open_database
from switchboard.models import User, VirtualKey
from switchboard.settings import Settings
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
    asked = me.post(f"/ui/me/keys/{row['id']}", {"action": "deactivate"})
    assert "Deactivate your key" in asked.text and 'name="action" value="deactivate"' in asked.text
    off = me.post(f"/ui/me/keys/{row['id']}", {"action": "deactivate", "confirmed": "yes"})
    assert "deactivated" in off.text
    assert me.post(f"/ui/me/keys/{row['id']}", {"action": "validate"}).status_code == 200
    deleted = me.post(f"/ui/me/keys/{row['id']}/delete")
    assert "deleted" in deleted.text and "No keys of your own yet" in deleted.text


def _delete_user(settings: Settings, user_id: str) -> None:
    """No surface deletes a user; the row may still go (by hand, or a future clean-up)."""
    sessions = open_database(settings.database_url)
    try:
        with sessions() as session:
            session.execute(delete(VirtualKey).where(VirtualKey.user_id == user_id))
            session.execute(delete(User).where(User.id == user_id))
            session.commit()
    finally:
        sessions.kw["bind"].dispose()


@pytest.mark.parametrize(
    ("ending", "reason"),
    [
        ("revoke", "The API key you signed in with was revoked"),
        ("deactivate", "Your account has been deactivated"),
        ("delete", "Your account no longer exists"),
    ],
)
def test_an_ended_account_or_key_ends_the_session_with_a_notice(
    client: TestClient,
    admin_headers: dict[str, str],
    app_settings: Settings,
    ending: str,
    reason: str,
) -> None:
    key, key_id = user_with_key(client, admin_headers)
    me = signed_in(client, key, path="/ui/me/sign-in")
    assert client.get("/ui/me").status_code == 200
    if ending == "revoke":
        client.post(f"{ADMIN}/users/ada/keys/{key_id}/revoke", headers=admin_headers)
    elif ending == "deactivate":
        client.patch(f"{ADMIN}/users/ada", json={"is_active": False}, headers=admin_headers)
    else:
        _delete_user(app_settings, "ada")

    stale = client.cookies.get("sb_console")
    assert stale
    answer = me.post(
        "/ui/me/keys", {"provider_id": "1", "api_key": BYOK_KEY}, follow_redirects=False
    )
    assert answer.status_code == 303, "a form sent after the end is not a 500"
    location = answer.headers["location"]
    assert location.startswith("/ui/me/sign-in?notice=")
    assert 'sb_console="";' in answer.headers["set-cookie"], "the session cookie is dropped"
    page = client.get(location)
    assert page.status_code == 200 and reason in page.text
    assert client.get("/ui/me", follow_redirects=False).headers["location"] == "/ui/me/sign-in"

    client.cookies.set("sb_console", stale, path="/ui")
    htmx = client.get("/ui/me", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 204 and htmx.headers["hx-redirect"] == location


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
