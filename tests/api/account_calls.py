"""Calls the account tests share: making users and virtual keys through the admin API, and
waiting for the gateway's key cache (TTL 0.5 s in these tests) to catch up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

USERS = "/api/v1/admin/llm/users"
AUDIT = "/api/v1/admin/llm/audit"
BYOK_KEYS = "/api/v1/llm/byok/keys"


def create_user(
    client: TestClient, admin_headers: dict[str, str], user_id: str, **fields: Any
) -> dict[str, Any]:
    response = client.post(USERS, json={"id": user_id, **fields}, headers=admin_headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def issue_key(
    client: TestClient, admin_headers: dict[str, str], user_id: str, **fields: Any
) -> dict[str, Any]:
    response = client.post(f"{USERS}/{user_id}/keys", json=fields, headers=admin_headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def key_status(client: TestClient, key: str) -> int:
    """What the gateway makes of a virtual key now: 200 accepted, 401 refused."""
    return client.get(BYOK_KEYS, headers=bearer(key)).status_code


def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait until `check()` holds; the key cache forgets within its TTL."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.05)
