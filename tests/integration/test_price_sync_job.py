"""The scheduled price sync (`PRICE_SYNC_INTERVAL_H`): one replica per interval, by the lease
the health checker uses; off by default; a failed run writes nothing and is logged."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.errors import PriceMapError
from switchboard.gateway.job_lease import JobLease
from switchboard.models import LLMModel
from switchboard.services.price_sync_job import LEASE_NAME, PriceSyncJob
from switchboard.services.seeding import seed_catalog
from switchboard.settings import Settings
from tests.price_maps import price_map_with


def write_map(tmp_path: Path, output_per_token: float) -> Path:
    return price_map_with(tmp_path, "gpt-6-luna", "output_cost_per_token", output_per_token)


def job(
    sessions: sessionmaker[Session], source: Path, *, interval_h: float = 24, holder: str = "a"
) -> PriceSyncJob:
    settings = Settings(
        _env_file=None, price_map_source=str(source), price_sync_interval_h=interval_h
    )
    lease = JobLease(sessions, name=LEASE_NAME, duration_s=interval_h * 3600, holder=holder)
    return PriceSyncJob(sessions, settings, take_lease=lease.take, first_run_delay_s=0)


def luna_output(sessions: sessionmaker[Session]) -> Decimal:
    with sessions() as session:
        row = session.scalars(select(LLMModel).where(LLMModel.model_id == "gpt-6-luna")).one()
        return row.cost_per_1m_output_tokens


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with session_factory() as session:
        seed_catalog(session)
    return session_factory


def test_one_replica_syncs_per_interval(seeded: sessionmaker[Session], tmp_path: Path) -> None:
    source = write_map(tmp_path, 6e-07)
    first, second = job(seeded, source, holder="a"), job(seeded, source, holder="b")

    async def both() -> tuple[object, object]:
        try:
            return await first.run_once(), await second.run_once()
        finally:
            await first.close()
            await second.close()

    applied, skipped = asyncio.run(both())
    assert skipped is None
    assert applied is not None and applied.applied and applied.to_write == 1
    assert luna_output(seeded) == Decimal("0.6")


def test_the_loop_applies_the_map_by_itself(
    seeded: sessionmaker[Session], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = write_map(tmp_path, 7e-07)
    scheduled = job(seeded, source, interval_h=1)

    def logged() -> list[str]:
        return [record.getMessage() for record in caplog.records]

    async def run() -> None:
        # Wait for the log line, not the new price: the job logs once its thread has committed,
        # and a close in between (the price seen, the line not yet written) cancels the line.
        scheduled.start()
        try:
            for _ in range(200):
                await asyncio.sleep(0.05)
                if "price_sync_applied" in logged():
                    return
        finally:
            await scheduled.close()

    with caplog.at_level(logging.INFO, logger="switchboard.services.price_sync_job"):
        asyncio.run(run())
    assert luna_output(seeded) == Decimal("0.7")
    assert "price_sync_applied" in logged()


def test_off_by_default(seeded: sessionmaker[Session], tmp_path: Path) -> None:
    settings = Settings(_env_file=None)
    assert settings.price_sync_interval_h == 0
    lease = JobLease(seeded, name=LEASE_NAME, duration_s=0)
    idle = PriceSyncJob(seeded, settings, take_lease=lease.take)

    async def run() -> None:
        idle.start()
        await idle.close()

    asyncio.run(run())
    assert idle.interval_s == 0


def test_a_failed_run_writes_nothing(seeded: sessionmaker[Session], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"gpt-6-luna": {"litellm_provider": "openai", "input_cost_per_token": -1}}')
    failing = job(seeded, bad)

    async def run() -> None:
        try:
            await failing.run_once()
        finally:
            await failing.close()

    with pytest.raises(PriceMapError, match="gpt-6-luna"):
        asyncio.run(run())
    assert luna_output(seeded) == Decimal("0.5")
