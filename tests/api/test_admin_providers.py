"""The providers admin API, through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.api.app import create_app
from switchboard.models import AuditLogEntry, LLMModel, LLMProvider, LLMRoutingRule
from switchboard.secrets import SecretManager
from switchboard.settings import Settings
from tests.api.catalog_calls import (
    ADMIN,
    SPEC_PROVIDER,
    add_mock_provider,
    add_model,
    add_provider,
    add_rule,
    field_errors,
    provider_health,
)
from tests.fake_upstream import Reply, closed_port_url, running_fake_upstream

KEY = "sk-test-0123456789abcdefWXYZ"
MASK = "sk-te…WXYZ"  # 27 characters: 9 shown, a third
LISTING = "/v1/models"
REFUSED = "refused {authorization}"
"""An upstream's error that repeats the key it got."""

ENDPOINTS = [
    ("GET", "/providers"),
    ("POST", "/providers"),
    ("GET", "/providers/1"),
    ("PATCH", "/providers/1"),
    ("DELETE", "/providers/1"),
    ("GET", "/providers/1/health"),
    ("GET", "/models"),
    ("POST", "/models"),
    ("GET", "/models/1"),
    ("PATCH", "/models/1"),
    ("DELETE", "/models/1"),
    ("POST", "/models/1/deprecate"),
    ("GET", "/models/1/prices"),
    ("GET", "/routing/rules"),
    ("POST", "/routing/rules"),
    ("GET", "/routing/rules/1"),
    ("PATCH", "/routing/rules/1"),
    ("DELETE", "/routing/rules/1"),
    ("GET", "/routing/matrix"),
    ("POST", "/routing/explain"),
]


def test_every_catalog_endpoint_wants_the_admin_token(client: TestClient) -> None:
    for method, path in ENDPOINTS:
        missing = client.request(method, ADMIN + path, json={})
        assert missing.status_code == 401, (method, path)
        wrong = client.request(method, ADMIN + path, json={}, headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 403, (method, path)


def test_the_spec_create_provider_body_works_as_is(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    created = client.post(f"{ADMIN}/providers", headers=admin_headers, json=SPEC_PROVIDER)
    assert created.status_code == 201, created.text
    body = created.json()
    assert {key: body[key] for key in SPEC_PROVIDER} == SPEC_PROVIDER
    assert body["health_status"] == "unknown" and body["api_key_masked"] is None
    listed = client.get(f"{ADMIN}/providers", headers=admin_headers).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == body["id"]
    assert client.get(f"{ADMIN}/providers/{body['id']}", headers=admin_headers).json() == body


def test_the_system_key_is_write_only_encrypted_and_masked(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    clean_environment: str,
) -> None:
    bodies = []
    created = client.post(
        f"{ADMIN}/providers", headers=admin_headers, json={**SPEC_PROVIDER, "api_key": KEY}
    )
    bodies.append(created.text)
    provider = created.json()
    assert provider["api_key_masked"] == MASK and provider["api_key_source"] == "stored"
    url = f"{ADMIN}/providers/{provider['id']}"
    bodies.append(client.get(url, headers=admin_headers).text)
    bodies.append(client.get(f"{ADMIN}/providers", headers=admin_headers).text)
    # A 422 for another field must not echo the key in the input it reports.
    bad = client.post(
        f"{ADMIN}/providers", headers=admin_headers, json={"provider_slug": "x", "api_key": KEY}
    )
    assert "provider_name" in field_errors(bad)
    bodies.append(bad.text)
    bad_key = client.patch(url, headers=admin_headers, json={"api_key": ["", KEY]})
    assert "api_key" in field_errors(bad_key)
    bodies.append(bad_key.text)
    with session_factory() as session:
        row = session.get(LLMProvider, provider["id"])
        assert row is not None and row.encrypted_api_key and KEY not in row.encrypted_api_key
        assert (
            SecretManager.from_value(clean_environment).decrypt_secret(row.encrypted_api_key) == KEY
        )
        assert (row.api_key_prefix, row.api_key_suffix) == ("sk-te", "WXYZ")

    replaced = client.patch(url, headers=admin_headers, json={"api_key": "sk-new-key-98765-abcd"})
    assert replaced.json()["api_key_masked"] == "sk-n…bcd"  # 21 characters: 7 shown
    removed = client.patch(url, headers=admin_headers, json={"api_key": None})
    assert removed.json()["api_key_masked"] is None and removed.json()["api_key_source"] is None
    bodies += [replaced.text, removed.text]

    with session_factory() as session:
        entries = session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id)).all()
        assert [(e.action, e.entity_type) for e in entries] == [("create", "provider")] + [
            ("update", "provider")
        ] * 2
        assert entries[0].after is not None and entries[0].after["encrypted_api_key"] == "(set)"
        assert entries[-1].after is not None and entries[-1].after["encrypted_api_key"] is None
        bodies += [repr(e.before) + repr(e.after) for e in entries]
    for text in bodies:
        assert KEY not in text and "sk-new-key-98765-abcd" not in text


def test_list_filters_and_pages(client: TestClient, admin_headers: dict[str, str]) -> None:
    for slug in ("alpha", "beta", "gamma", "delta"):
        add_provider(client, admin_headers, slug, is_active=slug != "gamma")
    client.patch(f"{ADMIN}/providers/2", headers=admin_headers, json={"health_status": "down"})

    def slugs(**params: object) -> tuple[list[str], int]:
        page = client.get(f"{ADMIN}/providers", headers=admin_headers, params=params).json()
        return [item["provider_slug"] for item in page["items"]], page["total"]

    assert slugs() == (["alpha", "beta", "gamma", "delta"], 4)
    assert slugs(is_active="false") == (["gamma"], 1)
    assert slugs(is_active="true", limit=2, offset=1) == (["beta", "delta"], 3)
    assert slugs(health_status="down") == (["beta"], 1)
    assert slugs(slug="delta") == (["delta"], 1)
    errors = client.get(f"{ADMIN}/providers", headers=admin_headers, params={"limit": 0})
    assert "limit" in field_errors(errors)
    errors = client.get(f"{ADMIN}/providers", headers=admin_headers, params={"health_status": "x"})
    assert "health_status" in field_errors(errors)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"provider_slug": "Open AI"}, "provider_slug", "pattern"),
        ({"base_url": "ftp://example.com"}, "base_url", "http"),
        ({"auth_type": "oauth"}, "auth_type", "bearer"),
        ({"min_tier_required": "gold"}, "min_tier_required", "free"),
        ({"provider_name": None}, "provider_name", "must not be null"),
        ({"is_active": None}, "is_active", "must not be null"),
        ({"colour": "blue"}, "colour", "Extra inputs"),
        ({"api_format": "carrier-pigeon"}, "api_format", "'openai'"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient,
    admin_headers: dict[str, str],
    body: dict[str, object],
    field: str,
    message: str,
) -> None:
    created = client.post(
        f"{ADMIN}/providers", headers=admin_headers, json={**SPEC_PROVIDER, **body}
    )
    assert message in field_errors(created)[field]
    provider = add_provider(client, admin_headers, "ok")
    patched = client.patch(f"{ADMIN}/providers/{provider['id']}", headers=admin_headers, json=body)
    assert message in field_errors(patched)[field]


def test_unknown_ids_are_404(client: TestClient, admin_headers: dict[str, str]) -> None:
    url = f"{ADMIN}/providers/999"
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(method, url, headers=admin_headers, json={})
        assert (response.status_code, response.json()) == (
            404,
            {"detail": "provider 999 does not exist"},
        )
    assert client.get(f"{url}/health", headers=admin_headers).status_code == 404


def test_a_taken_slug_is_409(client: TestClient, admin_headers: dict[str, str]) -> None:
    add_provider(client, admin_headers, "openai")
    other = add_provider(client, admin_headers, "groq")
    taken = SPEC_PROVIDER | {"provider_slug": "openai"}
    again = client.post(f"{ADMIN}/providers", headers=admin_headers, json=taken)
    assert again.status_code == 409 and "openai" in again.json()["detail"]
    renamed = client.patch(
        f"{ADMIN}/providers/{other['id']}", headers=admin_headers, json={"provider_slug": "openai"}
    )
    assert renamed.status_code == 409
    same = client.patch(
        f"{ADMIN}/providers/{other['id']}", headers=admin_headers, json={"provider_slug": "groq"}
    )
    assert same.status_code == 200


def test_delete_is_refused_while_models_refer_to_it_unless_cascade(
    client: TestClient, admin_headers: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    provider = add_mock_provider(client, admin_headers)
    model = add_model(client, admin_headers, provider["id"], "m-1")
    add_rule(client, admin_headers, model["id"])
    other = add_mock_provider(client, admin_headers, "other")
    survivor = add_model(client, admin_headers, other["id"], "m-2")
    client.post(
        f"{ADMIN}/models/{survivor['id']}/deprecate",
        headers=admin_headers,
        json={"replacement_model_id": model["id"]},
    )
    url = f"{ADMIN}/providers/{provider['id']}"
    refused = client.delete(url, headers=admin_headers)
    assert refused.status_code == 409 and "cascade=true" in refused.json()["detail"]
    assert client.delete(f"{url}?cascade=true", headers=admin_headers).status_code == 204
    assert client.get(url, headers=admin_headers).status_code == 404
    with session_factory() as session:
        assert session.scalars(select(LLMModel.model_id)).all() == ["m-2"]
        assert session.scalars(select(LLMRoutingRule)).all() == []
        assert session.scalars(select(LLMModel.replacement_model_id)).all() == [None]
        deleted = session.scalars(
            select(AuditLogEntry.entity_type).where(AuditLogEntry.action == "delete")
        ).all()
    assert sorted(deleted) == ["model", "provider", "routing_rule"]
    empty = add_provider(client, admin_headers, "empty")
    assert (
        client.delete(f"{ADMIN}/providers/{empty['id']}", headers=admin_headers).status_code == 204
    )


# Health -------------------------------------------------------------------------------


@pytest.fixture
def slow_is_degraded(app_settings: Settings) -> Iterator[TestClient]:
    """The app, with answers slower than 300 ms counting as degraded."""
    settings = app_settings.model_copy(update={"health_check_degraded_ms": 300})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_health_probes_the_provider_and_records_the_result(
    slow_is_degraded: TestClient, admin_headers: dict[str, str]
) -> None:
    client = slow_is_degraded
    with running_fake_upstream(models=["fake-small", "fake-large"]) as upstream:
        provider = add_provider(
            client, admin_headers, "fake", base_url=upstream.base_url, api_key=KEY
        )
        health = provider_health(client, admin_headers, provider["id"])
        assert health["health_status"] == "healthy" and health["models_found"] == 2
        assert health["health_error"] is None and isinstance(health["health_latency_ms"], int)
        assert upstream.received()[-1].authorization == f"Bearer {KEY}"
        stored = client.get(f"{ADMIN}/providers/{provider['id']}", headers=admin_headers).json()
        assert stored["health_status"] == "healthy"
        assert stored["last_health_check_at"] == health["last_health_check_at"]

        upstream.set_default(LISTING, Reply(delay_s=0.5))
        slow = provider_health(client, admin_headers, provider["id"])
        assert slow["health_status"] == "degraded" and "slow" in str(slow["health_error"])

        upstream.set_default(LISTING, Reply(status=429, error_message=REFUSED))
        assert provider_health(client, admin_headers, provider["id"])["health_status"] == "degraded"

        upstream.set_default(LISTING, Reply(status=401, error_message=REFUSED))
        # the fake echoes the key it got: only its mask may remain
        refused = provider_health(client, admin_headers, provider["id"])
        assert refused["health_status"] == "down" and MASK in str(refused["health_error"])
        assert (
            KEY not in str(refused)
            and KEY
            not in client.get(f"{ADMIN}/providers/{provider['id']}", headers=admin_headers).text
        )

        upstream.set_default(LISTING, Reply(status=503, error_message=REFUSED))
        assert provider_health(client, admin_headers, provider["id"])["health_status"] == "down"


def test_health_of_unreachable_keyless_and_mock_providers(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    closed = add_provider(
        client, admin_headers, "closed", base_url=closed_port_url(), auth_type="none"
    )
    down = provider_health(client, admin_headers, closed["id"])
    assert down["health_status"] == "down" and "connection" in str(down["health_error"])
    keyless = add_provider(client, admin_headers, "keyless", base_url="https://example.invalid/v1")
    unknown = provider_health(client, admin_headers, keyless["id"])
    assert unknown["health_status"] == "unknown" and "no system API key" in str(
        unknown["health_error"]
    )
    mock = add_mock_provider(client, admin_headers)
    assert provider_health(client, admin_headers, mock["id"])["health_status"] == "healthy"
    failing = add_mock_provider(client, admin_headers, "failing", config={"fail_status": 503})
    assert provider_health(client, admin_headers, failing["id"])["health_status"] == "down"
    limited = add_mock_provider(client, admin_headers, "limited", config={"fail_status": 429})
    assert provider_health(client, admin_headers, limited["id"])["health_status"] == "degraded"
    statuses = client.get(
        f"{ADMIN}/providers", headers=admin_headers, params={"health_status": "down"}
    ).json()
    assert sorted(item["provider_slug"] for item in statuses["items"]) == ["closed", "failing"]


def test_values_a_database_cannot_hold_are_422_not_500(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    huge = 2**70
    assert "provider_id" in field_errors(
        client.get(f"{ADMIN}/providers/{huge}", headers=admin_headers)
    )
    assert "provider_id" in field_errors(client.get(f"{ADMIN}/providers/-1", headers=admin_headers))
    nul = client.post(
        f"{ADMIN}/providers", headers=admin_headers, json=SPEC_PROVIDER | {"description": "a\x00"}
    )
    assert "description" in field_errors(nul)
    provider = add_mock_provider(client, admin_headers)
    body = {"provider_id": provider["id"], "model_id": "m", "model_name": "m"}
    model = client.post(
        f"{ADMIN}/models", headers=admin_headers, json=body | {"power_level_priority": 2**31}
    )
    assert "power_level_priority" in field_errors(model)
    page = client.get(f"{ADMIN}/models", headers=admin_headers, params={"offset": huge})
    assert "offset" in field_errors(page)
    rules = client.get(f"{ADMIN}/routing/rules", headers=admin_headers, params={"model_id": huge})
    assert "model_id" in field_errors(rules)
