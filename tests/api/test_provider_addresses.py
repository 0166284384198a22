"""Where provider URLs may point (`PROVIDER_ADDRESSES`), through the admin API on SQLite and
PostgreSQL: checked when a provider is stored, and again when it is called; redirects are not
followed, and what a probe stores of an upstream's answer is short and scrubbed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.address_policy import ProviderAddresses
from switchboard.api.app import create_app
from switchboard.models import AuditLogEntry, LLMProvider
from switchboard.settings import Settings
from tests.api.catalog_calls import ADMIN, add_provider, field_errors, provider_health
from tests.fake_upstream import json_reply, redirect, running_fake_upstream

KEY = "sk-test-0123456789abcdefWXYZ"
METADATA_URLS = [
    "http://169.254.169.254/",
    "http://2852039166/",
    "http://[::ffff:169.254.169.254]/",
    "http://0xA9FEA9FE/",
    "http://0251.0376.0251.0376/latest",
    "http://169.254.43518/",
    "http://[64:ff9b::a9fe:a9fe]/",
]


def client_for(settings: Settings, addresses: ProviderAddresses) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"provider_addresses": addresses})))


@pytest.fixture
def public_client(app_settings: Settings) -> Iterator[TestClient]:
    with client_for(app_settings, ProviderAddresses.PUBLIC) as test_client:
        yield test_client


def create(client: TestClient, headers: dict[str, str], slug: str, url: str) -> object:
    body = {"provider_slug": slug, "provider_name": slug, "base_url": url, "api_key": KEY}
    return client.post(f"{ADMIN}/providers", headers=headers, json=body)


def patch_url(client: TestClient, headers: dict[str, str], provider_id: int, url: str) -> object:
    return client.patch(f"{ADMIN}/providers/{provider_id}", headers=headers, json={"base_url": url})


def stored(session_factory: sessionmaker[Session]) -> tuple[list[str | None], int]:
    """The base URLs stored, and how many audit entries there are."""
    with session_factory() as session:
        urls = session.scalars(select(LLMProvider.base_url).order_by(LLMProvider.id)).all()
        audited = session.scalar(select(func.count()).select_from(AuditLogEntry)) or 0
    return list(urls), audited


@pytest.mark.parametrize("url", METADATA_URLS)
def test_a_metadata_address_in_any_notation_is_refused_and_nothing_is_stored_or_changed(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    url: str,
) -> None:
    message = field_errors(create(client, admin_headers, "meta", url))["base_url"]
    assert "169.254.169.254" in message
    assert message.endswith("a cloud metadata address, which PROVIDER_ADDRESSES=private refuses")
    assert stored(session_factory) == ([], 0)
    provider = add_provider(client, admin_headers, "ok", base_url="https://example.invalid/v1")
    patched = patch_url(client, admin_headers, provider["id"], url)
    assert "a cloud metadata address" in field_errors(patched)["base_url"]
    assert stored(session_factory) == (["https://example.invalid/v1"], 1)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434/v1",
        "http://localhost:11434/v1",
        "http://[::1]:8000/v1",
        "http://10.0.0.5/v1",
        "http://192.168.1.20:8000/v1",
        "https://example.invalid/v1",  # a name that does not resolve (yet) is accepted
    ],
)
def test_loopback_and_private_addresses_are_accepted_by_default(
    client: TestClient, admin_headers: dict[str, str], url: str
) -> None:
    response = create(client, admin_headers, "local", url)
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:11434/v1", "host '127.0.0.1' is 127.0.0.1, a loopback address"),
        ("http://localhost:11434/v1", "host 'localhost' resolves to 127.0.0.1, a loopback address"),
        ("http://0x7f000001/v1", "host '0x7f000001' is 127.0.0.1, a loopback address"),
        ("http://10.0.0.5/v1", "host '10.0.0.5' is 10.0.0.5, a private address"),
        ("http://[fd12::1]/v1", "host 'fd12::1' is fd12::1, a private address"),
    ],
)
def test_under_public_loopback_and_private_addresses_are_refused(
    public_client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    url: str,
    reason: str,
) -> None:
    refused = field_errors(create(public_client, admin_headers, "local", url))
    assert refused == {"base_url": f"{reason}, which PROVIDER_ADDRESSES=public refuses"}
    provider = add_provider(public_client, admin_headers, "public", base_url="http://8.8.8.8/v1")
    patched = patch_url(public_client, admin_headers, provider["id"], url)
    assert field_errors(patched) == refused
    assert stored(session_factory) == (["http://8.8.8.8/v1"], 1)


def test_any_accepts_the_metadata_address(
    app_settings: Settings, admin_headers: dict[str, str]
) -> None:
    with client_for(app_settings, ProviderAddresses.ANY) as client:
        for n, url in enumerate(METADATA_URLS):
            response = create(client, admin_headers, f"meta-{n}", url)
            assert response.status_code == 201, response.text  # type: ignore[attr-defined]


# At call time ---------------------------------------------------------------------------


def test_a_probe_does_not_follow_a_redirect(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    with (
        running_fake_upstream() as target,
        running_fake_upstream(default=redirect(f"{target.base_url}/models")) as hop,
    ):
        provider = add_provider(client, admin_headers, "hop", base_url=hop.base_url, api_key=KEY)
        health = provider_health(client, admin_headers, provider["id"])
        assert [(r.method, r.path) for r in hop.received()] == [("GET", "/v1/models")]
        assert target.received() == []
    assert health["health_status"] == "down"
    assert health["health_error"] == (
        f"protocol_error: hop answered 302: redirected to '{target.base_url}/models' — not followed"
    )


def test_a_probe_stores_a_short_excerpt_without_anything_key_shaped(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    other_key = "sk-proj-AnotherKey0123456789abcdefXYZ"
    message = f"proxy failed; its own key is {other_key}; yours was {KEY}. " + "x" * 5000
    body = {"error": {"message": message, "type": "proxy_error"}}
    with running_fake_upstream(default=json_reply(body, status=500)) as upstream:
        provider = add_provider(
            client, admin_headers, "proxy", base_url=upstream.base_url, api_key=KEY
        )
        health = provider_health(client, admin_headers, provider["id"])
    error = str(health["health_error"])
    assert health["health_status"] == "down" and len(error) <= 500
    assert error.startswith("server_error: proxy answered 500: proxy failed; its own key is sk-")
    assert other_key not in error and KEY not in error
    listed = client.get(f"{ADMIN}/providers/{provider['id']}", headers=admin_headers).text
    assert other_key not in listed and KEY not in listed


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_under_public_a_stored_loopback_url_is_refused_when_probed(
    public_client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    host: str,
) -> None:
    """Stored when the policy allowed it (or pointed there since): the connection is refused
    after resolution, and nothing reaches the upstream."""
    with running_fake_upstream() as upstream:
        url = upstream.base_url.replace("127.0.0.1", host)
        with session_factory() as session:
            row = LLMProvider(
                provider_slug="local", provider_name="local", base_url=url, auth_type="none"
            )
            session.add(row)
            session.commit()
            provider_id = row.id
        health = provider_health(public_client, admin_headers, provider_id)
        assert upstream.received() == []
    error = str(health["health_error"])
    assert health["health_status"] == "down" and error.startswith("connection_error: local: ")
    assert "127.0.0.1, a loopback address, which PROVIDER_ADDRESSES=public refuses" in error
