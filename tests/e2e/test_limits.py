"""Budgets and rate limits end to end, on one real gateway process: kept in the process
(no REDIS_URL) and in Redis (a key prefix of the module's own). Refusals come before any
provider call, in each surface's format with its rate-limit headers, and are usage rows
without cost; a budget counts what was spent before the counters began (from the database)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from switchboard.usage.record import UsageRecord
from switchboard.usage.store import write_records
from switchboard.vocabulary import Tier
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
