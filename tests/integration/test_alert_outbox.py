"""Raising alerts and sending the outbox on SQLite and PostgreSQL: replicas raising the same
alert at once raise it once; a delivery is retried with exponential backoff, every attempt
recorded, until delivered or past the horizon; a Slack webhook gets a Slack message."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.address_policy import ProviderAddresses
from switchboard.alerts.delivery import Backoff, Outbox
from switchboard.jobs import DatabaseWork
from switchboard.models import Alert, AlertDelivery, AlertDeliveryAttempt, AlertRule, AlertWebhook
from switchboard.new_alert import NewAlert
from switchboard.providers.client import provider_client
from switchboard.services.alert_outbox import raise_alert
from switchboard.settings import Settings
from switchboard.vocabulary import AlertKind
from tests.e2e.webhook_receiver import WebhookReceiver, running_receiver
from tests.fake_upstream import closed_port_url

START = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver() as running:
        yield running


def add_rule_and_hook(session: Session, url: str, fmt: str = "json") -> None:
    session.add(AlertRule(name="b", kind="budget_threshold", scope="user", thresholds=[50]))
    session.add(AlertWebhook(name="ops", url=url, format=fmt))
    session.commit()


def new_alert(key: str = "2026-12-01:50") -> NewAlert:
    return NewAlert(1, AlertKind.BUDGET_THRESHOLD, "user:ada", key, "50% spent", {"x": 1})


def test_replicas_raising_the_same_alert_at_once_raise_it_once(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        add_rule_and_hook(session, "http://127.0.0.1:9/hook")
    ready = threading.Barrier(8)
    raised: list[int | None] = []

    def replica() -> None:
        with session_factory() as session:
            ready.wait()
            raised.append(raise_alert(session, new_alert(), now=START))

    threads = [threading.Thread(target=replica) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([alert for alert in raised if alert is not None]) == 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
        assert session.scalar(select(func.count()).select_from(AlertDelivery)) == 1


def outbox(session_factory: sessionmaker[Session], clock: Clock, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url="sqlite://",
        spool_dir=tmp_path,
        alert_delivery_timeout_s=2,
        alert_delivery_backoff_s=10,
        alert_delivery_max_backoff_s=60,
        alert_delivery_horizon_h=0.05,  # three minutes
    )


def send_due(session_factory: sessionmaker[Session], settings: Settings, clock: Clock) -> int:
    async def main() -> int:
        async with provider_client(ProviderAddresses.PRIVATE) as http:
            sender = Outbox(
                session_factory, settings, http=http, secrets=None, work=DatabaseWork(), clock=clock
            )
            return await sender.send_due()

    return asyncio.run(main())


def test_a_delivery_is_retried_with_backoff_until_the_horizon_every_attempt_recorded(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    clock = Clock()
    settings = outbox(session_factory, clock, tmp_path)
    with session_factory() as session:
        add_rule_and_hook(session, closed_port_url())
        raise_alert(session, new_alert(), now=START)
    waits = []
    for _ in range(10):
        assert send_due(session_factory, settings, clock) == 0
        with session_factory() as session:
            delivery = session.scalars(select(AlertDelivery)).one()
        if delivery.state != "pending":
            break
        waits.append((delivery.next_attempt_at - clock.now).total_seconds())
        assert send_due(session_factory, settings, clock) == 0  # not due yet: not tried
        clock.now = delivery.next_attempt_at
    assert waits == [10, 20, 40, 60]  # the fifth would come after the horizon
    assert delivery.state == "expired" and delivery.attempts == 5
    with session_factory() as session:
        attempts = session.scalars(select(AlertDeliveryAttempt)).all()
    assert len(attempts) == 5
    assert all(a.status_code is None and a.error for a in attempts)


def test_a_slack_webhook_gets_a_slack_message(
    session_factory: sessionmaker[Session], tmp_path: Path, receiver: WebhookReceiver
) -> None:
    clock = Clock()
    with session_factory() as session:
        add_rule_and_hook(session, receiver.url, "slack")
        raise_alert(session, new_alert(), now=START)
    assert send_due(session_factory, outbox(session_factory, clock, tmp_path), clock) == 1
    (got,) = receiver.received()
    assert got.json == {"text": "*budget_threshold* (user:ada): 50% spent"}
    assert got.delivery_id == "1"
    assert "X-Switchboard-Signature" not in got.headers  # no secret, no signature


def test_backoff_doubles_up_to_its_ceiling_within_the_horizon() -> None:
    backoff = Backoff(first_s=1, max_s=8, horizon=timedelta(seconds=30))
    waits = [(backoff.retry_at(n, START, START) or START) - START for n in range(1, 7)]
    assert [w.total_seconds() for w in waits] == [1, 2, 4, 8, 8, 8]
    assert backoff.retry_at(1, START, START + timedelta(seconds=30)) is None
