"""Sending the outbox: claim the deliveries that are due, send each (signed), record the
attempt, and on failure schedule the next with exponential backoff until the horizon.

A receiver that is down costs the gateway nothing on the request path: alerts are rows, and
this runs on its own loop with its own HTTP session (whose connector holds webhook URLs to
`PROVIDER_ADDRESSES`, as provider calls are).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson
from sqlalchemy.orm import Session, sessionmaker

from switchboard._types import utcnow
from switchboard.alerts.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)
from switchboard.jobs import DatabaseWork
from switchboard.logs import log_event
from switchboard.secrets import SecretManager
from switchboard.services.alert_outbox import DueDelivery, claim_due, record_attempt
from switchboard.settings import Settings
from switchboard.vocabulary import DeliveryState, WebhookFormat

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    first_s: float
    max_s: float
    horizon: timedelta

    def retry_at(self, attempts: int, created_at: datetime, now: datetime) -> datetime | None:
        """When to try again after `attempts` failures; None once past the horizon."""
        wait = min(self.first_s * 2 ** max(attempts - 1, 0), self.max_s)
        at = now + timedelta(seconds=wait)
        return at if at <= created_at + self.horizon else None


def body_of(delivery: DueDelivery) -> bytes:
    """The request body: the alert as JSON, or a Slack message."""
    payload = delivery.payload
    if delivery.format is WebhookFormat.SLACK:
        text = f"*{payload['kind']}* ({payload['subject']}): {payload['message']}"
        return orjson.dumps({"text": text})
    return orjson.dumps({"type": "alert", "alert": payload})


class Outbox:
    """Sends what is due; `send_due` is one pass (the runner calls it on a timer)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        http: aiohttp.ClientSession,
        secrets: SecretManager | None,
        work: DatabaseWork,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._http = http
        self._secrets = secrets
        self._work = work
        self._clock = clock
        self._timeout_s = settings.alert_delivery_timeout_s
        self._backoff = Backoff(
            settings.alert_delivery_backoff_s,
            settings.alert_delivery_max_backoff_s,
            timedelta(hours=settings.alert_delivery_horizon_h),
        )

    async def send_due(self) -> int:
        """Send every delivery due now (claimed by this process); how many were delivered."""
        due = await self._work.run(self._claim)
        results = await asyncio.gather(*(self._send(delivery) for delivery in due))
        return sum(1 for state in results if state is DeliveryState.DELIVERED)

    def _claim(self) -> list[DueDelivery]:
        with self._sessions() as session:
            return claim_due(session, now=self._clock(), hold_s=self._timeout_s + 30)

    async def _send(self, delivery: DueDelivery) -> DeliveryState:
        body = body_of(delivery)
        headers = {"Content-Type": "application/json", DELIVERY_HEADER: str(delivery.delivery_id)}
        status: int | None = None
        error: str | None = None
        started = time.perf_counter()
        try:
            secret = self._secret(delivery)
            if secret is not None:
                sent_at = int(time.time())
                headers[TIMESTAMP_HEADER] = str(sent_at)
                headers[SIGNATURE_HEADER] = signature(secret, body, sent_at)
            timeout = aiohttp.ClientTimeout(total=self._timeout_s)
            async with self._http.post(
                delivery.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                status = response.status
                await response.read()
            if not 200 <= status < 300:
                error = f"the receiver answered {status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as failure:
            error = f"{type(failure).__name__}: {failure}"[:300]
        except Exception as failure:  # a bad secret or URL must not stop the other deliveries
            error = type(failure).__name__
        duration_ms = round((time.perf_counter() - started) * 1000)
        return await self._work.run(self._record, delivery, status, error, duration_ms)

    def _record(
        self, delivery: DueDelivery, status: int | None, error: str | None, duration_ms: int
    ) -> DeliveryState:
        now = self._clock()
        retry_at = (
            None
            if error is None
            else self._backoff.retry_at(delivery.attempts + 1, delivery.created_at, now)
        )
        with self._sessions() as session:
            state = record_attempt(
                session,
                delivery.delivery_id,
                at=now,
                status_code=status,
                error=error,
                duration_ms=duration_ms,
                retry_at=retry_at,
            )
        fields: dict[str, Any] = {"delivery_id": delivery.delivery_id, "state": str(state)}
        if error is not None:
            log_event(log, logging.WARNING, "alert_delivery_failed", error=error, **fields)
        return state

    def _secret(self, delivery: DueDelivery) -> str | None:
        if delivery.encrypted_secret is None:
            return None
        if self._secrets is None:
            raise RuntimeError("ENCRYPTION_KEY is not set: the webhook's secret cannot be read")
        return self._secrets.decrypt_secret(delivery.encrypted_secret)
