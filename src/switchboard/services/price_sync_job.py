"""Running the price sync: once (the command line, the admin API), or every
`PRICE_SYNC_INTERVAL_H` hours on one replica at a time.

`run_price_sync` reads the map (`price_map_source`), checks it against the catalog's
providers (`price_map`) and compares or applies (`price_sync`); the JSON is parsed and the
database written in a worker thread, so an event loop that calls it keeps serving.

`PriceSyncJob` takes a named lease in `llm_leases` for one interval before each run (the
caller hands it the lease's `take`, the one the health checker uses), so that with several
replicas only one syncs per interval, and a restart within the interval does not sync again.
It applies without `force`: prices set by hand stay. A failed run (no network, a malformed
map) is logged and tried again at the next interval; nothing of it is written.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from switchboard._types import utcnow
from switchboard.errors import PriceMapError
from switchboard.logs import log_event
from switchboard.services.audit import Actor
from switchboard.services.price_map import load_price_map
from switchboard.services.price_map_source import read_price_map_source
from switchboard.services.price_sync import SyncReport, map_providers, sync_catalog
from switchboard.settings import Settings

log = logging.getLogger(__name__)

LEASE_NAME = "price-sync"
TASK_NAME = "price-sync"
FIRST_RUN_DELAY_S = 60.0
"""After a start, the first attempt waits this long: the lease, not the start, decides."""

TakeLease = Callable[[], tuple[bool, datetime]]
"""Take the job's lease if free: whether it was taken, and when the current one runs out."""


async def run_price_sync(
    sessions: sessionmaker[Session],
    *,
    source: str,
    timeout_s: float,
    actor: str,
    apply: bool = False,
    force: bool = False,
) -> SyncReport:
    """Read the price map at `source` and sync the catalog with it (see `price_sync`)."""
    raw = await read_price_map_source(source, timeout_s=timeout_s)

    def compare_or_apply() -> SyncReport:
        with sessions() as session:
            providers = set(map_providers(session).values())
            price_map = load_price_map(raw, source=source, providers=providers)
            return sync_catalog(
                session, price_map, source=source, actor=actor, apply=apply, force=force
            )

    return await asyncio.to_thread(compare_or_apply)


class PriceSyncJob:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        take_lease: TakeLease,
        first_run_delay_s: float = FIRST_RUN_DELAY_S,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._source = settings.price_map_source
        self._timeout_s = settings.price_map_timeout_s
        self.interval_s = settings.price_sync_interval_h * 3600
        self._take_lease = take_lease
        self._first_run_delay_s = first_run_delay_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._threads: set[asyncio.Future[Any]] = set()

    def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name=TASK_NAME)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        # Database work already in a thread finishes: its connection goes back to the pool.
        await asyncio.gather(*self._threads, return_exceptions=True)

    async def run_once(self) -> SyncReport | None:
        """One run: None when another holder's lease is still running."""
        taken, _ = await self._in_thread(self._take_lease)
        return await self._sync() if taken else None

    async def _sync(self) -> SyncReport:
        sync = asyncio.ensure_future(
            run_price_sync(
                self._sessions,
                source=self._source,
                timeout_s=self._timeout_s,
                actor=Actor.SYSTEM,
                apply=True,
            )
        )
        self._threads.add(sync)
        sync.add_done_callback(self._threads.discard)
        report = await asyncio.shield(sync)
        log_event(
            log,
            logging.INFO,
            "price_sync_applied",
            source=report.source,
            changed=report.to_write,
            skipped_manual=sum(1 for change in report.changes if change.skipped),
            deprecated=sum(1 for d in report.deprecations if not d.scheduled),
            retired=len(report.missing),
            new=len(report.new_models),
        )
        return report

    async def _in_thread(self, function: TakeLease) -> tuple[bool, datetime]:
        future = asyncio.ensure_future(asyncio.to_thread(function))
        self._threads.add(future)
        future.add_done_callback(self._threads.discard)
        return await asyncio.shield(future)

    async def _run(self) -> None:
        jitter = random.Random()
        await asyncio.sleep(self._first_run_delay_s)
        while True:
            until = self._clock() + timedelta(seconds=self.interval_s)
            try:
                taken, until = await self._in_thread(self._take_lease)
                if taken:
                    await self._sync()
            except PriceMapError as error:
                log_event(log, logging.WARNING, "price_sync_failed", error=str(error))
            except Exception as error:  # the database may be down: try again next interval
                log_event(log, logging.WARNING, "price_sync_failed", error=type(error).__name__)
            wait = (until - self._clock()).total_seconds()
            await asyncio.sleep(max(wait, 0.0) + jitter.uniform(0, 60))
