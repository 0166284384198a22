"""Background jobs: database work in worker threads, and a periodic job that runs at most once
per interval across all replicas, under a named lease.

`DatabaseWork` keeps track of what it started, so that closing waits for it: a connection still
out when the pool is disposed is leaked. Cancelling the coroutine that waits for such work does
not stop the thread, so it is shielded: the waiter goes, the work finishes.

`LeasedJob` takes the job's lease (`gateway.job_lease`, handed in as its `take`) before each
round; a replica that cannot take it waits until the current lease runs out, with a little
jitter so that replicas do not all ask at once. A failed round is reported and tried again at
the next interval. The health checker and the price sync run on it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, ParamSpec, TypeVar

from switchboard._types import utcnow

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

TakeLease = Callable[[], tuple[bool, datetime]]
"""Take the job's lease if free: whether it was taken, and when the current one runs out."""


class DatabaseWork:
    def __init__(self) -> None:
        self._running: set[asyncio.Future[Any]] = set()

    async def run(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """`function(*args, **kwargs)` in a worker thread."""
        return await self.keep(asyncio.to_thread(function, *args, **kwargs))

    async def keep(self, work: Awaitable[R]) -> R:
        """Await `work`, which goes on to its end (and is waited for by `finish`) when the
        waiter is cancelled."""
        future = asyncio.ensure_future(work)
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        return await asyncio.shield(future)

    async def finish(self) -> None:
        """Wait for the work still running (its errors are its callers')."""
        await asyncio.gather(*self._running, return_exceptions=True)


@dataclass(kw_only=True, eq=False)
class LeasedJob(Generic[T]):
    """`run_round` every `interval_s` (0: never) on whichever replica holds the lease; the
    first attempt `first_delay_s` after `start`. `on_round` hears of each background round's
    result, `on_failure` of each background round's error."""

    run_round: Callable[[], Awaitable[T]]
    take_lease: TakeLease
    interval_s: float
    task_name: str
    first_delay_s: float
    max_jitter_s: float
    on_failure: Callable[[Exception], None]
    on_round: Callable[[T], None] | None = None
    work: DatabaseWork = field(default_factory=DatabaseWork)
    clock: Callable[[], datetime] = utcnow
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.work.finish()

    async def run_once(self) -> T | None:
        """A round: None when another holder's lease is still running."""
        taken, _ = await self.work.run(self.take_lease)
        return await self.run_round() if taken else None

    async def _run(self) -> None:
        jitter = random.Random()
        await asyncio.sleep(self.first_delay_s)
        while True:
            until = self.clock() + timedelta(seconds=self.interval_s)
            try:
                taken, until = await self.work.run(self.take_lease)
                if taken:
                    result = await self.run_round()
                    if self.on_round is not None:
                        self.on_round(result)
            except Exception as error:  # the database may be down: try again next interval
                self.on_failure(error)
            wait = (until - self.clock()).total_seconds()
            await asyncio.sleep(max(wait, 0.0) + jitter.uniform(0, self.max_jitter_s))
