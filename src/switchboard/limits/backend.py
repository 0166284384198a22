"""`Limiter`: the one interface of the counters, whichever backend keeps them.

`MemoryLimiter` keeps them in the process (one process: `make run`); `RedisLimiter` in Redis,
shared by every replica, each operation one atomic script. Both have the same semantics, and
the same tests run against both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from switchboard.limits.outcome import Decision, Spend
from switchboard.limits.rules import BudgetAccount, Demand, Settlement


class Limiter(Protocol):
    async def admit(self, demand: Demand) -> Decision:
        """Check every limit of `demand` and, only if all hold, count it: a request in each
        rate window, its tokens, a concurrency slot, and a reservation of each claim's units
        until `hold_ms` from now. An account whose counters are new (empty) comes back in
        `rebuild` instead, with nothing counted: `seed` it, then admit again."""
        ...

    async def adjust(self, demand: Demand, units: tuple[int, ...]) -> Decision:
        """Change the request's reservations to `units` (in the order of its claims), if each
        budget still holds them; otherwise change nothing and return the refusal."""
        ...

    async def settle(self, demand: Demand, settlement: Settlement) -> None:
        """The request ended: release its reservations and concurrency slot, count its real
        cost (if its usage record is newer than the account's counters) and real tokens."""
        ...

    async def settle_all(self, items: Sequence[tuple[Demand, Settlement]]) -> None:
        """`settle` for each, in as few round trips as the backend can."""
        ...

    async def renew(self, demands: Sequence[Demand]) -> None:
        """The requests are still running: their reservations and concurrency slots last
        `hold_ms` from now (a stream may outlast the deadline its admission set). What was
        settled or has expired stays so."""
        ...

    async def seed(
        self, user_id: str, account: BudgetAccount, since_ms: int, base_units: int
    ) -> None:
        """Set what the account spent before its counters began (`since_ms`), read from the
        database. Set once: a second seed (another replica's) changes nothing."""
        ...

    async def spend(self, user_id: str, account: BudgetAccount) -> Spend:
        """The account now (reservations past their deadline left out)."""
        ...

    async def close(self) -> None: ...
