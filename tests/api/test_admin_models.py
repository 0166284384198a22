"""The models admin API, through HTTP, on SQLite and PostgreSQL: CRUD, prices kept over time,
and deprecation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.engine import LLMRoutingEngine
from switchboard.models import AuditLogEntry, LLMModel, LLMRoutingRule, LLMUsageLog
from tests.api.catalog_calls import (
    ADMIN,
    add_mock_provider,
    add_model,
    add_rule,
    field_errors,
)

# The spec's "Create a Model" example, as a JSON body.
SPEC_MODEL = {
    "model_name": "GPT-4 Turbo",
    "model_id": "gpt-4-turbo-preview",
    "display_name": "GPT-4 Turbo",
    "description": "Latest GPT-4 Turbo model",
    "max_tokens": 4096,
    "context_window": 128000,
    "supports_streaming": True,
    "supports_function_calling": True,
    "supports_vision": False,
    "supports_json_mode": True,
    "cost_per_1m_input_tokens": 10.00,
    "cost_per_1m_output_tokens": 30.00,
    "power_level": "precision",
    "power_level_priority": 1,
    "is_active": True,
    "is_deprecated": False,
    "min_tier_required": "professional",
}


@pytest.fixture
def provider(client: TestClient, admin_headers: dict[str, str]) -> dict[str, Any]:
    return add_mock_provider(client, admin_headers)


def test_create_read_list_update_delete(
    client: TestClient, admin_headers: dict[str, str], provider: dict[str, Any]
) -> None:
    created = client.post(
        f"{ADMIN}/models", headers=admin_headers, json={"provider_id": provider["id"], **SPEC_MODEL}
    )
    assert created.status_code == 201, created.text
    model = created.json()
    assert model["cost_per_1m_input_tokens"] == "10" and model["cost_per_1m_output_tokens"] == "30"
    assert model["power_level"] == "precision" and model["min_tier_required"] == "professional"
    url = f"{ADMIN}/models/{model['id']}"
    assert client.get(url, headers=admin_headers).json() == model
    patched = client.patch(
        url, headers=admin_headers, json={"display_name": None, "max_tokens": 8192}
    )
    assert patched.status_code == 200
    assert (patched.json()["display_name"], patched.json()["max_tokens"]) == (None, 8192)
    assert client.delete(url, headers=admin_headers).status_code == 204
    assert client.get(url, headers=admin_headers).status_code == 404


def test_list_filters_and_pages(
    client: TestClient, admin_headers: dict[str, str], provider: dict[str, Any]
) -> None:
    other = add_mock_provider(client, admin_headers, "other")
    add_model(client, admin_headers, provider["id"], "eco-1", power_level="eco")
    add_model(client, admin_headers, provider["id"], "bal-1", is_active=False)
    add_model(client, admin_headers, other["id"], "bal-2")
    replacement = add_model(client, admin_headers, other["id"], "pre-1", power_level="precision")
    client.post(
        f"{ADMIN}/models/1/deprecate",
        headers=admin_headers,
        json={"replacement_model_id": replacement["id"]},
    )

    def ids(**params: object) -> tuple[list[str], int]:
        page = client.get(f"{ADMIN}/models", headers=admin_headers, params=params).json()
        return [item["model_id"] for item in page["items"]], page["total"]

    assert ids() == (["eco-1", "bal-1", "bal-2", "pre-1"], 4)
    assert ids(provider_id=other["id"]) == (["bal-2", "pre-1"], 2)
    assert ids(power_level="balanced") == (["bal-1", "bal-2"], 2)
    assert ids(is_active="true") == (["bal-2", "pre-1"], 2)
    assert ids(is_deprecated="true") == (["eco-1"], 1)
    assert ids(limit=2, offset=1) == (["bal-1", "bal-2"], 4)
    bad = client.get(f"{ADMIN}/models", headers=admin_headers, params={"power_level": "max"})
    assert "power_level" in field_errors(bad)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"cost_per_1m_input_tokens": -1}, "cost_per_1m_input_tokens", "greater than or equal"),
        ({"cost_per_1m_output_tokens": "0.0000001"}, "cost_per_1m_output_tokens", "6 decimal"),
        ({"power_level": "turbo"}, "power_level", "eco"),
        ({"context_window": 0}, "context_window", "greater than"),
        ({"model_id": None}, "model_id", "must not be null"),
        ({"price": 1}, "price", "Extra inputs"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient,
    admin_headers: dict[str, str],
    provider: dict[str, Any],
    body: dict[str, Any],
    field: str,
    message: str,
) -> None:
    created = client.post(
        f"{ADMIN}/models",
        headers=admin_headers,
        json={"provider_id": provider["id"], "model_name": "m", "model_id": "m", **body},
    )
    assert message in field_errors(created)[field]
    model = add_model(client, admin_headers, provider["id"], "ok")
    patched = client.patch(f"{ADMIN}/models/{model['id']}", headers=admin_headers, json=body)
    assert message in field_errors(patched)[field]


def test_unknown_ids_are_404_and_taken_model_ids_409(
    client: TestClient, admin_headers: dict[str, str], provider: dict[str, Any]
) -> None:
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/prices")):
        response = client.request(
            method, f"{ADMIN}/models/999{path}", headers=admin_headers, json={}
        )
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "model 999 does not exist"}
    add_model(client, admin_headers, provider["id"], "gpt-4o")
    again = client.post(
        f"{ADMIN}/models",
        headers=admin_headers,
        json={"provider_id": provider["id"], "model_name": "x", "model_id": "gpt-4o"},
    )
    assert again.status_code == 409 and "gpt-4o" in again.json()["detail"]
    other = add_mock_provider(client, admin_headers, "other")
    elsewhere = add_model(client, admin_headers, other["id"], "gpt-4o")  # another provider: fine
    moved = client.patch(
        f"{ADMIN}/models/{elsewhere['id']}",
        headers=admin_headers,
        json={"provider_id": provider["id"]},
    )
    assert moved.status_code == 409


def test_a_price_change_is_kept_in_the_price_history(
    client: TestClient,
    admin_headers: dict[str, str],
    provider: dict[str, Any],
    session_factory: sessionmaker[Session],
) -> None:
    model = add_model(
        client,
        admin_headers,
        provider["id"],
        "priced",
        cost_per_1m_input_tokens="10",
        cost_per_1m_output_tokens="30",
    )
    url = f"{ADMIN}/models/{model['id']}"
    with session_factory() as session:  # a request billed at the first price
        row = session.get(LLMModel, model["id"])
        assert row is not None
        LLMRoutingEngine(session).log_usage(
            "alice", row, "req-1", prompt_tokens=1_000_000, completion_tokens=0
        )
    first = client.get(f"{url}/prices", headers=admin_headers).json()
    assert len(first) == 1 and first[0]["effective_to"] is None
    assert (first[0]["cost_per_1m_input_tokens"], first[0]["changed_by"]) == ("10", "admin")

    client.patch(url, headers=admin_headers, json={"description": "no price change"})
    client.patch(url, headers=admin_headers, json={"cost_per_1m_input_tokens": 10.0})  # same
    assert len(client.get(f"{url}/prices", headers=admin_headers).json()) == 1

    client.patch(url, headers=admin_headers, json={"cost_per_1m_input_tokens": "2.5"})
    history = client.get(f"{url}/prices", headers=admin_headers).json()
    assert [(p["cost_per_1m_input_tokens"], p["cost_per_1m_output_tokens"]) for p in history] == [
        ("10", "30"),
        ("2.5", "30"),
    ]
    assert history[0]["effective_to"] == history[1]["effective_from"]
    assert history[1]["effective_to"] is None
    with session_factory() as session:
        billed = session.scalars(select(LLMUsageLog.cost_input_usd)).one()
        entries = session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.entity_type == "model")
        ).all()
    assert billed == Decimal("10")  # billed at the price of its time, not the new one
    assert [entry.action for entry in entries] == ["create", "update", "update", "update"]
    last = entries[-1]
    assert last.before is not None and last.after is not None
    assert (last.before["cost_per_1m_input_tokens"], last.after["cost_per_1m_input_tokens"]) == (
        "10.000000",
        "2.500000",
    )


def test_a_price_change_of_a_model_without_history_keeps_its_old_price(
    client: TestClient,
    admin_headers: dict[str, str],
    provider: dict[str, Any],
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:  # as seeding creates models: no price history
        row = LLMModel(
            provider_id=provider["id"],
            model_id="seeded",
            model_name="Seeded",
            cost_per_1m_input_tokens=Decimal("1"),
            cost_per_1m_output_tokens=Decimal("2"),
        )
        session.add(row)
        session.commit()
        model_id = row.id
    url = f"{ADMIN}/models/{model_id}"
    client.patch(url, headers=admin_headers, json={"cost_per_1m_output_tokens": "3"})
    history = client.get(f"{url}/prices", headers=admin_headers).json()
    assert [(p["cost_per_1m_output_tokens"], p["effective_to"] is None) for p in history] == [
        ("2", False),
        ("3", True),
    ]


def test_deprecate_with_a_replacement(
    client: TestClient,
    admin_headers: dict[str, str],
    provider: dict[str, Any],
    session_factory: sessionmaker[Session],
) -> None:
    old = add_model(client, admin_headers, provider["id"], "old")
    new = add_model(client, admin_headers, provider["id"], "new")
    url = f"{ADMIN}/models/{old['id']}/deprecate"
    deprecated = client.post(
        url,
        headers=admin_headers,
        json={"replacement_model_id": new["id"], "deprecation_date": "2025-10-23T00:00:00Z"},
    )
    assert deprecated.status_code == 200, deprecated.text
    body = deprecated.json()
    assert (body["is_deprecated"], body["is_active"], body["replacement_model_id"]) == (
        True,
        False,
        new["id"],
    )
    assert body["deprecation_date"] == "2025-10-23T00:00:00Z"

    def problem(replacement: object) -> str:
        response = client.post(
            f"{ADMIN}/models/{new['id']}/deprecate",
            headers=admin_headers,
            json={"replacement_model_id": replacement},
        )
        return field_errors(response)["replacement_model_id"]

    def refused(replacement: int) -> tuple[int, str]:
        response = client.post(
            f"{ADMIN}/models/{new['id']}/deprecate",
            headers=admin_headers,
            json={"replacement_model_id": replacement},
        )
        return response.status_code, response.json()["detail"]

    # Schema-valid ids that the database refuses: 409 (conflict) or 404 (no such row).
    assert refused(new["id"]) == (409, "a model cannot replace itself")
    assert refused(999) == (404, "replacement model 999 does not exist")
    assert refused(old["id"]) == (409, f"replacement model {old['id']} is itself deprecated")
    assert "integer" in problem("newest")
    missing = client.post(
        f"{ADMIN}/models/999/deprecate",
        headers=admin_headers,
        json={"replacement_model_id": new["id"]},
    )
    assert missing.status_code == 404
    with session_factory() as session:
        actions = session.scalars(
            select(AuditLogEntry.action).where(
                AuditLogEntry.entity_type == "model", AuditLogEntry.entity_id == str(old["id"])
            )
        ).all()
    assert actions == ["create", "deprecate"]


def test_delete_takes_the_rules_with_it(
    client: TestClient,
    admin_headers: dict[str, str],
    provider: dict[str, Any],
    session_factory: sessionmaker[Session],
) -> None:
    model = add_model(client, admin_headers, provider["id"], "doomed")
    rule = add_rule(client, admin_headers, model["id"])
    assert client.delete(f"{ADMIN}/models/{model['id']}", headers=admin_headers).status_code == 204
    assert (
        client.get(f"{ADMIN}/routing/rules/{rule['id']}", headers=admin_headers).status_code == 404
    )
    with session_factory() as session:
        assert session.scalars(select(LLMRoutingRule)).all() == []
        deleted = session.scalars(
            select(AuditLogEntry.entity_type).where(AuditLogEntry.action == "delete")
        ).all()
    assert sorted(deleted) == ["model", "routing_rule"]


def test_unknown_ids_in_a_body_are_404(
    client: TestClient, admin_headers: dict[str, str], provider: dict[str, Any]
) -> None:
    body = {"provider_id": 999, "model_name": "m", "model_id": "m"}
    created = client.post(f"{ADMIN}/models", headers=admin_headers, json=body)
    assert (created.status_code, created.json()) == (404, {"detail": "provider 999 does not exist"})
    body = {"provider_id": provider["id"], "model_name": "m", "model_id": "m"}
    model = client.post(f"{ADMIN}/models", headers=admin_headers, json=body).json()
    patched = client.patch(
        f"{ADMIN}/models/{model['id']}", headers=admin_headers, json={"replacement_model_id": 999}
    )
    assert patched.status_code == 404
