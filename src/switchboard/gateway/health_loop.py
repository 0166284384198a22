"""The background health check: every active provider probed (`health_probe`) once per
`health_check_interval_s` across all replicas.

Before a round the loop takes the job's lease (`job_lease`) for one interval (`jobs.LeasedJob`).
The first round comes one interval after start, so a restart does not probe. An interval of 0
turns the loop off.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from switchboard._types import utcnow
from switchboard.gateway.health_probe import HealthProbe, HealthReport
from switchboard.gateway.job_lease import JobLease
from switchboard.jobs import DatabaseWork, LeasedJob
from switchboard.logs import log_event
from switchboard.vocabulary import HealthStatus

log = logging.getLogger(__name__)

LEASE_NAME = "provider-health-check"
TASK_NAME = "provider-health-checker"


class HealthCheckLoop(LeasedJob[list[HealthReport]]):
    def __init__(
        self,
        probe: HealthProbe,
        lease: JobLease,
        *,
        work: DatabaseWork,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(
            run_round=probe.check_all,
            take_lease=lease.take,
            interval_s=lease.duration_s,
            task_name=TASK_NAME,
            first_delay_s=lease.duration_s,
            max_jitter_s=min(1.0, lease.duration_s / 10),
            on_round=_log_round,
            on_failure=_log_failure,
            work=work,
            clock=clock,
        )
        self.probe = probe
        self.lease = lease


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


def _log_failure(error: Exception) -> None:
    log_event(log, logging.WARNING, "health_check_round_failed", error=type(error).__name__)
