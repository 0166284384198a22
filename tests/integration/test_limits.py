"""The limits' two backends, held to one contract: the same tests against `MemoryLimiter` and
`RedisLimiter` on a real Redis (a key prefix of each test's own, deleted afterwards)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from switchboard.limits import (
    Decision,
    Demand,
    Limiter,
    LimitKind,
    MemoryLimiter,
    RateLimit,
    RedisLimiter,
    Scope,
    connect,
)
from switchboard.limits.script_channel import ScriptChannel
from tests.integration.limit_demands import budget_claim, demand, open_account, settled
from tests.redis_support import REDIS_URL, redis_prefix

T = TypeVar("T")
Factory = Callable[[], Limiter]


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request: pytest.FixtureRequest) -> Iterator[Factory]:
    """Limiters over one set of counters (two Redis clients share them, as two replicas do)."""
    if request.param == "memory":
        shared = MemoryLimiter()
        yield lambda: shared
        return
    with redis_prefix("limits") as prefix:
        yield lambda: RedisLimiter(connect_to_shared_redis(), prefix=prefix)


def connect_to_shared_redis() -> ScriptChannel:
    """A connection that waits long: the contract is about counting, not timeouts (the
    failover tests own those), and the shared Redis also serves the other test worker and
    whoever else runs tests on this machine."""
    return connect(REDIS_URL, timeout_s=10.0)


def run(factory: Factory, test: Callable[[Limiter], Awaitable[T]]) -> T:
    async def main() -> T:
        limiter = factory()
        try:
            return await test(limiter)
        finally:
            await limiter.close()

    return asyncio.run(main())


async def admit_over_two_clients(
    first: Limiter, make_limiter: Factory, demands: list[Demand]
) -> list[Decision]:
    """The demands at once, alternately through `first` and a second client on the same
    counters, as two replicas would send them."""
    second = make_limiter()
    try:
        limiters = [first, second]
        return await asyncio.gather(
            *(limiters[i % 2].admit(each) for i, each in enumerate(demands))
        )
    finally:
        if second is not first:
            await second.close()


def test_requests_per_minute_admit_exactly_the_limit(make_limiter: Factory) -> None:
    rate = (RateLimit(Scope.KEY, "7", requests_per_minute=5),)

    async def test(limiter: Limiter) -> None:
        decisions = [await limiter.admit(demand(f"r{i}", rates=rate)) for i in range(7)]
        assert [d.admitted for d in decisions] == [True] * 5 + [False] * 2
        assert [d.rates[0].remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
        assert decisions[0].rates[0].limit == 5
        refusal = decisions[5].refusal
        assert refusal is not None
        assert (refusal.kind, refusal.scope, refusal.owner) == (LimitKind.REQUESTS, Scope.KEY, "7")
        assert 0 < refusal.retry_after_ms <= 60_000
        assert decisions[5].rates[0].remaining == 0

    run(make_limiter, test)


def test_two_hundred_concurrent_admissions_over_two_clients_let_exactly_sixty_through(
    make_limiter: Factory,
) -> None:
    rate = (RateLimit(Scope.KEY, "k", requests_per_minute=60),)

    async def test(first: Limiter) -> None:
        demands = [demand(f"c{i}", rates=rate) for i in range(200)]
        decisions = await admit_over_two_clients(first, make_limiter, demands)
        assert sum(d.admitted for d in decisions) == 60

    run(make_limiter, test)


def test_tokens_per_minute_count_the_estimate_then_the_real_tokens(make_limiter: Factory) -> None:
    rate = (RateLimit(Scope.USER, "alice", tokens_per_minute=100),)

    async def test(limiter: Limiter) -> None:
        first = demand("t1", rates=rate, tokens=40)
        assert (await limiter.admit(first)).rates[0].remaining == 60
        assert (await limiter.admit(demand("t2", rates=rate, tokens=40))).admitted
        third = await limiter.admit(demand("t3", rates=rate, tokens=40))
        assert third.refusal is not None and third.refusal.kind is LimitKind.TOKENS
        assert third.refusal.remaining == 20 and third.refusal.needed == 40
        await limiter.settle(first, settled(tokens=10))  # it used far less than its bound
        again = await limiter.admit(demand("t3", rates=rate, tokens=40))
        assert again.admitted and again.rates[0].remaining == 10
        too_big = await limiter.admit(demand("t4", rates=rate, tokens=500))
        assert too_big.refusal is not None and too_big.refusal.retry_after_ms == 60_000

    run(make_limiter, test)


def test_requests_and_tokens_per_minute_of_one_owner_count_apart(make_limiter: Factory) -> None:
    """In Redis they share one log: each still counts what it counts."""
    rate = (RateLimit(Scope.USER, "alice", requests_per_minute=3, tokens_per_minute=100),)

    async def test(limiter: Limiter) -> None:
        first = demand("b1", rates=rate, tokens=60)
        admitted = await limiter.admit(first)
        assert [(s.kind, s.remaining) for s in admitted.rates] == [
            (LimitKind.REQUESTS, 2),
            (LimitKind.TOKENS, 40),
        ]
        over = await limiter.admit(demand("b2", rates=rate, tokens=60))
        assert over.refusal is not None and over.refusal.kind is LimitKind.TOKENS
        await limiter.settle(first, settled(tokens=5))
        second = await limiter.admit(demand("b2", rates=rate, tokens=60))
        assert [s.remaining for s in second.rates] == [1, 35]
        assert (await limiter.admit(demand("b3", rates=rate, tokens=1))).admitted
        refused = await limiter.admit(demand("b4", rates=rate, tokens=1))
        assert refused.refusal is not None and refused.refusal.kind is LimitKind.REQUESTS
        assert [(s.remaining, 0 < s.reset_ms <= 60_000) for s in refused.rates] == [
            (0, True),
            (34, True),
        ]

    run(make_limiter, test)


def test_concurrency_slots_are_released_by_settling_or_by_their_deadline(
    make_limiter: Factory,
) -> None:
    def slot(request_id: str, hold_ms: int = 60_000) -> Demand:
        return demand(request_id, concurrency_key="9", concurrency_limit=2, hold_ms=hold_ms)

    async def test(limiter: Limiter) -> None:
        first = slot("s1")
        assert (await limiter.admit(first)).admitted
        assert (await limiter.admit(slot("s2", hold_ms=200))).admitted
        refused = await limiter.admit(slot("s3"))
        assert refused.refusal is not None and refused.refusal.kind is LimitKind.CONCURRENCY
        await limiter.settle(first, settled())
        assert (await limiter.admit(slot("s3"))).admitted
        assert not (await limiter.admit(slot("s4"))).admitted
        await asyncio.sleep(0.3)  # s2's holder died: its slot comes back at its deadline
        assert (await limiter.admit(slot("s4"))).admitted

    run(make_limiter, test)


def test_a_budget_is_rebuilt_once_then_reserves_and_settles(make_limiter: Factory) -> None:
    async def test(limiter: Limiter) -> None:
        claim = budget_claim(1000, 300)
        first = await limiter.admit(demand("b1", claims=(claim,)))
        assert not first.admitted and first.refusal is None
        [(account, since)] = first.rebuild
        assert account == claim.account
        await limiter.seed("alice", account, since, 200)
        await limiter.seed("alice", account, since, 999)  # a second replica's: ignored
        admitted = await limiter.admit(demand("b1", claims=(claim,)))
        assert admitted.admitted
        assert admitted.budgets[0].spent_units == 200
        assert admitted.budgets[0].reserved_units == 300
        assert admitted.budgets[0].remaining_units == 500
        second = await limiter.admit(demand("b2", claims=(claim,)))
        assert second.budgets[0].remaining_units == 200
        refused = await limiter.admit(demand("b3", claims=(claim,)))
        assert refused.refusal is not None and refused.refusal.kind is LimitKind.BUDGET
        assert refused.refusal.remaining == 200 and refused.refusal.needed == 300
        assert refused.refusal.retry_after_ms > 0
        # b1 cost 50: its reservation is replaced by what it cost
        await limiter.settle(demand("b1", claims=(claim,)), settled(50))
        spend = await limiter.spend("alice", account)
        assert (spend.total_units, spend.reserved_units) == (250, 300)
        assert (await limiter.admit(demand("b3", claims=(claim,)))).admitted

    run(make_limiter, test)


def test_a_record_older_than_the_counters_is_left_to_the_rebuild(make_limiter: Factory) -> None:
    async def test(limiter: Limiter) -> None:
        claim = budget_claim(1000, 100)
        since = await open_account(limiter, claim, demand("o1", claims=(claim,)))
        before = datetime.fromtimestamp(since / 1000, UTC) - timedelta(seconds=5)
        await limiter.settle(demand("o0", claims=(claim,)), settled(70, at=before))
        await limiter.settle(demand("o2", claims=(claim,)), settled(30))
        assert (await limiter.spend("alice", claim.account)).total_units == 30

    run(make_limiter, test)


def test_a_dead_replicas_reservations_expire_at_their_deadline(make_limiter: Factory) -> None:
    async def test(limiter: Limiter) -> None:
        claim = budget_claim(1000, 600)
        await open_account(limiter, claim, demand("d1", claims=(claim,)))
        assert (await limiter.admit(demand("d1", claims=(claim,), hold_ms=200))).admitted
        assert not (await limiter.admit(demand("d2", claims=(claim,)))).admitted
        await asyncio.sleep(0.3)
        assert (await limiter.spend("alice", claim.account)).reserved_units == 0
        assert (await limiter.admit(demand("d2", claims=(claim,)))).admitted

    run(make_limiter, test)


def test_adjusting_a_reservation_checks_only_what_it_adds(make_limiter: Factory) -> None:
    async def test(limiter: Limiter) -> None:
        claim = budget_claim(1000, 400)
        await open_account(limiter, claim, demand("a1", claims=(claim,)))
        first = demand("a1", claims=(claim,))
        assert (await limiter.admit(first)).admitted
        assert (await limiter.admit(demand("a2", claims=(budget_claim(1000, 300),)))).admitted
        grown = await limiter.adjust(first, (700,))  # 700 + 300 = 1000: fits exactly
        assert grown.admitted and grown.budgets[0].reserved_units == 1000
        refused = await limiter.adjust(first, (701,))
        assert refused.refusal is not None and refused.refusal.remaining == 700
        assert (await limiter.spend("alice", claim.account)).reserved_units == 1000
        shrunk = await limiter.adjust(first, (100,))
        assert shrunk.budgets[0].reserved_units == 400

    run(make_limiter, test)


def test_a_refusal_counts_nothing_anywhere(make_limiter: Factory) -> None:
    rate = (RateLimit(Scope.USER, "alice", requests_per_minute=10, tokens_per_minute=1000),)

    async def test(limiter: Limiter) -> None:
        claim = budget_claim(100, 500)
        await open_account(limiter, claim, demand("n1", claims=(claim,)))
        refused = await limiter.admit(demand("n1", rates=rate, tokens=10, claims=(claim,)))
        assert refused.refusal is not None and refused.refusal.kind is LimitKind.BUDGET
        ok = await limiter.admit(demand("n2", rates=rate, tokens=10))
        assert [status.remaining for status in ok.rates] == [9, 990]

    run(make_limiter, test)


def test_budgets_of_many_requests_at_once_never_overshoot(make_limiter: Factory) -> None:
    async def test(first: Limiter) -> None:
        claim = budget_claim(10_000, 70)
        await open_account(first, claim, demand("w0", claims=(claim,)))
        demands = [demand(f"w{i}", claims=(claim,)) for i in range(400)]
        decisions = await admit_over_two_clients(first, make_limiter, demands)
        assert sum(d.admitted for d in decisions) == 10_000 // 70

    run(make_limiter, test)


def test_settlements_sent_together_each_count_once(make_limiter: Factory) -> None:
    async def test(limiter: Limiter) -> None:
        claim = budget_claim(10_000, 100)
        await open_account(limiter, claim, demand("p0", claims=(claim,)))
        demands = [
            demand(f"p{i}", claims=(claim,), concurrency_key="5", concurrency_limit=3)
            for i in range(3)
        ]
        for each in demands:
            assert (await limiter.admit(each)).admitted
        await limiter.settle_all([(each, settled(10 * (i + 1))) for i, each in enumerate(demands)])
        spend = await limiter.spend("alice", claim.account)
        assert (spend.total_units, spend.reserved_units) == (60, 0)
        again = demand("p9", concurrency_key="5", concurrency_limit=3)
        assert (await limiter.admit(again)).admitted  # the three slots were released

    run(make_limiter, test)
