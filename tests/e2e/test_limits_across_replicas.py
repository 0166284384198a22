"""Budgets and rate limits held across replicas: two real gateway processes, A and B, on
different ports, sharing one PostgreSQL database and one Redis (a `redis-server` of this
module's own, so that it can be restarted and stopped), in front of a fake upstream, with
clients on both at once.

A holds while Redis is away per process (`LIMITS_WHEN_REDIS_DOWN=open`), B refuses
(`closed`). Reservations last the request's timeout plus a margin (4 s here) when no
settlement comes: that is how the budget of a killed replica's requests comes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import LLMUsageLog
from tests.e2e.harness import GatewayProcess, free_port
from tests.e2e.limits_rows import add_catalog, add_user
from tests.e2e.stage import postgres_stage
from tests.fake_upstream import FakeUpstream, Reply
from tests.redis_support import PrivateRedis, private_redis, unique_prefix

pytestmark = pytest.mark.postgres

MODEL = "replicas-model"
SLOW = "replicas-slow"
ADMIN_TOKEN = "sb-admin-e2e-replicas-0123456789"
MAX_COST = Decimal("0.010006")
"""Of one request with `max_tokens` 1000 at $10 per 1M output tokens and $1 per 1M input
tokens: 1000 × $10 + the 6 tokens the gateway estimates for the prompt × $1, per 1M."""
COST = Decimal("0.010001")
"""What it really costs: the fake reports 1 prompt token and 1,000 completion tokens."""


@dataclass(frozen=True)
class World:
    a: GatewayProcess
    b: GatewayProcess
    fake: FakeUpstream
    redis: PrivateRedis
    sessions: sessionmaker[Session]
    keys: dict[str, str]
    key_ids: dict[str, int]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with (
        postgres_stage(tmp_path_factory.mktemp("replicas"), "replicas") as stage,
        private_redis(stage.workdir / "redis", free_port()) as redis,
    ):
        keys, key_ids = {}, {}
        with stage.sessions() as session:
            for model_id, slug in ((MODEL, "rp"), (SLOW, "rs")):
                add_catalog(
                    session,
                    stage.secrets,
                    slug=slug,
                    base_url=stage.fake.url,
                    model_id=model_id,
                    input_price="1",
                    output_price="10",
                    max_output_tokens=1000,
                )
            users = {
                "rated": {"key_requests_per_minute": 60},
                "budget": {"budget": Decimal("1.00")},
                "unbounded": {"budget": Decimal("1.00")},
                "restart": {"budget": Decimal("0.10")},
                "killed": {"budget": Decimal("0.06")},
                "down": {"key_requests_per_minute": 1000},
                "revoked": {},
            }
            for name, options in users.items():
                keys[name], key_ids[name] = add_user(session, name, **options)  # type: ignore[arg-type]
            session.commit()
        stage.fake.set_default(MODEL, Reply(prompt_tokens=1, completion_tokens=1000))
        stage.fake.set_default(SLOW, Reply(prompt_tokens=1, completion_tokens=1000, delay_s=30))
        env = {
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "REDIS_URL": redis.url,
            "REDIS_KEY_PREFIX": unique_prefix("replicas"),
            "REQUEST_TIMEOUT_S": "3",
            "MAX_ATTEMPTS": "1",
            "LIMITS_RESERVATION_MARGIN_S": "1",
            "CATALOG_POLL_INTERVAL_S": "1",
            "KEY_CACHE_TTL_S": "60",
        }
        closed = env | {"LIMITS_WHEN_REDIS_DOWN": "closed"}
        with stage.gateway(env, name="a") as a, stage.gateway(closed, name="b") as b:
            yield World(a, b, stage.fake, redis, stage.sessions, keys, key_ids)


def body(*, max_tokens: int | None = 1000, model: str = MODEL) -> dict[str, object]:
    fields: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": "Hi"}]}
    if max_tokens is not None:
        fields["max_tokens"] = max_tokens
    return fields


def spread(
    world: World, key: str, count: int, payload: dict[str, object], timeout_s: float = 60
) -> list[httpx.Response]:
    """`count` requests at once, every other one to A and to B."""

    async def main() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        async with httpx.AsyncClient(limits=limits, timeout=timeout_s) as client:
            headers = {"Authorization": f"Bearer {key}"}
            return await asyncio.gather(
                *(
                    client.post(
                        f"{(world.a, world.b)[i % 2].openai_base_url}/chat/completions",
                        json=payload,
                        headers=headers,
                    )
                    for i in range(count)
                )
            )

    return asyncio.run(main())


def statuses(responses: Sequence[httpx.Response]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for response in responses:
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
    return counts


def recorded_spend(world: World, user_id: str, requests: int, timeout_s: float = 20) -> Decimal:
    """The user's spend in the database once `requests` usage rows of theirs are stored."""
    deadline = time.monotonic() + timeout_s
    while True:
        with world.sessions() as session:
            count, total = session.execute(
                select(func.count(), func.coalesce(func.sum(LLMUsageLog.cost_total_usd), 0)).where(
                    LLMUsageLog.user_id == user_id
                )
            ).one()
        if count >= requests:
            return Decimal(total)
        assert time.monotonic() < deadline, f"{count} of {requests} usage rows stored"
        time.sleep(0.1)


def test_a_key_limited_to_60_a_minute_admits_exactly_60_of_200_over_both(world: World) -> None:
    answers = spread(world, world.keys["rated"], 200, body(max_tokens=5))
    assert statuses(answers) == {200: 60, 429: 140}
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert {a.url.port for a in answers} == {world.a.port, world.b.port}


def test_a_one_dollar_budget_holds_over_400_requests_at_once_on_both(world: World) -> None:
    first = spread(world, world.keys["budget"], 400, body())
    second = spread(world, world.keys["budget"], 50, body())  # after the first wave settled
    answers = first + second
    counts = statuses(answers)
    assert set(counts) == {200, 429}, counts
    spend = recorded_spend(world, "budget", len(answers))
    assert spend <= Decimal("1.00")
    # nothing refused while what was left could still hold a request's maximum cost
    assert Decimal("1.00") - spend < MAX_COST
    refusal = next(a for a in answers if a.status_code == 429).json()["error"]
    assert refusal["code"] == "insufficient_quota"


def test_without_max_tokens_the_models_output_limit_is_reserved(world: World) -> None:
    answers = spread(world, world.keys["unbounded"], 200, body(max_tokens=None))
    spend = recorded_spend(world, "unbounded", len(answers))
    assert Decimal("1.00") - MAX_COST < spend <= Decimal("1.00")


def test_a_restarted_redis_is_rebuilt_once_from_the_database_and_the_budget_holds(
    world: World,
) -> None:
    key = world.keys["restart"]
    before = spread(world, key, 5, body())
    assert statuses(before) == {200: 5}
    assert recorded_spend(world, "restart", 5) == 5 * COST
    world.redis.stop()
    world.redis.start()  # empty: it keeps nothing on disk
    after = spread(world, key, 40, body())
    counts = statuses(after)
    assert 500 not in counts and 200 in counts, counts
    spend = recorded_spend(world, "restart", 45)
    assert spend <= Decimal("0.10")  # rebuilt once: 0.05 spent, not 0.10 counted twice
    assert counts[200] == 4  # 0.05 left: four requests of at most 0.010006


def test_when_redis_is_away_a_holds_per_process_b_refuses_and_both_recover(
    world: World,
) -> None:
    key = world.keys["down"]
    world.redis.stop()
    try:
        started = time.monotonic()
        to_a = httpx.post(
            f"{world.a.openai_base_url}/chat/completions",
            json=body(max_tokens=5),
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        to_b = httpx.post(
            f"{world.b.openai_base_url}/chat/completions",
            json=body(max_tokens=5),
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert time.monotonic() - started < 3  # no hang
        assert to_a.status_code == 200
        assert to_b.status_code == 503
        assert to_b.json()["error"]["code"] == "limits_unavailable"
        ready_a = httpx.get(f"{world.a.base_url}/health/ready", timeout=10)
        ready_b = httpx.get(f"{world.b.base_url}/health/ready", timeout=10)
        assert (ready_a.status_code, ready_a.json()["limits"]) == (200, "degraded")
        assert ready_a.json()["status"] == "degraded"
        assert (ready_b.status_code, ready_b.json()["limits"]) == (503, "degraded")
    finally:
        world.redis.start()
    deadline = time.monotonic() + 5
    while True:
        answers = spread(world, key, 2, body(max_tokens=5))
        if statuses(answers) == {200: 2}:
            break
        assert time.monotonic() < deadline, statuses(answers)
        time.sleep(0.2)
    assert httpx.get(f"{world.b.base_url}/health/ready", timeout=10).json()["limits"] == "redis"


def test_a_key_revoked_on_one_replica_is_refused_by_the_other_within_a_second(
    world: World,
) -> None:
    key, key_id = world.keys["revoked"], world.key_ids["revoked"]
    headers = {"Authorization": f"Bearer {key}"}
    for gateway in (world.a, world.b):
        assert httpx.get(f"{gateway.openai_base_url}/models", headers=headers).status_code == 200
    revoke = httpx.post(
        f"{world.a.base_url}/api/v1/admin/llm/users/revoked/keys/{key_id}/revoke",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert revoke.status_code == 200, revoke.text
    done = time.monotonic()
    while httpx.get(f"{world.b.openai_base_url}/models", headers=headers).status_code != 401:
        assert time.monotonic() - done < 1.5
        time.sleep(0.02)


def test_a_killed_replicas_reservations_expire_and_the_budget_is_whole_again(
    world: World,
) -> None:
    """Last: it kills A."""
    key = world.keys["killed"]
    headers = {"Authorization": f"Bearer {key}"}

    async def in_flight_on_a() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            await asyncio.gather(
                *(
                    client.post(
                        f"{world.a.openai_base_url}/chat/completions",
                        json=body(model=SLOW),
                        headers=headers,
                    )
                    for _ in range(5)
                ),
                return_exceptions=True,
            )

    async def main() -> None:
        flying = asyncio.create_task(in_flight_on_a())
        deadline = time.monotonic() + 10
        while world.fake.calls(SLOW) < 5:  # all five reserved and at the provider
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        world.a.kill()
        await flying

    asyncio.run(main())
    killed_at = time.monotonic()
    refused = httpx.post(
        f"{world.b.openai_base_url}/chat/completions", json=body(), headers=headers, timeout=10
    )
    assert refused.status_code == 429  # the dead replica's five reservations hold $0.05003
    while True:
        answer = httpx.post(
            f"{world.b.openai_base_url}/chat/completions", json=body(), headers=headers, timeout=10
        )
        if answer.status_code == 200:
            break
        assert time.monotonic() - killed_at < 10, answer.text
        time.sleep(0.25)
    assert time.monotonic() - killed_at >= 2  # not before their deadline (4 s after admission)
