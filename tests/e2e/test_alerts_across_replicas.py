"""Alerts across replicas: two real gateway processes, A and B, sharing one PostgreSQL
database and one Redis, in front of fake upstreams, sending alerts to a webhook receiver of
the test's own on 127.0.0.1. Budget thresholds crossed by traffic through both are raised
and delivered once each, signed; a receiver that is down gets them when it returns, once;
a provider that goes down and comes back is two alerts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import Alert, AlertDelivery, AlertDeliveryAttempt, LLMProvider
from tests.e2e.harness import GatewayProcess
from tests.e2e.limits_rows import add_catalog, add_user
from tests.e2e.stage import postgres_stage
from tests.e2e.webhook_receiver import Delivered, WebhookReceiver, running_receiver
from tests.fake_upstream import FakeUpstream, Reply, running_fake_upstream
from tests.redis_support import REDIS_URL, redis_prefix

pytestmark = pytest.mark.postgres

MODEL = "alerts-model"
ADMIN_TOKEN = "sb-admin-e2e-alerts-0123456789"
SECRET = "whsec-alerts-e2e-0123456789"
BUDGET = Decimal("0.10006")
"""Ten requests exactly: each costs $0.010006 (6 prompt tokens at $1 and 1,000 completion
tokens at $10 per 1M), which is also what each reserves."""


@dataclass(frozen=True)
class World:
    a: GatewayProcess
    b: GatewayProcess
    probed: FakeUpstream
    receiver: WebhookReceiver
    sessions: sessionmaker[Session]
    keys: dict[str, str]
    probed_provider_id: int


def admin(gateway: GatewayProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{gateway.base_url}/api/v1/admin/llm{path}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
        **kwargs,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with (
        postgres_stage(tmp_path_factory.mktemp("alerts"), "alerts") as stage,
        redis_prefix("alerts") as prefix,
        running_fake_upstream() as probed,
        running_receiver() as receiver,
    ):
        with stage.sessions() as session:
            add_catalog(
                session,
                stage.secrets,
                slug="al",
                base_url=stage.fake.url,
                model_id=MODEL,
                input_price="1",
                output_price="10",
                max_output_tokens=1000,
            )
            add_catalog(session, stage.secrets, slug="hp", base_url=probed.url, model_id="hp-model")
            keys = {name: add_user(session, name, budget=BUDGET)[0] for name in ("spender", "late")}
            session.commit()
            probed_id = session.scalars(
                select(LLMProvider.id).where(LLMProvider.provider_slug == "hp")
            ).one()
        stage.fake.set_default(MODEL, Reply(prompt_tokens=6, completion_tokens=1000))
        env = {
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "REDIS_URL": REDIS_URL,
            "REDIS_KEY_PREFIX": prefix,
            "REQUEST_TIMEOUT_S": "5",
            "MAX_ATTEMPTS": "1",
            "HEALTH_CHECK_INTERVAL_S": "1",
            "HEALTH_CHECK_TIMEOUT_S": "1",
            "ALERT_EVALUATION_INTERVAL_S": "1",
            "ALERT_DELIVERY_POLL_S": "0.2",
            "ALERT_DELIVERY_BACKOFF_S": "0.5",
            "ALERT_DELIVERY_MAX_BACKOFF_S": "1",
        }
        with stage.gateway(env, name="a") as a, stage.gateway(env, name="b") as b:
            hook = {"name": "ops", "url": receiver.url, "secret": SECRET}
            for path, body in (
                ("/alerts/webhooks", hook),
                ("/alerts/rules", {"name": "Budgets", "kind": "budget_threshold"}),
                ("/alerts/rules", {"name": "Health", "kind": "provider_health", "subject": "hp"}),
            ):
                made = admin(a, "POST", path, json=body)
                assert made.status_code == 201, made.text
            yield World(a, b, probed, receiver, stage.sessions, keys, probed_id)


def spread(world: World, key: str, count: int) -> list[int]:
    """`count` requests at once, every other one to A and to B: their statuses."""

    async def main() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        f"{(world.a, world.b)[i % 2].openai_base_url}/chat/completions",
                        json={
                            "model": MODEL,
                            "messages": [{"role": "user", "content": "Hi"}],
                            "max_tokens": 1000,
                        },
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    for i in range(count)
                )
            )
        return sorted(answer.status_code for answer in answers)

    return asyncio.run(main())


def alerts_of(world: World, subject: str) -> list[Alert]:
    with world.sessions() as session:
        return list(
            session.scalars(select(Alert).where(Alert.subject == subject).order_by(Alert.id))
        )


def wait_for_alerts(world: World, subject: str, count: int, timeout_s: float = 30) -> list[Alert]:
    deadline = time.monotonic() + timeout_s
    while len(found := alerts_of(world, subject)) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} alerts for {subject}"
        time.sleep(0.1)
    return found


def delivered_for(world: World, subject: str) -> list[Delivered]:
    return [d for d in world.receiver.received() if d.json["alert"]["subject"] == subject]


def wait_delivered(world: World, subject: str, count: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while len(delivered_for(world, subject)) < count:
        assert time.monotonic() < deadline, delivered_for(world, subject)
        time.sleep(0.1)
    time.sleep(2)  # both replicas keep sending what is due: nothing more may come


def test_a_budget_crossed_through_both_replicas_raises_three_alerts_delivered_once_each(
    world: World,
) -> None:
    assert spread(world, world.keys["spender"], 12) == [200] * 10 + [429] * 2
    alerts = wait_for_alerts(world, "user:spender", 3)
    assert sorted(alert.details["threshold_percent"] for alert in alerts) == [50, 80, 100]
    assert {alert.kind for alert in alerts} == {"budget_threshold"}
    wait_delivered(world, "user:spender", 3)
    delivered = delivered_for(world, "user:spender")
    assert len(delivered) == 3
    assert all(d.signed_with(SECRET) for d in delivered)
    assert not any(d.signed_with("another-secret") for d in delivered)
    assert sorted(d.json["alert"]["id"] for d in delivered) == [a.id for a in alerts]
    assert len(alerts_of(world, "user:spender")) == 3


def test_a_receiver_that_is_down_gets_every_alert_once_when_it_returns(world: World) -> None:
    world.receiver.stop()
    try:
        assert spread(world, world.keys["late"], 10) == [200] * 10
        alerts = wait_for_alerts(world, "user:late", 3)
        ids = [alert.id for alert in alerts]
        deadline = time.monotonic() + 20
        while True:  # each tried and failed twice at least, the receiver being down
            with world.sessions() as session:
                tries = session.scalars(
                    select(AlertDelivery.attempts).where(AlertDelivery.alert_id.in_(ids))
                ).all()
            if len(tries) == 3 and min(tries) >= 2:
                break
            assert time.monotonic() < deadline, tries
            time.sleep(0.2)
    finally:
        world.receiver.start()
    wait_delivered(world, "user:late", 3)
    delivered = delivered_for(world, "user:late")
    assert sorted(d.json["alert"]["id"] for d in delivered) == ids
    assert all(d.signed_with(SECRET) for d in delivered)
    with world.sessions() as session:
        rows = session.scalars(select(AlertDelivery).where(AlertDelivery.alert_id.in_(ids))).all()
        assert {row.state for row in rows} == {"delivered"}
        attempts = session.scalar(
            select(func.count())
            .select_from(AlertDeliveryAttempt)
            .where(AlertDeliveryAttempt.delivery_id.in_([row.id for row in rows]))
        )
        assert attempts == sum(row.attempts for row in rows) > 3


def test_a_provider_down_then_recovered_is_two_alerts(world: World) -> None:
    subject = f"provider:{world.probed_provider_id}"
    world.probed.stop()
    try:
        (down,) = wait_for_alerts(world, subject, 1)
        assert down.details["event"] == "down"
    finally:
        world.probed.start()
    _, recovered = wait_for_alerts(world, subject, 2)
    assert recovered.details["event"] == "recovered"
    wait_delivered(world, subject, 2)
    assert [d.json["alert"]["details"]["event"] for d in delivered_for(world, subject)] == [
        "down",
        "recovered",
    ]
    answer = admin(world.b, "GET", f"/alerts/{down.id}").json()
    assert answer["state"] == "resolved"
    assert [event["state"] for event in answer["history"]] == ["firing", "resolved"]
    assert len(alerts_of(world, subject)) == 2
