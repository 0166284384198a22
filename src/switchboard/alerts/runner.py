"""The alerts of one process: rules evaluated every ALERT_EVALUATION_INTERVAL_S by the replica
holding the job's lease (`gateway.job_lease`), budget thresholds checked as requests settle,
and the outbox sent every ALERT_DELIVERY_POLL_S. Made in the app's lifespan, after the
gateway has started; closed before it closes."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from sqlalchemy.orm import Session, sessionmaker

from switchboard.alerts.budget_watch import BudgetWatch
from switchboard.alerts.delivery import Outbox
from switchboard.alerts.evaluation import Evaluator
from switchboard.gateway.job_lease import JobLease
from switchboard.gateway.service import Gateway
from switchboard.jobs import DatabaseWork, LeasedJob
from switchboard.logs import log_event
from switchboard.providers.client import provider_client

log = logging.getLogger(__name__)

LEASE_NAME = "alert-evaluation"


class AlertRunner:
    def __init__(self, sessions: sessionmaker[Session], gateway: Gateway) -> None:
        settings = gateway.settings
        self._settings = settings
        self._sessions = sessions
        self._gateway = gateway
        self._work = DatabaseWork()
        self.evaluator = Evaluator(sessions, gateway, work=self._work)
        self._watch = BudgetWatch(gateway, self.evaluator)
        interval_s = settings.alert_evaluation_interval_s
        self._evaluation = LeasedJob(
            run_round=self.evaluator.evaluate,
            take_lease=JobLease(sessions, name=LEASE_NAME, duration_s=interval_s).take,
            interval_s=interval_s,
            task_name="alert-evaluation",
            first_delay_s=0.0,
            max_jitter_s=min(1.0, interval_s / 10),
            on_round=_log_raised,
            on_failure=_log_failure,
            work=self._work,
        )
        self._http: aiohttp.ClientSession | None = None
        self.outbox: Outbox | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._http = provider_client(self._settings.provider_addresses)
        self.outbox = Outbox(
            self._sessions,
            self._settings,
            http=self._http,
            secrets=self._gateway.secrets,
            work=self._work,
        )
        self._gateway.watch_settled(self._watch.notice)
        self._evaluation.start()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._deliver(), name="alert-delivery"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._evaluation.close()
        await self._watch.close()
        await self._work.finish()
        if self._http is not None:
            await self._http.close()

    async def _deliver(self) -> None:
        assert self.outbox is not None
        while True:
            try:
                await self.outbox.send_due()
            except Exception as error:
                log_event(
                    log, logging.WARNING, "alert_delivery_round_failed", error=type(error).__name__
                )
            await asyncio.sleep(self._settings.alert_delivery_poll_s)


def _log_raised(raised: int) -> None:
    if raised:
        log_event(log, logging.INFO, "alerts_raised", count=raised)


def _log_failure(error: Exception) -> None:  # the database may be down: next interval
    log_event(log, logging.WARNING, "alert_evaluation_failed", error=type(error).__name__)
