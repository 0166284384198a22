"""The audit log through HTTP: every account change, newest first, secrets masked, filterable."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient

from switchboard.secrets import hash_virtual_key
from tests.api.account_calls import AUDIT, USERS, create_user, issue_key


def test_account_changes_are_audited_newest_first(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    create_user(client, admin_headers, "ada", monthly_budget_usd="10")
    client.patch(f"{USERS}/ada", json={"tier": "starter"}, headers=admin_headers)
    client.patch(f"{USERS}/ada", json={"tier": "starter"}, headers=admin_headers)  # no change
    client.patch(f"{USERS}/ada", json={"is_active": False}, headers=admin_headers)
    client.patch(f"{USERS}/ada", json={"is_active": True}, headers=admin_headers)
    issued = issue_key(client, admin_headers, "ada", name="backend")
    client.patch(
        f"{USERS}/ada/keys/{issued['id']}", json={"name": "renamed"}, headers=admin_headers
    )
    client.post(f"{USERS}/ada/keys/{issued['id']}/revoke", headers=admin_headers)

    response = client.get(AUDIT, headers=admin_headers)
    assert response.status_code == 200
    page = response.json()
    entries = page["items"]
    assert page["total"] == len(entries) == 7
    assert [(e["action"], e["entity_type"]) for e in entries] == [
        ("revoke", "virtual_key"),
        ("update", "virtual_key"),
        ("issue", "virtual_key"),
        ("activate", "user"),
        ("deactivate", "user"),
        ("update", "user"),
        ("create", "user"),
    ]
    assert {e["actor"] for e in entries} == {"admin"}
    times = [datetime.fromisoformat(e["at"]) for e in entries]
    assert times == sorted(times, reverse=True)

    created, tier_change = entries[-1], entries[-2]
    assert created["before"] is None
    assert created["entity_id"] == "ada"
    assert Decimal(created["after"]["monthly_budget_usd"]) == 10
    assert (tier_change["before"]["tier"], tier_change["after"]["tier"]) == ("free", "starter")

    revoked = entries[0]
    assert revoked["entity_id"] == str(issued["id"])
    assert (revoked["before"]["is_revoked"], revoked["after"]["is_revoked"]) == (False, True)
    assert revoked["after"]["key_hash"] == "(set)"
    text = json.dumps(entries)
    assert issued["key"] not in text
    assert hash_virtual_key(issued["key"]) not in text


def test_filters_and_pagination(client: TestClient, admin_headers: dict[str, str]) -> None:
    create_user(client, admin_headers, "ada")
    create_user(client, admin_headers, "bob")
    time.sleep(0.05)
    middle = datetime.now(UTC)
    time.sleep(0.05)
    client.patch(f"{USERS}/bob", json={"tier": "enterprise"}, headers=admin_headers)
    issue_key(client, admin_headers, "bob")

    def listed(**params: object) -> list[tuple[str, str | None, str]]:
        response = client.get(AUDIT, params=params, headers=admin_headers)
        assert response.status_code == 200, response.text
        return [(e["entity_type"], e["entity_id"], e["action"]) for e in response.json()["items"]]

    assert listed(entity_type="user", entity_id="bob") == [
        ("user", "bob", "update"),
        ("user", "bob", "create"),
    ]
    assert listed(entity_type="virtual_key") == [("virtual_key", "1", "issue")]
    assert listed(actor="admin", entity_id="ada") == [("user", "ada", "create")]
    assert listed(actor="user:ada") == []
    assert listed(since=middle.isoformat()) == [
        ("virtual_key", "1", "issue"),
        ("user", "bob", "update"),
    ]
    assert listed(until=middle.isoformat()) == [
        ("user", "bob", "create"),
        ("user", "ada", "create"),
    ]
    naive_future = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert listed(since=naive_future) == []

    second = client.get(AUDIT, params={"limit": 2, "offset": 1}, headers=admin_headers).json()
    assert (second["total"], second["limit"], second["offset"]) == (4, 2, 1)
    assert [e["action"] for e in second["items"]] == ["update", "create"]


def test_bad_filters_are_rejected(client: TestClient, admin_headers: dict[str, str]) -> None:
    for params, field in [
        ({"since": "yesterday"}, "since"),
        ({"since": "1700000000"}, "since"),
        ({"until": "2024-01-01"}, "until"),
        ({"actor": "nul\x00"}, "actor"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
    ]:
        response = client.get(AUDIT, params=params, headers=admin_headers)
        assert response.status_code == 422, params
        assert [error["loc"] for error in response.json()["detail"]] == [["query", field]]
