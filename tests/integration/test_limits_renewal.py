"""A request's reservation over its lifetime: one that runs past its deadline (a long stream)
keeps its reservation and its concurrency slot while its replica renews them; one that was
settled, or whose replica stopped renewing, is not brought back; and one settled twice (a
settlement whose call timed out, sent again) counts once. Both backends, as `test_limits`
holds them."""

from __future__ import annotations

import asyncio

from switchboard.limits import Demand, Limiter
from tests.integration.test_limits import (
    Factory,
    budget_claim,
    demand,
    make_limiter,
    run,
    settled,
)

__all__ = ["make_limiter"]  # the backends' fixture, shared with test_limits

HOLD_MS = 300


def test_a_renewed_request_keeps_its_reservation_and_slot_past_its_deadline(
    make_limiter: Factory,
) -> None:
    async def test(limiter: Limiter) -> None:
        claim = budget_claim(1000, 600)

        def running(request_id: str) -> Demand:
            return demand(
                request_id,
                claims=(claim,),
                concurrency_key="7",
                concurrency_limit=1,
                hold_ms=HOLD_MS,
            )

        decision = await limiter.admit(running("long"))
        await limiter.seed("alice", claim.account, decision.rebuild[0][1], 0)
        long = running("long")
        assert (await limiter.admit(long)).admitted
        for _ in range(3):  # 600 ms in all: twice the deadline the admission set
            await asyncio.sleep(0.2)
            await limiter.renew([long])
        assert (await limiter.spend("alice", claim.account)).reserved_units == 600
        refused = await limiter.admit(running("second"))
        assert refused.refusal is not None

        await asyncio.sleep(HOLD_MS / 1000 + 0.1)  # its replica stopped renewing
        assert (await limiter.spend("alice", claim.account)).reserved_units == 0
        await limiter.renew([long])
        assert (await limiter.spend("alice", claim.account)).reserved_units == 0
        assert (await limiter.admit(running("second"))).admitted

    run(make_limiter, test)


def test_renewing_a_settled_request_changes_nothing(make_limiter: Factory) -> None:
    async def test(limiter: Limiter) -> None:
        claim = budget_claim(1000, 600)
        decision = await limiter.admit(demand("done", claims=(claim,), hold_ms=HOLD_MS))
        await limiter.seed("alice", claim.account, decision.rebuild[0][1], 0)
        done = demand("done", claims=(claim,), hold_ms=HOLD_MS)
        assert (await limiter.admit(done)).admitted
        await limiter.settle(done, settled(250))
        await limiter.renew([done])
        spend = await limiter.spend("alice", claim.account)
        assert (spend.spent_units, spend.reserved_units) == (250, 0)

    run(make_limiter, test)


def test_a_request_settled_twice_counts_once(make_limiter: Factory) -> None:
    async def test(limiter: Limiter) -> None:
        claim = budget_claim(1000, 600)
        decision = await limiter.admit(demand("twice", claims=(claim,)))
        await limiter.seed("alice", claim.account, decision.rebuild[0][1], 0)
        twice = demand("twice", claims=(claim,))
        assert (await limiter.admit(twice)).admitted
        await limiter.settle(twice, settled(250))
        await limiter.settle_all([(twice, settled(250))])
        spend = await limiter.spend("alice", claim.account)
        assert (spend.spent_units, spend.reserved_units) == (250, 0)

    run(make_limiter, test)
