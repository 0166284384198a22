"""The admin API for users and virtual keys, through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from switchboard.secrets import hash_virtual_key
from tests.api.account_calls import USERS, create_user, eventually, issue_key, key_status


def test_create_read_and_list_users(client: TestClient, admin_headers: dict[str, str]) -> None:
    created = create_user(
        client,
        admin_headers,
        "ada",
        tier="starter",
        display_name="Ada Lovelace",
        email="ada@example.com",
        monthly_budget_usd="25.50",
        default_power_level="eco",
    )
    assert created["id"] == "ada"
    assert created["tier"] == "starter"
    assert created["monthly_budget_usd"] == "25.5"
    assert created["default_power_level"] == "eco"
    assert created["is_active"] is True
    create_user(client, admin_headers, "bob")
    create_user(client, admin_headers, "cy", tier="starter")

    read = client.get(f"{USERS}/ada", headers=admin_headers)
    assert read.status_code == 200
    assert read.json() == created

    everyone = client.get(USERS, headers=admin_headers).json()
    assert [user["id"] for user in everyone["items"]] == ["ada", "bob", "cy"]
    assert (everyone["total"], everyone["limit"], everyone["offset"]) == (3, 50, 0)
    starters = client.get(USERS, params={"tier": "starter"}, headers=admin_headers).json()
    assert [user["id"] for user in starters["items"]] == ["ada", "cy"]
    for params in [{"is_active": "1"}, {"tier": "gold"}, {"limit": 0}, {"offset": -1}]:
        assert client.get(USERS, params=params, headers=admin_headers).status_code == 422
    page = client.get(USERS, params={"limit": 1, "offset": 1}, headers=admin_headers).json()
    assert ([user["id"] for user in page["items"]], page["total"]) == (["bob"], 3)


def test_update_deactivate_and_reactivate(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    create_user(client, admin_headers, "ada", display_name="Ada")
    changed = client.patch(
        f"{USERS}/ada",
        json={
            "tier": "professional",
            "monthly_budget_usd": 100,
            "default_power_level": "precision",
            "display_name": None,
        },
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["tier"], body["monthly_budget_usd"]) == ("professional", "100")
    assert (body["default_power_level"], body["display_name"]) == ("precision", None)

    off = client.patch(f"{USERS}/ada", json={"is_active": False}, headers=admin_headers)
    assert off.json()["is_active"] is False
    inactive = client.get(USERS, params={"is_active": False}, headers=admin_headers).json()
    assert [user["id"] for user in inactive["items"]] == ["ada"]
    on = client.patch(f"{USERS}/ada", json={"is_active": True}, headers=admin_headers)
    assert on.json()["is_active"] is True


BAD_USER_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"tier": "platinum"}, "tier"),
    ({"monthly_budget_usd": -1}, "monthly_budget_usd"),
    ({"monthly_budget_usd": "lots"}, "monthly_budget_usd"),
    ({"email": "not-an-email"}, "email"),
    ({"default_power_level": "turbo"}, "default_power_level"),
    ({"id": "has space"}, "id"),
    ({"id": ""}, "id"),
    ({"budget": 5}, "budget"),
]


def test_create_user_rejects_bad_fields(client: TestClient, admin_headers: dict[str, str]) -> None:
    for body, field in BAD_USER_FIELDS:
        response = client.post(USERS, json={"id": "ada", **body}, headers=admin_headers)
        assert_rejected(response, field)
    assert client.get(USERS, headers=admin_headers).json()["total"] == 0


def test_update_user_rejects_bad_fields(client: TestClient, admin_headers: dict[str, str]) -> None:
    before = create_user(client, admin_headers, "ada")
    for body, field in [
        ({"tier": None}, "tier"),
        ({"is_active": None}, "is_active"),
        ({"id": "x"}, "id"),
        ({"monthly_budget_usd": "1e12"}, "monthly_budget_usd"),
    ]:
        response = client.patch(f"{USERS}/ada", json=body, headers=admin_headers)
        assert_rejected(response, field)
    assert client.get(f"{USERS}/ada", headers=admin_headers).json() == before


def test_duplicate_user_is_a_conflict(client: TestClient, admin_headers: dict[str, str]) -> None:
    create_user(client, admin_headers, "ada")
    again = client.post(USERS, json={"id": "ada"}, headers=admin_headers)
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]


def test_unknown_ids_are_not_found(client: TestClient, admin_headers: dict[str, str]) -> None:
    create_user(client, admin_headers, "ada")
    for method, path, body in [
        ("GET", "/nobody", None),
        ("PATCH", "/nobody", {"tier": "free"}),
        ("POST", "/nobody/keys", {}),
        ("GET", "/nobody/keys", None),
        ("POST", "/ada/keys/999/revoke", None),
        ("PATCH", "/ada/keys/999", {"name": "x"}),
    ]:
        response = client.request(method, USERS + path, json=body, headers=admin_headers)
        assert response.status_code == 404, (method, path)
        assert "does not exist" in response.json()["detail"]


def test_issue_list_and_revoke_keys(client: TestClient, admin_headers: dict[str, str]) -> None:
    create_user(client, admin_headers, "ada")
    issued = issue_key(client, admin_headers, "ada", name="backend", expires_in_days=30)
    key = issued["key"]
    assert key.startswith("sk-sb-")
    assert key.startswith(issued["key_prefix"]) and len(issued["key_prefix"]) < len(key)
    assert issued["status"] == "active" and issued["name"] == "backend"
    expires = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert key_status(client, key) == 200

    listed = client.get(f"{USERS}/ada/keys", headers=admin_headers)
    assert listed.status_code == 200
    [shown] = listed.json()
    assert "key" not in shown and "key_hash" not in shown
    assert key not in listed.text and hash_virtual_key(key) not in listed.text
    assert shown["key_prefix"] == issued["key_prefix"]

    revoked = client.post(f"{USERS}/ada/keys/{issued['id']}/revoke", headers=admin_headers)
    assert revoked.status_code == 200
    assert (revoked.json()["status"], revoked.json()["is_revoked"]) == ("revoked", True)
    assert revoked.json()["revoked_at"] is not None
    eventually(lambda: key_status(client, key) == 401)
    again = client.post(f"{USERS}/ada/keys/{issued['id']}/revoke", headers=admin_headers)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


def test_expire_a_key_and_make_it_never_expire(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    create_user(client, admin_headers, "ada")
    issued = issue_key(client, admin_headers, "ada")
    assert issued["expires_at"] is None
    url = f"{USERS}/ada/keys/{issued['id']}"
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    expired = client.patch(url, json={"expires_at": past}, headers=admin_headers)
    assert expired.status_code == 200, expired.text
    assert expired.json()["status"] == "expired"
    eventually(lambda: key_status(client, issued["key"]) == 401)

    renewed = client.patch(url, json={"expires_at": None, "name": "again"}, headers=admin_headers)
    assert (renewed.json()["status"], renewed.json()["name"]) == ("active", "again")
    eventually(lambda: key_status(client, issued["key"]) == 200)


def test_a_key_is_reached_only_through_its_user(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    create_user(client, admin_headers, "ada")
    create_user(client, admin_headers, "bob")
    issued = issue_key(client, admin_headers, "ada")
    wrong = client.post(f"{USERS}/bob/keys/{issued['id']}/revoke", headers=admin_headers)
    assert wrong.status_code == 404
    assert client.get(f"{USERS}/bob/keys", headers=admin_headers).json() == []
    assert key_status(client, issued["key"]) == 200


def test_issue_key_rejects_bad_fields(client: TestClient, admin_headers: dict[str, str]) -> None:
    create_user(client, admin_headers, "ada")
    for body, field in [
        ({"expires_at": "soon"}, "expires_at"),
        ({"expires_at": "2999-01-01T00:00:00Z", "expires_in_days": 3}, "body"),
        ({"expires_at": None, "expires_in_days": None}, "body"),
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"name": ""}, "name"),
        ({"name": "nul\x00"}, "name"),
        ({"key": "sk-sb-mine"}, "key"),
    ]:
        response = client.post(f"{USERS}/ada/keys", json=body, headers=admin_headers)
        assert_rejected(response, field)
    assert client.get(f"{USERS}/ada/keys", headers=admin_headers).json() == []


def test_ids_and_times_at_the_edges(client: TestClient, admin_headers: dict[str, str]) -> None:
    create_user(client, admin_headers, "ada")
    for path in ["/has%20space", f"/ada/keys/{2**40}/revoke", "/ada/keys/0/revoke"]:
        response = client.request("POST" if "revoke" in path else "GET", USERS + path)
        assert response.status_code in (401, 422)  # checked after the token, or before
        response = client.request(
            "POST" if "revoke" in path else "GET", USERS + path, headers=admin_headers
        )
        assert response.status_code == 422, path

    already = issue_key(client, admin_headers, "ada", expires_at="2001-01-01T00:00:00+01:00")
    assert (already["status"], already["expires_at"]) == ("expired", "2000-12-31T23:00:00Z")
    earliest = issue_key(client, admin_headers, "ada", expires_at="0001-01-01T00:00:00+05:00")
    assert earliest["expires_at"] == "0001-01-01T00:00:00Z"
    latest = issue_key(client, admin_headers, "ada", expires_at="9999-12-31T23:00:00-05:00")
    assert latest["status"] == "active"
    assert latest["expires_at"].startswith("9999-12-31T23:59:59.999999")
    assert key_status(client, latest["key"]) == 200


def test_deactivated_user_gets_no_keys_and_theirs_stop_working(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    create_user(client, admin_headers, "ada")
    key = issue_key(client, admin_headers, "ada")["key"]
    assert key_status(client, key) == 200
    client.patch(f"{USERS}/ada", json={"is_active": False}, headers=admin_headers)
    refused = client.post(f"{USERS}/ada/keys", json={}, headers=admin_headers)
    assert refused.status_code == 409
    eventually(lambda: key_status(client, key) == 401)
    client.patch(f"{USERS}/ada", json={"is_active": True}, headers=admin_headers)
    eventually(lambda: key_status(client, key) == 200)


def test_every_endpoint_needs_the_admin_token(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    create_user(client, admin_headers, "ada")
    key = issue_key(client, admin_headers, "ada")["key"]
    for method, path in [
        ("GET", ""),
        ("POST", ""),
        ("GET", "/ada"),
        ("PATCH", "/ada"),
        ("POST", "/ada/keys"),
        ("GET", "/ada/keys"),
        ("POST", "/ada/keys/1/revoke"),
        ("PATCH", "/ada/keys/1"),
    ]:
        missing = client.request(method, USERS + path, json={})
        assert missing.status_code == 401, (method, path)
        for token in ("x", key):  # a user's own virtual key is no admin token
            wrong = client.request(
                method, USERS + path, json={}, headers={"Authorization": f"Bearer {token}"}
            )
            assert wrong.status_code == 403, (method, path)
    assert client.get(f"{USERS}/ada/keys", headers=admin_headers).json()[0]["is_revoked"] is False


def assert_rejected(response: Response, field: str) -> None:
    assert response.status_code == 422, (field, response.text)
    assert [error["loc"][-1] for error in response.json()["detail"]] == [field]
