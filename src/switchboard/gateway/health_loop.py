"""The background health check: every active provider probed (`health_probe`) once per
`health_check_interval_s` across all replicas.

Before a round the loop takes the job's lease (`job_lease`) for one interval; a replica that
cannot take it waits until the current lease runs out (with a little jitter, so replicas do
not all ask at once). The first round comes one interval after start, so a restart does not
probe. An interval of 0 turns the loop off.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from switchboard._types import utcnow
from switchboard.gateway.database_work import DatabaseWork
from switchboard.gateway.health_probe import HealthProbe, HealthReport
from switchboard.gateway.job_lease import JobLease
from switchboard.logs import log_event
from switchboard.vocabulary import HealthStatus

log = logging.getLogger(__name__)

LEASE_NAME = "provider-health-check"
TASK_NAME = "provider-health-checker"


class HealthCheckLoop:
    def __init__(
        self,
        probe: HealthProbe,
        lease: JobLease,
        *,
        work: DatabaseWork,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.probe = probe
        self.lease = lease
        self.interval_s = lease.duration_s
        self._work = work
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name=TASK_NAME)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._work.finish()

    async def run_once(self) -> list[HealthReport] | None:
        """A round: None when another holder's lease is still running."""
        taken, _ = await self._work.run(self.lease.take)
        return await self.probe.check_all() if taken else None

    async def _run(self) -> None:
        jitter = random.Random()
        await asyncio.sleep(self.interval_s)
        while True:
            until = self._clock() + timedelta(seconds=self.interval_s)
            try:
                taken, until = await self._work.run(self.lease.take)
                if taken:
                    _log_round(await self.probe.check_all())
            except Exception as error:  # the database may be down: try again next interval
                log_event(
                    log, logging.WARNING, "health_check_round_failed", error=type(error).__name__
                )
            wait = (until - self._clock()).total_seconds()
            await asyncio.sleep(max(wait, 0.0) + jitter.uniform(0, min(1.0, self.interval_s / 10)))


def _log_round(reports: list[HealthReport]) -> None:
    counts = Counter(report.status for report in reports)
    log_event(
        log,
        logging.INFO,
        "health_check_round",
        providers=len(reports),
        healthy=counts[HealthStatus.HEALTHY],
        degraded=counts[HealthStatus.DEGRADED],
        down=counts[HealthStatus.DOWN],
        unknown=counts[HealthStatus.UNKNOWN],
    )
