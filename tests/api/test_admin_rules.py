"""Routing rules, the routing matrix and the explain table through HTTP, on SQLite and
PostgreSQL; and a catalog change made through the API reaching the gateway's routing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from switchboard.api.app import create_app
from switchboard.models import AuditLogEntry, LLMRoutingRule, User, UserAPIKey, VirtualKey
from switchboard.secrets import SecretManager, hash_virtual_key
from switchboard.settings import Settings
from tests.api.catalog_calls import (
    ADMIN,
    add_mock_provider,
    add_model,
    add_provider,
    add_rule,
    field_errors,
)

RULES = f"{ADMIN}/routing/rules"


@pytest.fixture
def model(client: TestClient, admin_headers: dict[str, str]) -> dict[str, Any]:
    provider = add_mock_provider(client, admin_headers)
    return add_model(client, admin_headers, provider["id"], "mock-model")


def test_create_read_list_update_delete(
    client: TestClient,
    admin_headers: dict[str, str],
    model: dict[str, Any],
    session_factory: sessionmaker[Session],
) -> None:
    spec_rule = {
        "model_id": model["id"],
        "power_level": "precision",
        "user_tier": "professional",
        "task_type": "code",
        "priority": 1,
        "weight": 100,
        "min_tokens": None,
        "max_tokens": None,
        "requires_byok": False,
        "is_fallback": False,
        "is_active": True,
    }
    created = client.post(RULES, headers=admin_headers, json=spec_rule)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert {key: rule[key] for key in spec_rule} == spec_rule
    url = f"{RULES}/{rule['id']}"
    assert client.get(url, headers=admin_headers).json() == rule
    patched = client.patch(
        url, headers=admin_headers, json={"user_tier": None, "task_type": " General ", "weight": 0}
    )
    assert patched.status_code == 200
    assert (patched.json()["user_tier"], patched.json()["task_type"]) == (None, "general")
    assert client.delete(url, headers=admin_headers).status_code == 204
    assert client.get(url, headers=admin_headers).status_code == 404
    with session_factory() as session:
        actions = session.scalars(
            select(AuditLogEntry.action).where(AuditLogEntry.entity_type == "routing_rule")
        ).all()
    assert actions == ["create", "update", "delete"]


def test_list_filters_and_pages(
    client: TestClient, admin_headers: dict[str, str], model: dict[str, Any]
) -> None:
    other = add_model(client, admin_headers, model["provider_id"], "other")
    add_rule(client, admin_headers, model["id"], power_level="eco")
    add_rule(client, admin_headers, model["id"], user_tier="free", task_type="code")
    add_rule(client, admin_headers, other["id"], user_tier="free", is_active=False)

    def ids(**params: object) -> tuple[list[int], int]:
        page = client.get(RULES, headers=admin_headers, params=params).json()
        return [item["id"] for item in page["items"]], page["total"]

    assert ids() == ([1, 2, 3], 3)
    assert ids(model_id=other["id"]) == ([3], 1)
    assert ids(power_level="balanced", user_tier="free") == ([2, 3], 2)
    assert ids(task_type="CODE") == ([2], 1)
    assert ids(is_active="true", limit=1, offset=1) == ([2], 2)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"power_level": "turbo"}, "power_level", "eco"),
        ({"user_tier": "gold"}, "user_tier", "free"),
        ({"task_type": "code review"}, "task_type", "pattern"),
        ({"priority": -1}, "priority", "greater than or equal to 0"),
        ({"weight": -5}, "weight", "greater than or equal to 0"),
        ({"priority": None}, "priority", "must not be null"),
        ({"tier": "free"}, "tier", "Extra inputs"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient,
    admin_headers: dict[str, str],
    model: dict[str, Any],
    body: dict[str, Any],
    field: str,
    message: str,
) -> None:
    created = client.post(
        RULES, headers=admin_headers, json={"model_id": model["id"], "power_level": "eco", **body}
    )
    assert message in field_errors(created)[field]
    rule = add_rule(client, admin_headers, model["id"])
    patched = client.patch(f"{RULES}/{rule['id']}", headers=admin_headers, json=body)
    assert message in field_errors(patched)[field]


def test_an_update_must_agree_with_the_stored_bounds(
    client: TestClient, admin_headers: dict[str, str], model: dict[str, Any]
) -> None:
    rule = add_rule(client, admin_headers, model["id"], min_tokens=1000)
    url = f"{RULES}/{rule['id']}"
    too_low = client.patch(url, headers=admin_headers, json={"max_tokens": 10})
    assert (too_low.status_code, too_low.json()) == (
        409,
        {"detail": "max_tokens 10 is below min_tokens 1000"},
    )
    crossed = {"model_id": model["id"], "power_level": "eco", "min_tokens": 100, "max_tokens": 10}
    assert client.post(RULES, headers=admin_headers, json=crossed).status_code == 409
    unknown = client.post(
        RULES, headers=admin_headers, json={"model_id": 999, "power_level": "eco"}
    )
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "model 999 does not exist"})
    assert client.get(url, headers=admin_headers).json()["max_tokens"] is None
    for method in ("GET", "PATCH", "DELETE"):
        missing = client.request(method, f"{RULES}/999", headers=admin_headers, json={})
        assert (missing.status_code, missing.json()) == (
            404,
            {"detail": "routing rule 999 does not exist"},
        )


def test_a_second_rule_with_the_same_identity_is_a_409_naming_the_first(
    client: TestClient, admin_headers: dict[str, str], model: dict[str, Any]
) -> None:
    """A rule is identified by its model, power level, tier (none: every tier) and task type;
    its priority, weight, token band and flags are what a PATCH changes."""
    rule = add_rule(client, admin_headers, model["id"], user_tier="free", task_type="code")
    again = {"model_id": model["id"], "power_level": "balanced", "user_tier": "free"}
    twin = client.post(
        RULES, headers=admin_headers, json={**again, "task_type": " Code ", "priority": 7}
    )
    assert (twin.status_code, twin.json()) == (
        409,
        {
            "detail": f"routing rule {rule['id']} already routes balanced requests of tier "
            f"free with task 'code' to model {model['id']}; change that rule instead"
        },
    )
    every_tier = add_rule(client, admin_headers, model["id"], user_tier=None, max_tokens=100)
    twin = client.post(RULES, headers=admin_headers, json={**again, "user_tier": None})
    assert (twin.status_code, twin.json()["detail"]) == (
        409,
        f"routing rule {every_tier['id']} already routes balanced requests of every tier "
        f"with task 'general' to model {model['id']}; change that rule instead",
    )
    add_rule(client, admin_headers, model["id"], user_tier="starter", task_type="code")
    add_rule(client, admin_headers, model["id"], user_tier="free", power_level="eco")
    total = client.get(RULES, headers=admin_headers).json()["total"]
    assert total == 4


def test_an_update_onto_another_rules_identity_is_a_409(
    client: TestClient, admin_headers: dict[str, str], model: dict[str, Any]
) -> None:
    first = add_rule(client, admin_headers, model["id"], user_tier=None)
    second = add_rule(client, admin_headers, model["id"], user_tier="free")
    url = f"{RULES}/{second['id']}"
    clash = client.patch(url, headers=admin_headers, json={"user_tier": None, "priority": 3})
    assert clash.status_code == 409
    assert clash.json()["detail"].startswith(f"routing rule {first['id']} already routes")
    assert client.get(url, headers=admin_headers).json() == second
    same = client.patch(url, headers=admin_headers, json={"user_tier": "free", "weight": 5})
    assert (same.status_code, same.json()["weight"]) == (200, 5)


def test_a_rule_written_around_the_api_still_cannot_be_doubled(
    model: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    """The database holds the identity too, a NULL tier included (SQL's NULLs are distinct)."""
    for tier in ("professional", None):
        with session_factory() as session:
            session.add(LLMRoutingRule(model_id=model["id"], power_level="eco", user_tier=tier))
            session.commit()
            session.add(LLMRoutingRule(model_id=model["id"], power_level="eco", user_tier=tier))
            with pytest.raises(IntegrityError):
                session.commit()


# The matrix and the explain table ---------------------------------------------------------


@pytest.fixture
def catalog(client: TestClient, admin_headers: dict[str, str]) -> dict[str, int]:
    """Three providers: one with a key, one for users' own keys only, one marked down."""
    keyed = add_provider(
        client, admin_headers, "keyed", base_url="https://keyed.example/v1", api_key="sk-k-123456"
    )
    byok = add_provider(
        client, admin_headers, "byok", base_url="https://byok.example/v1", is_byok_supported=True
    )
    down = add_provider(
        client, admin_headers, "down", base_url="https://down.example/v1", api_key="sk-d-123456"
    )
    down_url = f"{ADMIN}/providers/{down['id']}"
    client.patch(down_url, headers=admin_headers, json={"health_status": "down"})
    ids: dict[str, int] = {"byok-provider": byok["id"]}
    byok_only = {"user_tier": "professional", "task_type": "code", "requires_byok": True}
    for name, provider, rule in (
        ("a", keyed, {"priority": 1}),
        ("b", keyed, {"priority": 2, "weight": 10}),
        ("c", keyed, {"priority": 2, "weight": 90, "context_window": 100}),
        ("d", byok, {"priority": 1, **byok_only}),
        ("e", down, {"priority": 0}),
    ):
        window = rule.pop("context_window", None)
        model = add_model(client, admin_headers, provider["id"], name, context_window=window)
        add_rule(client, admin_headers, model["id"], **rule)
        ids[name] = model["id"]
    return ids


def test_the_routing_matrix(
    client: TestClient, admin_headers: dict[str, str], catalog: dict[str, int]
) -> None:
    matrix = client.get(f"{ADMIN}/routing/matrix", headers=admin_headers).json()
    assert len(matrix["cells"]) == 4 * 3 * 2  # tiers × power levels × (general, code)
    cells = {(c["user_tier"], c["power_level"], c["task_type"]): c for c in matrix["cells"]}
    general = cells[("professional", "balanced", "general")]["candidates"]
    assert [c["model_id"] for c in general] == ["a", "c", "b", "e"]
    assert [c["position"] for c in general] == [1, 2, 3, 4]
    assert general[-1]["demoted"] and general[-1]["health_status"] == "down"
    assert all(c["system_key"] for c in general)
    code = cells[("professional", "balanced", "code")]["candidates"]
    assert [c["model_id"] for c in code] == ["d", "a", "c", "b", "e"]
    assert (code[0]["requires_byok"], code[0]["system_key"], code[0]["byok_supported"]) == (
        True,
        False,
        True,
    )
    assert [c["model_id"] for c in cells[("free", "balanced", "code")]["candidates"]] == [
        "a",
        "c",
        "b",
        "e",
    ]
    assert cells[("free", "eco", "general")]["candidates"] == []

    filtered = client.get(
        f"{ADMIN}/routing/matrix",
        headers=admin_headers,
        params={"user_tier": "enterprise", "power_level": "balanced", "task_type": "Code"},
    ).json()
    assert [(c["user_tier"], c["task_type"]) for c in filtered["cells"]] == [("enterprise", "code")]
    bad = client.get(f"{ADMIN}/routing/matrix", headers=admin_headers, params={"user_tier": "x"})
    assert "user_tier" in field_errors(bad)


def test_explain_a_hypothetical_request(
    client: TestClient,
    admin_headers: dict[str, str],
    catalog: dict[str, int],
    session_factory: sessionmaker[Session],
    clean_environment: str,
) -> None:
    url = f"{ADMIN}/routing/explain"
    body = {"tier": "professional", "power_level": "balanced", "task_type": "code"}
    explained = client.post(url, headers=admin_headers, json=body | {"estimated_tokens": 500})
    assert explained.status_code == 200, explained.text
    table = explained.json()
    assert table["chosen"]["model_id"] == "a" and table["chosen"]["key_source"] == "system"
    verdicts = {v["model_id"]: v for v in table["verdicts"]}
    assert [v["model_id"] for v in table["verdicts"][:3]] == ["a", "b", "e"]
    assert verdicts["e"]["verdict"] == "fallback" and "tried last" in verdicts["e"]["notes"][0]
    assert verdicts["c"]["reason"] == "context window too small"
    assert verdicts["d"]["reason"] == "BYOK required but absent"
    assert table["request"]["needs"] == {
        "streaming": False,
        "function_calling": False,
        "vision": False,
        "json_mode": False,
    }
    vision = client.post(url, headers=admin_headers, json=body | {"needs": {"vision": True}})
    assert vision.json()["chosen"] is None
    assert {v["reason"] for v in vision.json()["verdicts"]} == {"capability missing"}

    with session_factory() as session:  # alice brings her own, validated key
        session.add(User(id="alice", tier="professional"))
        encrypted = SecretManager.from_value(clean_environment).encrypt_secret("sk-alice-1234")
        session.add(
            UserAPIKey(
                user_id="alice",
                provider_id=catalog["byok-provider"],
                encrypted_api_key=encrypted["encrypted_value"],
                is_validated=True,
            )
        )
        session.commit()
    own = client.post(url, headers=admin_headers, json=body | {"user_id": "alice"}).json()
    assert (own["chosen"]["model_id"], own["chosen"]["key_source"]) == ("d", "byok")

    bad = client.post(
        url,
        headers=admin_headers,
        json={"tier": "gold", "power_level": "balanced", "estimated_tokens": -1, "needs": {"x": 1}},
    )
    assert set(field_errors(bad)) == {"tier", "estimated_tokens", "x"}


# Reaching the gateway -------------------------------------------------------------------


def _virtual_key(session_factory: sessionmaker[Session]) -> str:
    key = "sk-sb-rules-test-0123456789abcdefghijklmnop"
    with session_factory() as session:
        session.add(User(id="bob", tier="starter"))
        session.add(VirtualKey(user_id="bob", key_hash=hash_virtual_key(key), key_prefix=key[:12]))
        session.commit()
    return key


def _served_by(client: TestClient, key: str, model: str, expected: str) -> float:
    """Seconds until a chat request for `model` is answered by `expected` (at most 2)."""
    started = time.monotonic()
    served = None
    while time.monotonic() - started < 2.0:
        response = client.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        )
        served = response.json().get("model") if response.status_code == 200 else response.text
        if served == expected:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"after 2 s, {model!r} is still served by {served!r}, not {expected!r}")


def test_api_changes_reach_the_gateway_within_two_seconds(
    client: TestClient, admin_headers: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    key = _virtual_key(session_factory)
    provider = add_mock_provider(client, admin_headers)
    first = add_model(client, admin_headers, provider["id"], "first")
    add_rule(client, admin_headers, first["id"], priority=2)
    _served_by(client, key, "balanced", "first")

    second = add_model(client, admin_headers, provider["id"], "second")
    ahead = add_rule(client, admin_headers, second["id"], priority=1)
    _served_by(client, key, "balanced", "second")

    client.patch(f"{RULES}/{ahead['id']}", headers=admin_headers, json={"is_active": False})
    _served_by(client, key, "balanced", "first")

    client.post(
        f"{ADMIN}/models/{first['id']}/deprecate",
        headers=admin_headers,
        json={"replacement_model_id": second["id"]},
    )
    _served_by(client, key, "first", "second")  # asked for by name: its replacement answers


def test_a_change_through_one_replica_reaches_another(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    app_settings: Settings,
) -> None:
    key = _virtual_key(session_factory)
    with TestClient(create_app(app_settings)) as other_replica:
        provider = add_mock_provider(client, admin_headers)
        model = add_model(client, admin_headers, provider["id"], "shared")
        add_rule(client, admin_headers, model["id"])
        _served_by(other_replica, key, "balanced", "shared")
        newer = add_model(other_replica, admin_headers, provider["id"], "newer")
        add_rule(other_replica, admin_headers, newer["id"], priority=1)
        _served_by(client, key, "balanced", "newer")
