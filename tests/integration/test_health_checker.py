"""The provider health checker on real SQLite and PostgreSQL: probes against a fake upstream on
127.0.0.1, the lease that lets one replica probe per interval, and routing reading the result."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.api.app import create_app
from switchboard.catalog.loader import load_snapshot
from switchboard.gateway.health_loop import LEASE_NAME, HealthCheckLoop
from switchboard.gateway.health_probe import HealthProbe, HealthReport
from switchboard.gateway.job_lease import JobLease
from switchboard.jobs import DatabaseWork
from switchboard.models import Lease, LLMModel, LLMProvider, LLMRoutingRule
from switchboard.providers import AdapterRegistry
from switchboard.routing import RouteRequest, plan_route
from switchboard.settings import Settings
from switchboard.vocabulary import HealthStatus, PowerLevel, Tier
from tests.fake_upstream import closed_port_url, running_fake_upstream

START = datetime(2030, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def settings_for(database_url: str, **values: Any) -> Settings:
    return Settings(_env_file=None, database_url=database_url, **values)


def add_provider(session_factory: sessionmaker[Session], slug: str, base_url: str) -> int:
    with session_factory() as session:
        provider = LLMProvider(
            provider_slug=slug, provider_name=slug, base_url=base_url, auth_type="none"
        )
        session.add(provider)
        session.commit()
        return provider.id


def run_with_checkers(
    session_factory: sessionmaker[Session],
    settings: Settings,
    count: int,
    body: Callable[[list[HealthCheckLoop]], Any],
    clock: Callable[[], datetime] | None = None,
    lease_class: type[JobLease] = JobLease,
) -> Any:
    """Run `body(checkers)` (a coroutine function) with `count` health check loops on one
    database, as `count` replicas would be."""

    def make_loop(http: aiohttp.ClientSession, n: int) -> HealthCheckLoop:
        timing: dict[str, Any] = {"clock": clock} if clock else {}
        work = DatabaseWork()
        probe = HealthProbe(
            session_factory,
            settings,
            secrets=None,
            adapters=AdapterRegistry(),
            http=http,
            work=work,
            **timing,
        )
        lease = lease_class(
            session_factory,
            name=LEASE_NAME,
            duration_s=settings.health_check_interval_s,
            holder=f"replica-{n}",
            **timing,
        )
        return HealthCheckLoop(probe, lease, work=work, **timing)

    async def main() -> Any:
        async with aiohttp.ClientSession() as http:
            checkers = [make_loop(http, n) for n in range(count)]
            try:
                return await body(checkers)
            finally:
                for checker in checkers:
                    await checker.close()

    return asyncio.run(main())


def test_the_lease_has_one_holder_per_interval(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    clock = Clock()
    settings = settings_for(database_url, health_check_interval_s=60)

    async def body(checkers: list[HealthCheckLoop]) -> None:
        first, second = (checker.lease for checker in checkers)
        assert first.take() == (True, START + timedelta(seconds=60))
        assert second.take() == (False, START + timedelta(seconds=60))
        clock.advance(59)
        assert first.take()[0] is False  # held until it runs out, by its holder too
        clock.advance(1)
        assert second.take() == (True, START + timedelta(seconds=120))
        assert first.take() == (False, START + timedelta(seconds=120))

    run_with_checkers(session_factory, settings, 2, body, clock)
    with session_factory() as session:
        lease = session.get(Lease, LEASE_NAME)
    assert lease is not None and lease.holder == "replica-1"


def test_of_two_checkers_only_one_probes_per_interval(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    clock = Clock()
    settings = settings_for(database_url, health_check_interval_s=30)
    with running_fake_upstream() as upstream:
        add_provider(session_factory, "fake", upstream.base_url)
        add_provider(session_factory, "off", upstream.base_url)
        with session_factory() as session:
            off = session.scalars(select(LLMProvider).where(LLMProvider.provider_slug == "off"))
            off.one().is_active = False
            session.commit()

        async def body(checkers: list[HealthCheckLoop]) -> list[list[HealthReport] | None]:
            first, second = checkers
            rounds = [await first.run_once(), await second.run_once()]
            clock.advance(30)
            rounds += [await second.run_once(), await first.run_once()]
            return rounds

        rounds = run_with_checkers(session_factory, settings, 2, body, clock)
    assert [None if r is None else [x.provider_slug for x in r] for r in rounds] == [
        ["fake"],
        None,
        ["fake"],
        None,
    ]
    assert len(upstream.received()) == 2  # inactive providers are not probed in the background


def test_background_checkers_probe_at_most_once_per_interval(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    interval = 0.4
    settings = settings_for(database_url, health_check_interval_s=interval)
    rounds: list[tuple[str, datetime]] = []

    class Recording(JobLease):
        def take(self) -> tuple[bool, datetime]:
            taken, until = super().take()
            if taken:
                rounds.append((self.holder, until - timedelta(seconds=interval)))
            return taken, until

    with running_fake_upstream() as upstream:
        provider_id = add_provider(session_factory, "fake", upstream.base_url)

        async def body(checkers: list[HealthCheckLoop]) -> None:
            for checker in checkers:
                checker.start()
            await asyncio.sleep(2.3)

        run_with_checkers(session_factory, settings, 3, body, lease_class=Recording)
    starts = sorted(start for _, start in rounds)
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(starts)]
    assert 3 <= len(rounds) <= 6, rounds
    assert min(gaps) >= interval, gaps  # one round per interval, whichever replica runs it
    assert len(upstream.received()) == len(rounds)
    with session_factory() as session:
        provider = session.get(LLMProvider, provider_id)
    assert provider is not None and provider.health_status == HealthStatus.HEALTHY


def test_the_result_is_stored_and_routing_tries_a_down_provider_last(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    settings = settings_for(database_url)
    with running_fake_upstream() as upstream:
        up = add_provider(session_factory, "up", upstream.base_url)
        down = add_provider(session_factory, "down", closed_port_url())
        with session_factory() as session:
            for provider_id, priority in ((down, 1), (up, 2)):
                model = LLMModel(
                    provider_id=provider_id, model_id=f"m{provider_id}", model_name="m"
                )
                session.add(model)
                session.flush()
                session.add(
                    LLMRoutingRule(model_id=model.id, power_level="balanced", priority=priority)
                )
            session.commit()

        def stored() -> dict[int, tuple[str, datetime, datetime | None]]:
            with session_factory() as session:
                rows = session.scalars(select(LLMProvider)).all()
                return {
                    row.id: (row.health_status, row.updated_at, row.last_health_check_at)
                    for row in rows
                }

        before = stored()

        async def check(checkers: list[HealthCheckLoop]) -> list[HealthReport]:
            return await checkers[0].probe.check_all()

        reports = run_with_checkers(session_factory, settings, 1, check)
        first = stored()
        time.sleep(0.01)
        run_with_checkers(session_factory, settings, 1, check)
        second = stored()

    assert {r.provider_slug: r.status for r in reports} == {"up": "healthy", "down": "down"}
    assert next(r.error for r in reports if r.provider_slug == "down").startswith("connection")
    # The status changed: updated_at moved, so every replica reloads its catalog ...
    assert first[up][0] == "healthy" and first[up][1] > before[up][1]
    # ... but a check that changes nothing routing reads leaves it, and only notes the time.
    assert second[up][1] == first[up][1] and second[up][2] != first[up][2]
    with session_factory() as session:
        snapshot = load_snapshot(session, ceilings={}, environ={})
    request = RouteRequest(user_tier=Tier.FREE, power_level=PowerLevel.BALANCED)
    plan = plan_route(snapshot, request)
    assert [c.provider.slug for c in plan.candidates] == ["up", "down"]
    assert plan.candidates[1].demoted


def test_an_interval_of_zero_turns_the_checker_off(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    settings = settings_for(database_url, health_check_interval_s=0)

    async def body(checkers: list[HealthCheckLoop]) -> set[str]:
        checkers[0].start()
        return {task.get_name() for task in asyncio.all_tasks()}

    assert "provider-health-checker" not in run_with_checkers(session_factory, settings, 1, body)


def test_the_gateway_checks_providers_in_the_background(
    session_factory: sessionmaker[Session], database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(
        database_url,
        admin_token=SecretStr("admin-token"),
        spool_dir=tmp_path / "spool",
        health_check_interval_s=0.3,
    )
    with running_fake_upstream() as upstream:
        provider_id = add_provider(session_factory, "fake", upstream.base_url)
        with TestClient(create_app(settings)) as client:
            deadline = time.monotonic() + 5
            status = None
            while time.monotonic() < deadline and status != "healthy":
                time.sleep(0.1)
                status = client.get(
                    f"/api/v1/admin/llm/providers/{provider_id}",
                    headers={"Authorization": "Bearer admin-token"},
                ).json()["health_status"]
    assert status == "healthy" and upstream.received()
