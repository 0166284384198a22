"""Provider calls from a real gateway process go only where `PROVIDER_ADDRESSES` allows, and
never follow a redirect: one upstream answers every call with a 307 to the fake upstream
(which records everything it receives; a 307 would resend the request, body and key, as is),
and a provider stored as `localhost` is refused at call time by a gateway whose policy is
`public` (the name resolves to loopback), without a byte reaching it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from switchboard.vocabulary import Tier
from tests.e2e.catalog_rows import post_chat
from tests.e2e.harness import GatewayProcess
from tests.e2e.stage import Stage
from tests.e2e.waiting import wait_for_usage_rows
from tests.fake_upstream import FakeUpstream, redirect, running_fake_upstream


@dataclass(frozen=True)
class World:
    private: GatewayProcess
    public: GatewayProcess
    fake: FakeUpstream
    hop: FakeUpstream
    key: str


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    fake = stage.fake
    redirecting = redirect(f"{fake.url}/chat/completions", status=307)
    with running_fake_upstream(default=redirecting) as hop:
        with stage.catalog() as rows:
            hopping = rows.provider("hop", base_url=hop.base_url)
            direct = rows.provider("direct")
            by_name = rows.provider(
                "by-name",
                base_url=fake.url.replace("127.0.0.1", "localhost"),
            )
            rows.model(hopping, "redirected")
            rows.model(direct, "backup")
            rows.model(by_name, "named")
            key = rows.user("address-user", tier=Tier.PROFESSIONAL)
        with (
            stage.gateway(name="private") as private,
            stage.gateway({"PROVIDER_ADDRESSES": "public"}, name="public") as public,
        ):
            yield World(private, public, fake, hop, key)


def ask(gateway: GatewayProcess, world: World, *names: str) -> httpx.Response:
    body = {
        "model": names[0],
        "models": list(names),
        "messages": [{"role": "user", "content": "?"}],
    }
    return post_chat(gateway, world.key, body)


def test_a_redirect_is_not_followed_and_the_next_candidate_answers(world: World) -> None:
    calls_before = len(world.hop.received())
    response = ask(world.private, world, "redirected", "backup")

    assert response.status_code == 200, response.text
    assert response.headers["x-switchboard-model"] == "backup"
    assert response.headers["x-switchboard-route-reason"] == (
        "requested as backup; fallback after 1 failed: hop/redirected (protocol_error)"
    )
    hopped = [(r.method, r.path) for r in world.hop.received()[calls_before:]]
    assert hopped == [("POST", "/v1/chat/completions")]
    assert world.fake.calls("redirected") == 0 and world.fake.calls("backup") == 1


def test_a_redirect_alone_fails_without_being_followed(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    response = ask(world.private, world, "redirected")

    assert response.status_code == 502, response.text
    assert response.json()["error"]["message"] == (
        "Every candidate failed. Tried: hop/redirected (protocol_error)"
    )
    assert world.fake.calls("redirected") == 0
    (row,) = wait_for_usage_rows(e2e_sessions, [response.headers["x-request-id"]])
    assert row.error_message == (
        f"hop/redirected: hop answered 307: redirected to '{world.fake.url}/chat/completions' — "
        "not followed"
    )


def test_under_public_a_name_resolving_to_loopback_is_refused_at_call_time(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    refused = ask(world.public, world, "named")

    assert refused.status_code == 502, refused.text
    assert world.fake.calls("named") == 0
    (row,) = wait_for_usage_rows(e2e_sessions, [refused.headers["x-request-id"]])
    port = world.fake.url.rsplit(":", 1)[1]
    assert row.error_message == (
        f"by-name/named: by-name: Cannot connect to host localhost:{port} ssl:default "
        "[localhost resolves to 127.0.0.1, a loopback address, which PROVIDER_ADDRESSES=public "
        "refuses]"
    )
    assert refused.json()["error"]["message"] == (
        "Every candidate failed. Tried: by-name/named (connection_error)"
    )

    served = ask(world.private, world, "named")  # the default policy allows loopback
    assert served.status_code == 200, served.text
    assert world.fake.calls("named") == 1
