"""Budgets and rate limits end to end, on one real gateway process: kept in the process
(no REDIS_URL) and in Redis (a key prefix of the module's own). Refusals come before any
provider call, in each surface's format with its rate-limit headers, and are usage rows
without cost; a budget counts what was spent before the counters began (from the database)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import LLMUsageLog
from switchboard.usage.record import UsageRecord
from switchboard.usage.store import write_records
from switchboard.vocabulary import Tier
from tests.e2e.catalog_rows import post_chat
from tests.e2e.harness import GatewayProcess
from tests.e2e.limits_rows import add_catalog, add_user
from tests.e2e.stage import Stage
from tests.fake_upstream import FakeUpstream
from tests.redis_support import REDIS_URL, redis_prefix

MODEL = "limits-model"
TIER_LIMITS = {"starter": {"requests_per_minute": 3}}


@dataclass(frozen=True)
class World:
    gateway: GatewayProcess
    fake: FakeUpstream
    sessions: sessionmaker[Session]
    keys: dict[str, str]
    model: str


@pytest.fixture(scope="module", params=["memory", "redis"])
def world(request: pytest.FixtureRequest, stage: Stage) -> Iterator[World]:
    backend = request.param
    with redis_prefix("e2e-limits") as prefix:
        env = {"TIER_LIMITS": json.dumps(TIER_LIMITS)}
        if backend == "redis":
            env |= {"REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": prefix}
        keys = {}
        with stage.sessions() as session:
            model_id = add_catalog(
                session,
                stage.secrets,
                slug=f"lim-{backend}",
                base_url=stage.fake.url,
                model_id=f"{MODEL}-{backend}",
            )
            keys["rated"] = add_user(session, f"rated-{backend}", tier=Tier.STARTER)[0]
            for name in ("budget", "spent"):
                keys[name] = add_user(session, f"{name}-{backend}", budget=Decimal("0.001"))[0]
            # $0.00099 spent this month before the gateway ever counted anything
            before = UsageRecord(
                request_id=f"req_before_{backend}",
                user_id=f"spent-{backend}",
                cost_total_usd=Decimal("0.00099"),
                status_code=200,
            )
            write_records(session, [before])
            session.commit()
        with stage.gateway(env, name=backend) as gateway:
            yield World(gateway, stage.fake, stage.sessions, keys, model_id)


def chat(world: World, key: str, **fields: object) -> httpx.Response:
    body = {"model": world.model, "messages": [{"role": "user", "content": "Hello?"}], **fields}
    return post_chat(world.gateway, key, body)


def usage_rows(world: World, request_id: str, timeout_s: float = 10) -> LLMUsageLog:
    deadline = time.monotonic() + timeout_s
    while True:
        with world.sessions() as session:
            row = session.scalars(
                select(LLMUsageLog).where(LLMUsageLog.request_id == request_id)
            ).first()
            if row is not None:
                session.expunge(row)
                return row
        assert time.monotonic() < deadline, f"no usage row for {request_id}"
        time.sleep(0.1)


def test_the_tiers_requests_per_minute_with_openais_headers_then_a_429(world: World) -> None:
    calls = world.fake.calls(world.model)
    answers = [chat(world, world.keys["rated"], max_tokens=10) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["2", "1", "0", "0"]
    assert {a.headers["x-ratelimit-limit-requests"] for a in answers} == {"3"}
    assert answers[0].headers["x-ratelimit-reset-requests"] == "1m0s"
    refused = answers[3]
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert "requests per minute" in error["message"] and "limit 3" in error["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert world.fake.calls(world.model) == calls + 3  # the refused request reached no provider

    row = usage_rows(world, refused.headers["x-request-id"])
    assert (row.status_code, row.error_type, row.cost_total_usd) == (
        429,
        "rate_limit_exceeded",
        Decimal(0),
    )


def test_on_anthropics_surface_its_headers_and_error_format(world: World) -> None:
    def message() -> httpx.Response:
        return httpx.post(
            f"{world.gateway.base_url}/v1/messages",
            headers={"x-api-key": world.keys["rated"], "anthropic-version": "2023-06-01"},
            json={
                "model": world.model,
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "Hi"}],
            },
            timeout=10,
        )

    # The test before took the minute's three; but on a loaded machine a Redis call may have
    # timed out, and the process then counts on its own from zero (LIMITS_WHEN_REDIS_DOWN=open):
    # whichever counted, at most three more are admitted before the refusal.
    statuses = []
    while len(statuses) < 4 and (response := message()).status_code == 200:
        statuses.append(response.status_code)
    assert len(statuses) < 4 and response.status_code == 429, statuses
    assert response.headers["anthropic-ratelimit-requests-limit"] == "3"
    assert response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert response.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert "retry-after" in response.headers
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"


def test_a_request_whose_maximum_cost_does_not_fit_the_budget_is_refused(world: World) -> None:
    calls = world.fake.calls(world.model)
    # at most 1,000 output tokens at $2 per 1M: $0.002, over the $0.001 budget
    refused = chat(world, world.keys["budget"], max_tokens=1000)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "insufficient_quota")
    assert "user budget" in error["message"] and "$0.001 left" in error["message"]
    assert world.fake.calls(world.model) == calls
    row = usage_rows(world, refused.headers["x-request-id"])
    assert (row.status_code, row.error_type, row.cost_total_usd) == (
        429,
        "insufficient_quota",
        Decimal(0),
    )
    # 100 output tokens at most: $0.0002 and a few prompt tokens, which fit
    assert chat(world, world.keys["budget"], max_tokens=100).status_code == 200


def test_a_budget_counts_what_was_spent_before_the_gateway_started(world: World) -> None:
    # $0.00099 of $0.001 spent: $0.00001 left, less than 10 output tokens and the prompt
    refused = chat(world, world.keys["spent"], max_tokens=10)
    assert refused.status_code == 429
    assert "$0.00001 left" in refused.json()["error"]["message"]
