"""The BYOK API through HTTP, on SQLite and PostgreSQL: a user's own provider keys, validated
against a fake provider that accepts one key per user and refuses others with 401."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from switchboard.api.app import create_app
from switchboard.db import open_database
from switchboard.models import LLMProvider, UserAPIKey
from switchboard.secrets import SecretManager
from switchboard.services.users import create_user, issue_virtual_key
from switchboard.settings import Settings
from tests.api.account_calls import AUDIT, BYOK_KEYS, USERS, bearer, eventually, key_status
from tests.e2e.catalog_rows import CatalogRows
from tests.fake_upstream import FakeUpstream, running_fake_upstream

ALICE_KEY = "sk-fake-alice-0123456789abcdefXYZW"
WRONG_KEY = "sk-fake-wrong-0123456789abcdefQRST"
SYSTEM_KEY = "sk-fake-system-0123456789abcdefLMNO"


@dataclass(frozen=True, slots=True)
class World:
    client: TestClient
    upstream: FakeUpstream
    alice: dict[str, str]
    """Alice's virtual key, as request headers."""
    bob: dict[str, str]
    alice_key: str
    provider_id: int


@pytest.fixture
def world(app_settings: Settings, clean_environment: str) -> Iterator[World]:
    """Provider `fakeai` (BYOK, format `sk-fake-*`, a system key) pointing at the fake, a
    balanced model with a rule; provider `closed` without BYOK; users alice and bob."""
    secrets = SecretManager.from_value(clean_environment)
    with running_fake_upstream(api_keys=(ALICE_KEY, SYSTEM_KEY), models=["fake-model"]) as upstream:
        sessions = open_database(app_settings.database_url)
        with sessions() as session:
            rows = CatalogRows(session, secrets, upstream.url)
            provider = rows.provider(
                "fakeai", byok=True, api_key=SYSTEM_KEY, api_key_format="sk-fake-*"
            )
            rows.provider("closed", with_system_key=False, api_key_format="sk-fake-*")
            rows.rule(rows.model(provider, "fake-model"))
            session.commit()
            provider_id = provider.id
            create_user(session, user_id="alice")
            create_user(session, user_id="bob")
            alice = issue_virtual_key(session, user_id="alice").key
            bob = issue_virtual_key(session, user_id="bob").key
        sessions.kw["bind"].dispose()
        with TestClient(create_app(app_settings)) as client:
            yield World(client, upstream, bearer(alice), bearer(bob), alice, provider_id)


def add_key(world: World, api_key: str = ALICE_KEY, **fields: Any) -> dict[str, Any]:
    body = {"provider_slug": "fakeai", "api_key": api_key, "key_name": "mine", **fields}
    body = {name: value for name, value in body.items() if value is not None}
    response = world.client.post(BYOK_KEYS, json=body, headers=world.alice)
    assert response.status_code == 201, response.text
    assert api_key not in response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_valid_key_is_validated_stored_and_listed(world: World) -> None:
    created = add_key(world, provider_slug=None, provider_id=world.provider_id)
    assert created["provider_slug"] == "fakeai"
    # 34 characters: 10 of them shown, as `mask_secret` shows them.
    assert (created["key_prefix"], created["key_suffix"]) == ("sk-fak", "XYZW")
    assert created["masked_key"] == "sk-fak…XYZW"
    assert (created["is_validated"], created["validation_error"]) == (True, None)
    assert created["last_validated_at"] is not None and created["last_used_at"] is None
    assert created["is_active"] is True
    [probe] = world.upstream.received(path="/models")
    assert (probe.method, probe.authorization) == ("GET", f"Bearer {ALICE_KEY}")

    listed = world.client.get(BYOK_KEYS, headers=world.alice)
    assert listed.status_code == 200
    assert listed.json() == [created]
    read = world.client.get(f"{BYOK_KEYS}/{created['id']}", headers=world.alice)
    assert read.json() == created
    assert ALICE_KEY not in listed.text + read.text


def test_a_refused_key_is_stored_unvalidated_with_the_reason(world: World) -> None:
    created = add_key(world, WRONG_KEY)
    assert created["is_validated"] is False
    reason = created["validation_error"]
    assert "401" in reason and "Incorrect API key" in reason
    assert WRONG_KEY not in reason  # the fake echoed it; the gateway masks it


def test_revalidation_records_the_providers_answer(world: World) -> None:
    created = add_key(world)
    url = f"{BYOK_KEYS}/{created['id']}/validate"
    world.upstream.accept(SYSTEM_KEY)
    refused = world.client.post(url, headers=world.alice)
    assert refused.status_code == 200
    assert refused.json()["is_validated"] is False
    assert "401" in refused.json()["validation_error"]
    assert ALICE_KEY not in refused.text
    world.upstream.accept(ALICE_KEY, SYSTEM_KEY)
    accepted = world.client.post(url, headers=world.alice).json()
    assert (accepted["is_validated"], accepted["validation_error"]) == (True, None)
    assert accepted["last_validated_at"] > refused.json()["last_validated_at"]


def visible(masked: str) -> int:
    return len(masked) - len("…")


def stored_clear_ends(settings: Settings, key_id: int) -> tuple[str | None, str | None]:
    """The key's characters stored in clear: its prefix and suffix, as the row has them."""
    sessions = open_database(settings.database_url)
    with sessions() as session:
        row = session.get(UserAPIKey, key_id)
        assert row is not None
        ends = (row.key_prefix, row.key_suffix)
    sessions.kw["bind"].dispose()
    return ends


def test_a_short_key_is_shown_a_third_at_most(world: World, app_settings: Settings) -> None:
    short = "sk-fake-short-ABCDEF"  # 20 characters, the shortest the API takes
    created = add_key(world, short)
    assert created["masked_key"] == "sk-…DEF" and visible(created["masked_key"]) <= 20 // 3
    assert (created["key_prefix"], created["key_suffix"]) == ("sk-", "DEF")
    assert stored_clear_ends(app_settings, created["id"]) == ("sk-", "DEF")


OLD_ROWS = ["sk-fake-abc", "sk-fake-abcd", "sk-fake-short-ABCDEF", "sk-f", ALICE_KEY]


def store_alices_keys_the_old_way(
    settings: Settings, encryption_key: str, provider_id: int, keys: Iterable[str]
) -> None:
    """Rows written as the spec's example code writes them, with the first 8 and last 4
    characters in clear, whatever the key's length."""
    secrets = SecretManager.from_value(encryption_key)
    sessions = open_database(settings.database_url)
    with sessions() as session:
        session.add_all(
            UserAPIKey(
                user_id="alice",
                provider_id=provider_id,
                encrypted_api_key=secrets.encrypt_secret(key)["encrypted_value"],
                key_prefix=key[:8],
                key_suffix=key[-4:],
            )
            for key in keys
        )
        session.commit()
    sessions.kw["bind"].dispose()


def test_keys_stored_the_old_way_show_a_third_at_most(
    world: World, app_settings: Settings, clean_environment: str, admin_headers: dict[str, str]
) -> None:
    """Rows written as the spec's example code writes them, with the first 8 and last 4
    characters in clear, whatever the key's length: no answer shows more than a third of
    the key, and validating the key again keeps only its mask."""
    store_alices_keys_the_old_way(app_settings, clean_environment, world.provider_id, OLD_ROWS)
    listed = world.client.get(BYOK_KEYS, headers=world.alice).json()
    pairs = zip(OLD_ROWS, listed, strict=True)
    shown = {key: (item["key_prefix"], item["key_suffix"]) for key, item in pairs}
    assert shown == {
        "sk-fake-abc": ("", ""),  # "sk-fake-" and "-abc" may overlap: 11 characters
        "sk-fake-abcd": ("sk", "cd"),  # 8 + 4 were all of it; 4 shown
        "sk-fake-short-ABCDEF": ("sk", "EF"),
        "sk-f": ("", ""),
        ALICE_KEY: ("sk", "ZW"),  # as if as short as the stored characters allow: 12
    }
    for key, item in zip(OLD_ROWS, listed, strict=True):
        head, tail = shown[key]
        assert item["masked_key"] == f"{head}…{tail}"
        assert visible(item["masked_key"]) <= len(key) // 3
    renamed = world.client.patch(
        f"{BYOK_KEYS}/{listed[0]['id']}", json={"key_name": "old"}, headers=world.alice
    )
    assert renamed.json()["masked_key"] == "…"
    entries = world.client.get(AUDIT, headers=admin_headers).json()["items"]
    assert [entries[0][when]["key_prefix"] for when in ("before", "after")] == ["", ""]
    assert "sk-fake-" not in json.dumps(entries)

    validated = world.client.post(f"{BYOK_KEYS}/{listed[-1]['id']}/validate", headers=world.alice)
    assert validated.json()["masked_key"] == "sk-fak…XYZW"  # decrypted: its own mask now
    assert stored_clear_ends(app_settings, listed[-1]["id"]) == ("sk-fak", "XYZW")


def test_bad_input_names_the_field_and_never_echoes_the_key(world: World) -> None:
    long_but_foreign = "pk-live-0123456789abcdefghijklmn"
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        ({"provider_slug": "fakeai", "api_key": long_but_foreign}, ["body", "api_key"]),
        ({"provider_slug": "closed", "api_key": ALICE_KEY}, ["body", "provider_slug"]),
        (
            {"provider_id": 1, "provider_slug": "fakeai", "api_key": ALICE_KEY},
            ["body"],
        ),
        ({"provider_id": None, "api_key": ALICE_KEY}, ["body", "provider_id"]),
        ({"api_key": ALICE_KEY}, ["body"]),
        ({"provider_slug": "fakeai", "api_key": "sk-fake-short"}, ["body", "api_key"]),
        ({"provider_slug": "fakeai", "api_key": ALICE_KEY + " x"}, ["body", "api_key"]),
        ({"provider_slug": "fakeai", "api_key": ALICE_KEY + "\x00"}, ["body", "api_key"]),
        ({"provider_slug": "fakeai", "api_key": ALICE_KEY, "extra": 1}, ["body", "extra"]),
        ({"provider_slug": "fakeai", "api_key": ALICE_KEY, "key_name": ""}, ["body", "key_name"]),
        ({"provider_slug": "fakeai"}, ["body", "api_key"]),
    ]
    for body, loc in cases:
        response = world.client.post(BYOK_KEYS, json=body, headers=world.alice)
        assert response.status_code == 422, (body, response.text)
        assert [error["loc"] for error in response.json()["detail"]] == [loc], body
        for secret in (ALICE_KEY, long_but_foreign, "sk-fake-short"):
            assert secret not in response.text
    for body in [{"provider_id": 9999}, {"provider_slug": "nope"}]:
        unknown = world.client.post(
            BYOK_KEYS, json={"api_key": ALICE_KEY, **body}, headers=world.alice
        )
        assert unknown.status_code == 404
        assert "no provider" in unknown.json()["detail"] and ALICE_KEY not in unknown.text
    assert world.client.get(BYOK_KEYS, headers=world.alice).json() == []
    assert world.upstream.received() == []


def test_users_never_see_or_touch_each_others_keys(world: World) -> None:
    created = add_key(world)
    key_url = f"{BYOK_KEYS}/{created['id']}"
    assert world.client.get(BYOK_KEYS, headers=world.bob).json() == []
    for method, suffix, body in [
        ("GET", "", None),
        ("PATCH", "", {"is_active": False}),
        ("POST", "/validate", None),
        ("DELETE", "", None),
    ]:
        theirs = world.client.request(method, key_url + suffix, json=body, headers=world.bob)
        unknown = world.client.request(
            method, f"{BYOK_KEYS}/999999{suffix}", json=body, headers=world.bob
        )
        assert theirs.status_code == unknown.status_code == 404, (method, suffix)
        assert theirs.json()["detail"] == f"key {created['id']} does not exist"
        assert unknown.json()["detail"] == "key 999999 does not exist"
    assert world.client.get(key_url, headers=world.alice).json() == created
    assert len(world.upstream.received(path="/models")) == 1


def test_rename_deactivate_reactivate_and_delete(world: World) -> None:
    created = add_key(world)
    url = f"{BYOK_KEYS}/{created['id']}"
    renamed = world.client.patch(url, json={"key_name": "work"}, headers=world.alice).json()
    assert (renamed["key_name"], renamed["is_active"]) == ("work", True)
    off = world.client.patch(url, json={"is_active": False}, headers=world.alice).json()
    assert off["is_active"] is False
    on = world.client.patch(url, json={"is_active": True}, headers=world.alice).json()
    assert on["is_active"] is True
    for body, field in [({"is_active": None}, "is_active"), ({"api_key": ALICE_KEY}, "api_key")]:
        bad = world.client.patch(url, json=body, headers=world.alice)
        assert bad.status_code == 422
        assert [error["loc"] for error in bad.json()["detail"]] == [["body", field]]
        assert ALICE_KEY not in bad.text

    assert world.client.delete(url, headers=world.alice).status_code == 204
    assert world.client.get(url, headers=world.alice).status_code == 404
    assert world.client.delete(url, headers=world.alice).status_code == 404
    assert world.client.get(BYOK_KEYS, headers=world.alice).json() == []


def test_the_byok_api_needs_a_valid_virtual_key(
    world: World, admin_headers: dict[str, str]
) -> None:
    for method, path in [
        ("GET", ""),
        ("POST", ""),
        ("GET", "/1"),
        ("PATCH", "/1"),
        ("POST", "/1/validate"),
        ("DELETE", "/1"),
    ]:
        for headers in ({}, bearer("sk-sb-unknown"), admin_headers):
            response = world.client.request(method, BYOK_KEYS + path, json={}, headers=headers)
            assert response.status_code == 401, (method, path, headers)
    client = world.client
    [issued] = client.get(f"{USERS}/alice/keys", headers=admin_headers).json()
    client.post(f"{USERS}/alice/keys/{issued['id']}/revoke", headers=admin_headers)
    eventually(lambda: key_status(client, world.alice_key) == 401)


def test_byok_changes_are_audited_with_the_key_masked(
    world: World, admin_headers: dict[str, str]
) -> None:
    created = add_key(world)
    url = f"{BYOK_KEYS}/{created['id']}"
    world.client.patch(url, json={"key_name": "work"}, headers=world.alice)
    world.client.post(f"{url}/validate", headers=world.alice)
    world.client.delete(url, headers=world.alice)

    response = world.client.get(AUDIT, params={"entity_type": "byok_key"}, headers=admin_headers)
    entries = response.json()["items"]
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("user:alice", "delete"),
        ("user:alice", "validate"),
        ("user:alice", "update"),
        ("user:alice", "create"),
    ]
    assert {e["entity_id"] for e in entries} == {str(created["id"])}
    assert entries[-1]["after"]["encrypted_api_key"] == "(set)"
    assert entries[-1]["after"]["key_prefix"] == "sk-fak"
    assert entries[0]["after"] is None
    assert ALICE_KEY not in json.dumps(entries)


def test_a_validated_key_routes_chat_at_once(world: World) -> None:
    def chat() -> str:
        response = world.client.post(
            "/v1/chat/completions",
            json={"model": "balanced", "messages": [{"role": "user", "content": "hi"}]},
            headers=world.alice,
        )
        assert response.status_code == 200, response.text
        [*_, call] = world.upstream.received(path="/chat/completions")
        source = response.headers["x-switchboard-key-source"]
        assert call.authorization == f"Bearer {SYSTEM_KEY if source == 'system' else ALICE_KEY}"
        return source

    assert chat() == "system"
    created = add_key(world)
    assert chat() == "byok"
    url = f"{BYOK_KEYS}/{created['id']}"

    def used() -> bool:  # the usage writer marks the key used
        return world.client.get(url, headers=world.alice).json()["last_used_at"] is not None

    eventually(used)
    world.client.patch(url, json={"is_active": False}, headers=world.alice)
    assert chat() == "system"
    world.client.patch(url, json={"is_active": True}, headers=world.alice)
    assert chat() == "byok"
    world.client.delete(url, headers=world.alice)
    assert chat() == "system"
    add_key(world, WRONG_KEY)  # not validated: never used
    assert chat() == "system"


def test_without_an_encryption_key_own_keys_cannot_be_stored(app_settings: Settings) -> None:
    settings = app_settings.model_copy(update={"encryption_key": None})
    sessions = open_database(settings.database_url)
    with sessions() as session:
        session.add(LLMProvider(provider_name="o", provider_slug="o", is_byok_supported=True))
        create_user(session, user_id="alice")
        key = issue_virtual_key(session, user_id="alice").key
    sessions.kw["bind"].dispose()
    with TestClient(create_app(settings)) as client:
        body = {"provider_slug": "o", "api_key": ALICE_KEY}
        response = client.post(BYOK_KEYS, json=body, headers=bearer(key))
    assert response.status_code == 503
    assert "ENCRYPTION_KEY" in response.json()["detail"]
    assert ALICE_KEY not in response.text


def test_deleting_a_provider_audits_its_users_keys_cut_to_a_third(
    world: World, app_settings: Settings, clean_environment: str, admin_headers: dict[str, str]
) -> None:
    """A provider deleted with its users' keys (`cascade`) writes each key to the audit log as
    the BYOK API shows it: a row stored the old way, 8 + 4 characters in clear, is cut to a
    third of the key there too."""
    store_alices_keys_the_old_way(app_settings, clean_environment, world.provider_id, [ALICE_KEY])
    url = f"/api/v1/admin/llm/providers/{world.provider_id}"
    deleted = world.client.delete(url, params={"cascade": "true"}, headers=admin_headers)
    assert deleted.status_code == 204, deleted.text
    params = {"entity_type": "byok_key"}
    entries = world.client.get(AUDIT, params=params, headers=admin_headers).json()["items"]
    assert [(e["action"], e["before"]["key_prefix"]) for e in entries] == [("delete", "sk")]
    assert ALICE_KEY[:8] not in json.dumps(entries)
