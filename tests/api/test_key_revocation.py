"""A change made through the admin API counts at once in the process that made it: the next
request with a revoked or expired key, or a deactivated user's, is refused, and a reactivated
user's keys work again. The key cache's TTL and the catalog poll are set to an hour here, so
neither can be what makes it so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from switchboard._types import utcnow
from switchboard.api.app import create_app
from switchboard.settings import Settings
from tests.api.account_calls import USERS, create_user, issue_key, key_status

HOUR_S = 3600.0


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    settings = app_settings.model_copy(
        update={"key_cache_ttl_s": HOUR_S, "catalog_poll_interval_s": HOUR_S}
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_a_revoked_key_is_refused_by_the_next_request(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    create_user(client, admin_headers, "ada")
    revoked, kept = issue_key(client, admin_headers, "ada"), issue_key(client, admin_headers, "ada")
    assert key_status(client, revoked["key"]) == key_status(client, kept["key"]) == 200

    response = client.post(f"{USERS}/ada/keys/{revoked['id']}/revoke", headers=admin_headers)

    assert response.status_code == 200
    assert key_status(client, revoked["key"]) == 401
    assert key_status(client, kept["key"]) == 200


def test_a_key_expired_now_is_refused_by_the_next_request(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    create_user(client, admin_headers, "ada")
    issued = issue_key(client, admin_headers, "ada")
    assert key_status(client, issued["key"]) == 200
    past = (utcnow() - timedelta(minutes=1)).isoformat()

    response = client.patch(
        f"{USERS}/ada/keys/{issued['id']}", json={"expires_at": past}, headers=admin_headers
    )

    assert response.status_code == 200
    assert key_status(client, issued["key"]) == 401


def test_a_deactivated_users_keys_are_refused_and_work_again_once_reactivated(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    for user in ("ada", "bob"):
        create_user(client, admin_headers, user)
    ada = [issue_key(client, admin_headers, "ada")["key"] for _ in range(2)]
    bob = issue_key(client, admin_headers, "bob")["key"]
    assert [key_status(client, key) for key in (*ada, bob)] == [200, 200, 200]

    client.patch(f"{USERS}/ada", json={"is_active": False}, headers=admin_headers)
    assert [key_status(client, key) for key in (*ada, bob)] == [401, 401, 200]

    client.patch(f"{USERS}/ada", json={"is_active": True}, headers=admin_headers)
    assert [key_status(client, key) for key in (*ada, bob)] == [200, 200, 200]
