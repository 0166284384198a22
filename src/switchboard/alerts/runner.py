"""The alerts of one process: rules evaluated every ALERT_EVALUATION_INTERVAL_S by the replica
holding the job's lease (`gateway.job_lease`), budget thresholds checked as requests settle,
and the outbox sent every ALERT_DELIVERY_POLL_S. Made in the app's lifespan, after the
gateway has started; closed before it closes."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

import aiohttp
from sqlalchemy.orm import Session, sessionmaker

from switchboard._types import utcnow
from switchboard.alerts.budget_watch import BudgetWatch
from switchboard.alerts.delivery import Outbox
from switchboard.alerts.evaluation import Evaluator
from switchboard.gateway.job_lease import JobLease
from switchboard.gateway.service import Gateway
from switchboard.jobs import DatabaseWork
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
        self._lease = JobLease(
            sessions, name=LEASE_NAME, duration_s=settings.alert_evaluation_interval_s
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
        loop = asyncio.get_running_loop()
        if self._settings.alert_evaluation_interval_s > 0:
            self._tasks.append(loop.create_task(self._evaluate(), name="alert-evaluation"))
        self._tasks.append(loop.create_task(self._deliver(), name="alert-delivery"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._watch.close()
        await self._work.finish()
        if self._http is not None:
            await self._http.close()

    async def _evaluate(self) -> None:
        interval = self._settings.alert_evaluation_interval_s
        jitter = random.Random()
        while True:
            until = utcnow() + timedelta(seconds=interval)
            try:
                taken, until = await self._work.run(self._lease.take)
                if taken:
                    raised = await self.evaluator.evaluate()
                    if raised:
                        log_event(log, logging.INFO, "alerts_raised", count=raised)
            except Exception as error:  # the database may be down: try again next interval
                log_event(
                    log, logging.WARNING, "alert_evaluation_failed", error=type(error).__name__
                )
            wait = (until - utcnow()).total_seconds()
            await asyncio.sleep(max(wait, 0.0) + jitter.uniform(0, min(1.0, interval / 10)))

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
