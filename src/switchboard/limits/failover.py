"""`FailoverLimiter`: Redis while it answers; when it does not, never a 500 and never a hang.

`LIMITS_WHEN_REDIS_DOWN=open` (the default) enforces the same rules in this process alone
(`MemoryLimiter`, emptied each time it takes over, its budget accounts rebuilt from the
database like Redis's); `closed` refuses every request that needs a limit check
(`LimitsUnavailableError`, a 503). Meanwhile a background task pings Redis every
`reconnect_s` and switches back when it answers. Settlements that could not reach Redis are
kept (up to `MAX_PENDING`) and sent once it is back, so what was spent meanwhile is counted.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from switchboard.errors import SwitchboardError
from switchboard.limits.memory import MemoryLimiter
from switchboard.limits.outcome import Decision, LimiterUnavailableError, Spend
from switchboard.limits.rules import BudgetAccount, Demand, Settlement
from switchboard.logs import log_event
from switchboard.vocabulary import WhenRedisDown

if TYPE_CHECKING:
    from switchboard.limits.redis_limiter import RedisLimiter

log = logging.getLogger(__name__)

MAX_PENDING = 100_000
REPLAY_CHUNK = 256
"""Settlements replayed per round trip when Redis is back."""


WhenDown = WhenRedisDown


class LimitsUnavailableError(SwitchboardError):
    """Limits cannot be checked (Redis unreachable, `LIMITS_WHEN_REDIS_DOWN=closed`)."""


class FailoverLimiter:
    def __init__(
        self,
        redis: RedisLimiter,
        *,
        when_down: WhenDown,
        reconnect_s: float = 0.5,
        fallback: MemoryLimiter | None = None,
    ) -> None:
        self.redis = redis
        self.when_down = when_down
        self._fallback = fallback or MemoryLimiter()
        self._reconnect_s = reconnect_s
        self._down = False
        self._pending: deque[tuple[Demand, Settlement]] = deque(maxlen=MAX_PENDING)
        self._reconnecting: asyncio.Task[None] | None = None

    @property
    def degraded(self) -> bool:
        """Redis is out of reach: limits hold per process (open) or requests are refused."""
        return self._down

    async def admit(self, demand: Demand) -> Decision:
        if not self._down:
            try:
                return await self.redis.admit(demand)
            except LimiterUnavailableError as error:
                self._went_down(error)
        return await self._local().admit(demand)

    async def adjust(self, demand: Demand, units: tuple[int, ...]) -> Decision:
        if not self._down:
            try:
                return await self.redis.adjust(demand, units)
            except LimiterUnavailableError as error:
                self._went_down(error)
        return await self._local().adjust(demand, units)

    async def settle(self, demand: Demand, settlement: Settlement) -> None:
        if not self._down:
            try:
                await self.redis.settle(demand, settlement)
                return
            except LimiterUnavailableError as error:
                self._went_down(error)
        self._pending.append((demand, settlement))
        await self._fallback.settle(demand, settlement)

    async def settle_all(self, items: Sequence[tuple[Demand, Settlement]]) -> None:
        if not self._down:
            try:
                await self.redis.settle_all(items)
                return
            except LimiterUnavailableError as error:
                self._went_down(error)
        self._pending.extend(items)
        await self._fallback.settle_all(items)

    async def renew(self, demands: Sequence[Demand]) -> None:
        if not self._down:
            try:
                await self.redis.renew(demands)
                return
            except LimiterUnavailableError as error:
                self._went_down(error)
        await self._fallback.renew(demands)

    async def seed(
        self, user_id: str, account: BudgetAccount, since_ms: int, base_units: int
    ) -> None:
        if not self._down:
            try:
                await self.redis.seed(user_id, account, since_ms, base_units)
                return
            except LimiterUnavailableError as error:
                self._went_down(error)
        await self._fallback.seed(user_id, account, since_ms, base_units)

    async def spend(self, user_id: str, account: BudgetAccount) -> Spend:
        if not self._down:
            try:
                return await self.redis.spend(user_id, account)
            except LimiterUnavailableError as error:
                self._went_down(error)
        return await self._fallback.spend(user_id, account)

    async def close(self) -> None:
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            await asyncio.gather(self._reconnecting, return_exceptions=True)
        await self.redis.close()

    def _local(self) -> MemoryLimiter:
        if self.when_down is WhenDown.CLOSED:
            raise LimitsUnavailableError(
                "Limits cannot be checked right now (LIMITS_WHEN_REDIS_DOWN=closed)."
            )
        return self._fallback

    def _went_down(self, error: Exception) -> None:
        if self._down:
            return
        self._down = True
        self._fallback.clear()
        log_event(
            log,
            logging.WARNING,
            "limits_redis_unreachable",
            error=str(error),
            when_down=str(self.when_down),
        )
        self._reconnecting = asyncio.get_running_loop().create_task(
            self._reconnect(), name="limits-reconnect"
        )

    async def _reconnect(self) -> None:
        while True:
            await asyncio.sleep(self._reconnect_s)
            try:
                await self.redis.ping()
                replayed = await self._replay()
            except LimiterUnavailableError:
                continue
            self._down = False
            log_event(log, logging.INFO, "limits_redis_recovered", settlements_sent=replayed)
            return

    async def _replay(self) -> int:
        """Send the settlements kept while Redis was away; stop at the first failure."""
        sent = 0
        while self._pending:
            chunk = list(itertools.islice(self._pending, REPLAY_CHUNK))
            await self.redis.settle_all(chunk, at_once=True)
            for _ in chunk:
                self._pending.popleft()
            sent += len(chunk)
        return sent
