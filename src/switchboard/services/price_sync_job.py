"""Running the price sync: once (the command line, the admin API), or every
`PRICE_SYNC_INTERVAL_H` hours on one replica at a time.

`run_price_sync` reads the map (`price_map_source`), checks it against the catalog's
providers (`price_map`) and compares or applies (`price_sync`); the JSON is parsed and the
database written in a worker thread, so an event loop that calls it keeps serving.

`PriceSyncJob` takes a named lease in `llm_leases` for one interval before each run
(`jobs.LeasedJob`, as the health checker does; the caller hands it the lease's `take`), so
that with several replicas only one syncs per interval, and a restart within the interval
does not sync again. It applies without `force`: prices set by hand stay. A failed run (no
network, a malformed map) is logged and tried again at the next interval; nothing of it is
written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from switchboard._types import utcnow
from switchboard.errors import PriceMapError
from switchboard.jobs import LeasedJob, TakeLease
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


class PriceSyncJob(LeasedJob[SyncReport]):
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        take_lease: TakeLease,
        first_run_delay_s: float = FIRST_RUN_DELAY_S,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        # A run by `run_once` is logged as the loop's are: the logging is in the round.
        super().__init__(
            run_round=self._sync,
            take_lease=take_lease,
            interval_s=settings.price_sync_interval_h * 3600,
            task_name=TASK_NAME,
            first_delay_s=first_run_delay_s,
            max_jitter_s=60,
            on_failure=_log_failure,
            clock=clock,
        )
        self._sessions = sessions
        self._source = settings.price_map_source
        self._timeout_s = settings.price_map_timeout_s

    async def _sync(self) -> SyncReport:
        report = await self.work.keep(
            run_price_sync(
                self._sessions,
                source=self._source,
                timeout_s=self._timeout_s,
                actor=Actor.SYSTEM,
                apply=True,
            )
        )
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


def _log_failure(error: Exception) -> None:
    if isinstance(error, PriceMapError):
        log_event(log, logging.WARNING, "price_sync_failed", error=str(error))
    else:  # the database may be down: tried again next interval
        log_event(log, logging.WARNING, "price_sync_failed", error=type(error).__name__)
