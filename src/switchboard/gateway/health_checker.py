"""Provider health: a real, non-billed probe of each provider, stored on its row.

A probe asks the provider's adapter to list its models (`GET {base_url}/models` for
OpenAI-compatible providers) with the provider's system key, and classifies the outcome:

- `healthy`: it answered within `health_check_degraded_ms`;
- `degraded`: it answered, but slowly, or with a non-fatal refusal (rate limited, the listing
  not found, a bad request): it is reachable and may well serve;
- `down`: it could not be reached, timed out, failed (5xx), rejected its key, or sent
  nonsense; the routing engine then tries it last (it reads the status from the snapshot);
- `unknown`: it could not be probed (no system key, or a key that cannot be decrypted).

The result goes to `health_status`, `health_latency_ms`, `health_error` and
`last_health_check_at`. `updated_at` moves only when the status changes, so every replica
reloads its catalog when, and only when, routing has something new to read.

The background checker probes every active provider once per `health_check_interval_s`
across all replicas: before a round it takes the `llm_leases` row for the job with a
conditional UPDATE (or the first INSERT) that succeeds only when the previous holder's lease
has run out; the lease is kept until it runs out, so no other replica probes within the
interval. The first round comes one interval after start, so a restart does not probe.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar, cast

import aiohttp
from sqlalchemy import CursorResult, bindparam, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from switchboard._types import UTCDateTime, utcnow
from switchboard.catalog.loader import environment_key
from switchboard.errors import NotFoundError, SecretDecryptionError
from switchboard.logs import log_event
from switchboard.models import Lease, LLMModel, LLMProvider
from switchboard.providers import AdapterRegistry, ErrorKind, Upstream, UpstreamError
from switchboard.redaction import scrub
from switchboard.secrets import SecretManager
from switchboard.settings import Settings
from switchboard.vocabulary import AuthType, HealthStatus

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

LEASE_NAME = "provider-health-check"
_MAX_ERROR_CHARS = 500
# The provider answered: it is up, if not entirely well.
_NON_FATAL = frozenset({ErrorKind.RATE_LIMITED, ErrorKind.NOT_FOUND, ErrorKind.BAD_REQUEST})
# Statuses an operator need not act on (a change to any other is a warning).
_FINE = frozenset({HealthStatus.HEALTHY, HealthStatus.UNKNOWN})


@dataclass(frozen=True, slots=True)
class HealthReport:
    provider_id: int
    provider_slug: str
    status: HealthStatus
    latency_ms: int | None
    error: str | None
    checked_at: datetime
    models_found: int | None = None


@dataclass(frozen=True, slots=True)
class _Target:
    """What probing one provider needs, read from its row; `problem` when it cannot be."""

    provider_id: int
    slug: str
    api_format: str | None
    upstream: Upstream
    problem: str | None = None


class HealthChecker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        secrets: SecretManager | None,
        adapters: AdapterRegistry,
        http: aiohttp.ClientSession,
        holder: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._adapters = adapters
        self._http = http
        self.interval_s = settings.health_check_interval_s
        self._timeout_s = settings.health_check_timeout_s
        self._connect_timeout_s = min(settings.connect_timeout_s, self._timeout_s)
        self._degraded_ms = settings.health_check_degraded_ms
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._threads: set[asyncio.Future[Any]] = set()

    # Probing -------------------------------------------------------------------------

    async def check_provider(self, provider_id: int) -> HealthReport:
        """Probe one provider (active or not) now and store the result."""
        targets = await self._in_thread(self._targets, [provider_id])
        if not targets:
            raise NotFoundError(f"provider {provider_id} does not exist")
        return await self._check(targets[0])

    async def check_all(self) -> list[HealthReport]:
        """Probe every active provider now, concurrently, and store the results."""
        targets = await self._in_thread(self._targets, None)
        return list(await asyncio.gather(*(self._check(target) for target in targets)))

    async def run_once(self) -> list[HealthReport] | None:
        """A round of the background job: None when another holder's lease is still running."""
        taken, _ = await self._in_thread(self.take_lease)
        return await self.check_all() if taken else None

    async def _check(self, target: _Target) -> HealthReport:
        report = await self._probe(target)
        await self._in_thread(self._record, report)
        return report

    async def _probe(self, target: _Target) -> HealthReport:
        def report(
            status: HealthStatus, latency: int | None, error: str | None, models: int | None = None
        ) -> HealthReport:
            return HealthReport(
                provider_id=target.provider_id,
                provider_slug=target.slug,
                status=status,
                latency_ms=latency,
                error=_scrub(error, target.upstream),
                checked_at=self._clock(),
                models_found=models,
            )

        if target.problem is not None:
            return report(HealthStatus.UNKNOWN, None, target.problem)
        api_format = AdapterRegistry.format_of(target.slug, target.api_format)
        adapter = self._adapters.for_format(api_format)
        if adapter is None:
            return report(HealthStatus.DOWN, None, f"no adapter for wire format {api_format!r}")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s + 1):
                models = await adapter.list_models(self._http, target.upstream)
        except UpstreamError as error:
            status = HealthStatus.DEGRADED if error.kind in _NON_FATAL else HealthStatus.DOWN
            return report(status, _elapsed_ms(started), f"{error.kind}: {error.message}")
        except TimeoutError:
            return report(HealthStatus.DOWN, _elapsed_ms(started), "timeout: no answer in time")
        except Exception as error:  # an adapter bug must not stop the other probes
            return report(HealthStatus.DOWN, _elapsed_ms(started), error.__class__.__name__)
        latency = _elapsed_ms(started)
        if latency > self._degraded_ms:
            slow = f"slow: answered in {latency} ms (degraded above {self._degraded_ms} ms)"
            return report(HealthStatus.DEGRADED, latency, slow, len(models))
        return report(HealthStatus.HEALTHY, latency, None, len(models))

    # The database --------------------------------------------------------------------

    def _targets(self, provider_ids: list[int] | None) -> list[_Target]:
        query = select(LLMProvider).order_by(LLMProvider.id)
        if provider_ids is None:
            query = query.where(LLMProvider.is_active.is_(True))
        else:
            query = query.where(LLMProvider.id.in_(provider_ids))
        with self._sessions() as session:
            providers = session.scalars(query).all()
            # Any of its model ids: a listing needs none, the mock adapter echoes it.
            model_ids = dict(
                session.execute(
                    select(LLMModel.provider_id, func.min(LLMModel.model_id)).group_by(
                        LLMModel.provider_id
                    )
                ).all()
            )
        return [self._target(row, model_ids.get(row.id) or "") for row in providers]

    def _target(self, row: LLMProvider, model: str) -> _Target:
        try:
            auth_type = AuthType(row.auth_type)
        except ValueError:
            auth_type = AuthType.BEARER
        key, problem = self._system_key(row)
        if key is None and problem is None and auth_type is not AuthType.NONE:
            problem = "no system API key configured: not probed"
        upstream = Upstream(
            provider_slug=row.provider_slug,
            base_url=row.base_url,
            model=model,
            api_key=key,
            auth_type=auth_type,
            config=dict(row.config or {}),
            connect_timeout_s=self._connect_timeout_s,
            timeout_s=self._timeout_s,
        )
        return _Target(row.id, row.provider_slug, row.api_format, upstream, problem)

    def _system_key(self, row: LLMProvider) -> tuple[str | None, str | None]:
        if not row.encrypted_api_key:
            return environment_key(row.provider_slug, row.config, os.environ), None
        if self._secrets is None:
            return None, "a system key is stored but ENCRYPTION_KEY is not set: not probed"
        try:
            return self._secrets.decrypt_secret(row.encrypted_api_key), None
        except SecretDecryptionError:
            return None, "the stored system key cannot be decrypted: not probed"

    def _record(self, report: HealthReport) -> None:
        now = bindparam("now", report.checked_at, type_=UTCDateTime())
        changed = LLMProvider.health_status != report.status.value
        with self._sessions() as session:
            previous = session.scalar(
                select(LLMProvider.health_status).where(LLMProvider.id == report.provider_id)
            )
            session.execute(
                update(LLMProvider)
                .where(LLMProvider.id == report.provider_id)
                .values(
                    health_status=report.status.value,
                    health_latency_ms=report.latency_ms,
                    health_error=report.error,
                    last_health_check_at=report.checked_at,
                    updated_at=case((changed, now), else_=LLMProvider.updated_at),
                )
            )
            session.commit()
        if previous != report.status.value:
            _log_transition(report, previous)

    def take_lease(self) -> tuple[bool, datetime]:
        """Take the job's lease for one interval if its holder's has run out. Returns whether
        it was taken, and when the current lease (ours or another's) runs out."""
        now = self._clock()
        until = now + timedelta(seconds=self.interval_s)
        with self._sessions() as session:
            taken = cast(
                "CursorResult[Any]",
                session.execute(
                    update(Lease)
                    .where(Lease.name == LEASE_NAME, Lease.expires_at <= now)
                    .values(holder=self.holder, expires_at=until)
                ),
            )
            if taken.rowcount == 1:
                session.commit()
                return True, until
            current = session.scalar(select(Lease.expires_at).where(Lease.name == LEASE_NAME))
            if current is not None:
                session.rollback()
                return False, current
            try:
                session.execute(
                    insert(Lease).values(name=LEASE_NAME, holder=self.holder, expires_at=until)
                )
                session.commit()
            except IntegrityError:  # another replica inserted it first
                session.rollback()
                return False, until
        return True, until

    # The background job --------------------------------------------------------------

    def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="provider-health-checker")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        # Database work already in a thread finishes: its connection must be back in the pool
        # before the pool is disposed.
        await asyncio.gather(*self._threads, return_exceptions=True)

    async def _in_thread(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        future = asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs))
        self._threads.add(future)
        future.add_done_callback(self._threads.discard)
        return await asyncio.shield(future)

    async def _run(self) -> None:
        jitter = random.Random()
        await asyncio.sleep(self.interval_s)
        while True:
            until = self._clock() + timedelta(seconds=self.interval_s)
            try:
                taken, until = await self._in_thread(self.take_lease)
                if taken:
                    reports = await self.check_all()
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
            except Exception as error:  # the database may be down: try again next interval
                log_event(
                    log, logging.WARNING, "health_check_round_failed", error=type(error).__name__
                )
            wait = (until - self._clock()).total_seconds()
            await asyncio.sleep(max(wait, 0.0) + jitter.uniform(0, min(1.0, self.interval_s / 10)))


def _log_transition(report: HealthReport, previous: str | None) -> None:
    """A provider's health changed: `report.error` is already scrubbed (`_scrub`)."""
    level = logging.INFO if report.status in _FINE else logging.WARNING
    log_event(
        log,
        level,
        "provider_health_changed",
        provider=report.provider_slug,
        provider_id=report.provider_id,
        old=previous,
        new=str(report.status),
        latency_ms=report.latency_ms,
        error=report.error,
    )


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _scrub(error: str | None, upstream: Upstream) -> str | None:
    """A short excerpt, without secrets: a provider may echo the key it was sent (only its
    mask is kept), or anything else shaped like one. Scrubbed whole, then cut: a cut first
    could leave part of a key that no longer looks like one."""
    if error is None:
        return None
    return scrub(error, (upstream.api_key,))[:_MAX_ERROR_CHARS]
