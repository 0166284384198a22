"""Revoking and deactivating through one gateway process, seen by another on the same
database within its catalog poll interval (1 s, the default): two real `switchboard serve`
processes, A and B, whose key caches keep an entry for a minute, so no TTL can be what
makes it so. A itself refuses at once; a stream already under way runs to its end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.catalog_rows import (
    client,
    post_chat,
    user_message,
)
from tests.e2e.harness import GatewayProcess
from tests.e2e.stage import Stage
from tests.fake_upstream import FakeUpstream, Reply

ADMIN_TOKEN = "sb-admin-e2e-revocation-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
USERS = "/api/v1/admin/llm/users"
BYOK_KEYS = "/api/v1/llm/byok/keys"
MODEL = "revocation-model"
OWN_SECRET = "sk-own-revocation-0001"
POLL_INTERVAL_S = 1.0
DEADLINE_S = 1.5
"""The poll interval, and the time a query and a request take on a busy machine."""


@dataclass(frozen=True)
class World:
    a: GatewayProcess
    b: GatewayProcess
    fake: FakeUpstream
    keys: dict[str, str]
    key_ids: dict[str, int]
    byok_key_id: int


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    env = {
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "KEY_CACHE_TTL_S": "60",
        "CATALOG_POLL_INTERVAL_S": str(POLL_INTERVAL_S),
    }
    with stage.catalog() as rows:
        provider = rows.provider("rv", byok=True)
        rows.rule(rows.model(provider, MODEL))
        rows.session.commit()
        keys, key_ids = rows.users("revoked", "kept", "deactivated", "own-key-user", "streaming")
        own = rows.byok_key(user_id="own-key-user", provider=provider, secret=OWN_SECRET)
    with stage.gateway(env, name="a") as a, stage.gateway(env, name="b") as b:
        yield World(a, b, stage.fake, keys, key_ids, own.id)


def status(gateway: GatewayProcess, key: str) -> int:
    """What the gateway makes of a virtual key now: 200 accepted, 401 refused."""
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{gateway.openai_base_url}/models", headers=headers, timeout=10).status_code


def within_deadline(check: Callable[[], bool], since: float) -> float:
    """Poll `check` until it holds; how long after `since` it did (at most DEADLINE_S)."""
    while not check():
        assert time.monotonic() - since < DEADLINE_S, f"not so after {DEADLINE_S} s"
        time.sleep(0.02)
    elapsed = time.monotonic() - since
    assert elapsed < DEADLINE_S
    return elapsed


def admin(gateway: GatewayProcess, method: str, path: str, **options: object) -> None:
    response = httpx.request(
        method, f"{gateway.base_url}{path}", headers=ADMIN, timeout=10, **options
    )
    assert response.status_code == 200, response.text


def test_a_key_revoked_through_one_process_is_refused_by_the_other_within_a_second(
    world: World,
) -> None:
    revoked, kept = world.keys["revoked"], world.keys["kept"]
    assert [status(gateway, key) for gateway in (world.a, world.b) for key in (revoked, kept)] == [
        200
    ] * 4

    admin(world.a, "POST", f"{USERS}/revoked/keys/{world.key_ids['revoked']}/revoke")
    done = time.monotonic()

    assert status(world.a, revoked) == 401
    within_deadline(lambda: status(world.b, revoked) == 401, done)
    assert status(world.b, kept) == status(world.a, kept) == 200


def test_a_user_deactivated_through_one_process_is_refused_by_the_other_and_then_taken_back(
    world: World,
) -> None:
    key = world.keys["deactivated"]
    assert status(world.a, key) == status(world.b, key) == 200

    admin(world.a, "PATCH", f"{USERS}/deactivated", json={"is_active": False})
    done = time.monotonic()
    assert status(world.a, key) == 401
    within_deadline(lambda: status(world.b, key) == 401, done)

    admin(world.a, "PATCH", f"{USERS}/deactivated", json={"is_active": True})
    done = time.monotonic()
    assert status(world.a, key) == 200
    within_deadline(lambda: status(world.b, key) == 200, done)


def test_an_own_key_deactivated_or_deleted_through_one_process_stops_being_used_by_the_other(
    world: World,
) -> None:
    key = world.keys["own-key-user"]
    url = f"{world.a.base_url}{BYOK_KEYS}/{world.byok_key_id}"
    headers = {"Authorization": f"Bearer {key}"}

    def key_source(gateway: GatewayProcess) -> str:
        response = post_chat(gateway, key, {"model": MODEL, "messages": user_message()})
        assert response.status_code == 200, response.text
        return response.headers["x-switchboard-key-source"]

    assert key_source(world.a) == key_source(world.b) == "byok"
    for change, source in [
        (lambda: httpx.patch(url, json={"is_active": False}, headers=headers), "system"),
        (lambda: httpx.patch(url, json={"is_active": True}, headers=headers), "byok"),
        (lambda: httpx.delete(url, headers=headers), "system"),
    ]:
        assert change().is_success
        done = time.monotonic()
        assert key_source(world.a) == source
        within_deadline(lambda source=source: key_source(world.b) == source, done)


def test_a_stream_under_way_when_its_key_is_revoked_runs_to_its_end(world: World) -> None:
    key = world.keys["streaming"]
    world.fake.script(MODEL, Reply(text="one two three four", chunks=4, chunk_delay_s=0.3))
    text: list[str] = []
    with client(world.a, key) as sdk:
        stream = sdk.chat.completions.create(model=MODEL, messages=user_message(), stream=True)
        chunks = iter(stream)
        first = next(chunks)
        text.extend(choice.delta.content or "" for choice in first.choices)

        admin(world.a, "POST", f"{USERS}/streaming/keys/{world.key_ids['streaming']}/revoke")
        assert status(world.a, key) == 401

        for chunk in chunks:
            text.extend(choice.delta.content or "" for choice in chunk.choices)

    assert "".join(text) == "one two three four"
