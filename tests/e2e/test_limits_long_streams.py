"""A stream that outlasts its reservation's deadline keeps its reservation while it runs: the
gateway renews it a third of the way to the deadline, so the budget cannot be spent twice
while the stream is still going, and the real cost replaces it when the stream ends. One
real gateway whose requests time out (and so reservations last) 0.6 s, and a stream of 2 s,
kept in the process and in Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest

from tests.e2e.harness import GatewayProcess
from tests.e2e.limits_rows import add_catalog, add_user
from tests.e2e.stage import Stage
from tests.fake_upstream import FakeUpstream, Reply
from tests.redis_support import REDIS_URL, redis_prefix

ADMIN_TOKEN = "sb-admin-e2e-long-streams-0123456789"
HOLD_S = 0.6


@dataclass(frozen=True)
class World:
    gateway: GatewayProcess
    fake: FakeUpstream
    key: str
    user_id: str
    model: str


@pytest.fixture(scope="module", params=["memory", "redis"])
def world(request: pytest.FixtureRequest, stage: Stage) -> Iterator[World]:
    backend = request.param
    with redis_prefix("e2e-long-streams") as prefix:
        env = {
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "REQUEST_TIMEOUT_S": str(HOLD_S),
            "MAX_ATTEMPTS": "1",
            "LIMITS_RESERVATION_MARGIN_S": "0",
        }
        if backend == "redis":
            env |= {"REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": prefix}
        user_id = f"streamer-{backend}"
        with stage.sessions() as session:
            model = add_catalog(
                session,
                stage.secrets,
                slug=f"long-{backend}",
                base_url=stage.fake.url,
                model_id=f"long-stream-{backend}",
            )
            key = add_user(session, user_id, budget=Decimal("1"))[0]
            session.commit()
        with stage.gateway(env, name=backend) as gateway:
            yield World(gateway, stage.fake, key, user_id, model)


def budget(world: World) -> dict[str, str]:
    """The user's budget now: spent, reserved, remaining."""
    response = httpx.get(
        f"{world.gateway.base_url}/api/v1/admin/llm/users/{world.user_id}/spend",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()["budget"]
    return body


def test_a_stream_longer_than_its_deadline_keeps_its_reservation_until_it_ends(
    world: World,
) -> None:
    world.fake.script(world.model, Reply(text="a b c d e f g h", chunks=8, chunk_delay_s=0.25))
    body = {
        "model": world.model,
        "messages": [{"role": "user", "content": "Hello?"}],
        "max_tokens": 1000,
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {world.key}"}
    started = time.monotonic()
    with httpx.stream(
        "POST", f"{world.gateway.openai_base_url}/chat/completions", json=body, headers=headers
    ) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        next(lines)
        time.sleep(max(0.0, 3 * HOLD_S - (time.monotonic() - started)))  # 3 deadlines later
        during = budget(world)
        rest = [line for line in lines if line]
    assert rest[-1] == "data: [DONE]"
    # 1000 output tokens at $2 per million, and the prompt: a reservation of about $0.002
    assert Decimal(during["reserved_usd"]) >= Decimal("0.002")

    deadline = time.monotonic() + 10
    while Decimal((after := budget(world))["reserved_usd"]) != 0:
        assert time.monotonic() < deadline, after
        time.sleep(0.05)
    assert Decimal(after["spent_usd"]) > 0
