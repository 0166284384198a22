"""When Redis goes away and comes back: `FailoverLimiter` over a private `redis-server` that
the test stops and starts; and `Admissions` rebuilding a budget account once."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from switchboard.limits import (
    Admissions,
    Budget,
    BudgetAccount,
    Demand,
    FailoverLimiter,
    LimitsUnavailableError,
    MemoryLimiter,
    Period,
    RateLimit,
    RedisLimiter,
    Scope,
    WhenDown,
    connect,
)
from tests.e2e.harness import free_port
from tests.integration.limit_demands import budget_claim, open_account, settled
from tests.integration.limit_demands import demand as alices_demand
from tests.redis_support import REDIS_URL, private_redis, redis_prefix

RATE = (RateLimit(Scope.USER, "alice", requests_per_minute=3),)


def demand(request_id: str, **fields: object) -> Demand:
    return alices_demand(request_id, **{"rates": RATE, **fields})


def test_open_enforces_per_process_while_redis_is_away_and_goes_back_when_it_returns(
    tmp_path: Path,
) -> None:
    port = free_port()

    async def main() -> None:
        with private_redis(tmp_path / "redis", port) as server:
            limiter = FailoverLimiter(
                RedisLimiter(connect(server.url, timeout_s=0.3), prefix="t:"),
                when_down=WhenDown.OPEN,
                reconnect_s=0.1,
            )
            try:
                assert (await limiter.admit(demand("r1"))).admitted
                server.stop()
                started = time.monotonic()
                decision = await limiter.admit(demand("r2"))  # no error, no hang
                assert decision.admitted and limiter.degraded
                assert time.monotonic() - started < 1.5
                # the same rules, in this process: three a minute
                assert (await limiter.admit(demand("r3"))).admitted
                assert (await limiter.admit(demand("r4"))).admitted
                assert not (await limiter.admit(demand("r5"))).admitted
                server.start()
                deadline = time.monotonic() + 5
                while limiter.degraded:
                    assert time.monotonic() < deadline, "never reconnected"
                    await asyncio.sleep(0.05)
                assert (await limiter.admit(demand("r6"))).admitted  # a new, empty Redis
            finally:
                await limiter.close()

    asyncio.run(main())


def test_closed_refuses_while_redis_is_away(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there

    async def main() -> None:
        limiter = FailoverLimiter(
            RedisLimiter(connect(f"redis://127.0.0.1:{port}/0", timeout_s=0.3), prefix="t:"),
            when_down=WhenDown.CLOSED,
            reconnect_s=0.1,
        )
        try:
            with pytest.raises(LimitsUnavailableError):
                await limiter.admit(demand("c1"))
            assert limiter.degraded
        finally:
            await limiter.close()

    asyncio.run(main())


def test_settlements_made_while_redis_is_away_are_counted_when_it_returns(
    tmp_path: Path,
) -> None:
    port = free_port()
    claim = budget_claim(1000, 100, period=Period.DAILY)

    async def main() -> None:
        with private_redis(tmp_path / "redis", port) as server:
            redis = RedisLimiter(connect(server.url, timeout_s=0.3), prefix="t:")
            limiter = FailoverLimiter(redis, when_down=WhenDown.OPEN, reconnect_s=0.1)
            try:
                first = demand("s1", rates=(), claims=(claim,))
                await open_account(limiter, claim, first)
                assert (await limiter.admit(first)).admitted
                assert server.process is not None
                server.process.send_signal(signal.SIGSTOP)  # Redis hangs: a timeout
                await limiter.settle(first, settled(40))
                assert limiter.degraded
                server.process.send_signal(signal.SIGCONT)
                deadline = time.monotonic() + 5
                while limiter.degraded:
                    assert time.monotonic() < deadline, "never reconnected"
                    await asyncio.sleep(0.05)
                spend = await redis.spend("alice", claim.account)
                assert (spend.total_units, spend.reserved_units) == (40, 0)
            finally:
                await limiter.close()

    asyncio.run(main())


def test_many_admissions_finding_an_empty_account_read_the_database_once() -> None:
    claim = budget_claim(1000, 10)
    reads: list[BudgetAccount] = []

    async def read_spend(user_id: str, account: BudgetAccount, until: datetime) -> int:
        reads.append(account)
        await asyncio.sleep(0.05)
        return 500

    async def main() -> None:
        with redis_prefix("admissions") as prefix:
            admissions = [
                Admissions(RedisLimiter(connect(REDIS_URL, timeout_s=2), prefix=prefix), read_spend)
                for _ in range(2)
            ]
            try:
                decisions = await asyncio.gather(
                    *(
                        admissions[i % 2].admit(demand(f"m{i}", rates=(), claims=(claim,)))
                        for i in range(60)
                    )
                )
            finally:
                for each in admissions:
                    await each.close()
        assert sum(d.admitted for d in decisions) == 50  # 500 spent, 10 each, of 1000
        assert 1 <= len(reads) <= 2  # once per replica at most, and the sum set once

    asyncio.run(main())


def test_spend_of_an_account_never_counted_is_the_databases_sum() -> None:
    budget = Budget(Scope.KEY, "12", 1000, Period.WEEKLY)
    account = budget.account(datetime.now(UTC))

    async def read_spend(user_id: str, account: BudgetAccount, until: datetime) -> int:
        return 123

    async def main() -> None:
        admissions = Admissions(MemoryLimiter(), read_spend)
        spend = await admissions.spend("alice", account)
        assert (spend.total_units, spend.reserved_units) == (123, 0)

    asyncio.run(main())
