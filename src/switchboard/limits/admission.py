"""`Admissions`: what the gateway asks of the limits, over any `Limiter`.

It admits a demand, first rebuilding any budget account whose counters are new: what the
owner spent in the period before the counters began is read from the database (the usage
rollups and rows, and the spool's records not yet stored) and set once (`Limiter.seed`):
several replicas finding Redis empty at once each read the same sum, and only the first one
is kept, so nothing is counted twice. Concurrent admissions of one account share one read.

Settlements are sent in the background (`settle_soon`): a request's usage record is made
synchronously, and its response must not wait for Redis. Those that come together are sent
together, one round trip for many.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from switchboard.limits.backend import Limiter
from switchboard.limits.failover import LimitsUnavailableError
from switchboard.limits.outcome import Decision, LimiterUnavailableError, Spend
from switchboard.limits.rules import BudgetAccount, Demand, Settlement
from switchboard.logs import log_event

log = logging.getLogger(__name__)

SpendReader = Callable[[str, BudgetAccount, datetime], Awaitable[int]]
"""(user id, account, until) → units the account's owner spent from the period's start until
`until`, as the database and the spool know it."""

_REBUILD_TRIES = 3
SETTLE_BATCH = 256


class Admissions:
    def __init__(self, limiter: Limiter, read_spend: SpendReader) -> None:
        self.limiter = limiter
        self._read_spend = read_spend
        self._rebuilding: dict[tuple[BudgetAccount, int], asyncio.Future[None]] = {}
        self._queued: list[tuple[Demand, Settlement]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def admit(self, demand: Demand) -> Decision:
        for _ in range(_REBUILD_TRIES):
            decision = await self.limiter.admit(demand)
            if not decision.rebuild:
                return decision
            await asyncio.gather(
                *(
                    self._rebuild(demand.user_id, account, since)
                    for account, since in decision.rebuild
                )
            )
        raise LimitsUnavailableError("The budget's counters could not be rebuilt.")

    async def adjust(self, demand: Demand, units: tuple[int, ...]) -> Decision:
        return await self.limiter.adjust(demand, units)

    def settle_soon(self, demand: Demand, settlement: Settlement) -> None:
        """Queue the settlement; those queued while the event loop was busy go together,
        in one round trip (`Limiter.settle_all`)."""
        self._queued.append((demand, settlement))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def settled(self) -> None:
        """Wait until the settlements queued so far have been sent."""
        while self._flushing is not None and not self._flushing.done():
            await asyncio.gather(asyncio.shield(self._flushing), return_exceptions=True)

    async def spend(self, user_id: str, account: BudgetAccount) -> Spend:
        """The account, rebuilt first if its counters are new (as an admission would)."""
        spend = await self.limiter.spend(user_id, account)
        if spend.base_units is None:
            since = spend.since_ms
            if since is None:  # no counters at all: the database's sum is all there is
                until = datetime.now(UTC)
                total = await self._read_spend(user_id, account, until)
                return Spend(account, total, 0, 0, None)
            await self._rebuild(user_id, account, since)
            spend = await self.limiter.spend(user_id, account)
        return spend

    async def close(self) -> None:
        while self._flushing is not None and not self._flushing.done():
            await asyncio.gather(self._flushing, return_exceptions=True)
        await self._flush()
        await self.limiter.close()

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the settlements of this turn of the loop join
        while self._queued:
            batch, self._queued = self._queued[:SETTLE_BATCH], self._queued[SETTLE_BATCH:]
            try:
                await self.limiter.settle_all(batch)
            except (LimiterUnavailableError, LimitsUnavailableError):
                pass  # the reservations expire at their deadline; the database has the costs
            except Exception:
                log_event(log, logging.ERROR, "limits_settle_failed", exc_info=True)

    async def _rebuild(self, user_id: str, account: BudgetAccount, since_ms: int) -> None:
        key = (account, since_ms)
        pending = self._rebuilding.get(key)
        if pending is not None:
            await asyncio.shield(pending)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._rebuilding[key] = future
        try:
            until = datetime.fromtimestamp(since_ms / 1000, UTC)
            try:
                base = await self._read_spend(user_id, account, until)
            except Exception as error:
                log_event(
                    log,
                    logging.WARNING,
                    "limits_rebuild_failed",
                    account=account.name,
                    error=type(error).__name__,
                )
                raise LimitsUnavailableError(
                    "The budget cannot be checked right now: its spend cannot be read."
                ) from None
            await self.limiter.seed(user_id, account, since_ms, base)
            log_event(
                log,
                logging.INFO,
                "limits_account_rebuilt",
                account=account.name,
                spent_units=base,
            )
            future.set_result(None)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:
            future.set_exception(error)
            future.exception()  # retrieved: the waiters re-raise it
            raise
        finally:
            del self._rebuilding[key]
