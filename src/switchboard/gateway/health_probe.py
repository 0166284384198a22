"""Provider health: a real, non-billed probe of a provider, stored on its row.

A probe asks the provider's adapter to list its models (`GET {base_url}/models` for
OpenAI-compatible providers) with the provider's system key, and classifies the outcome:

- `healthy`: it answered within `health_check_degraded_ms`;
- `degraded`: it answered, but slowly, or with a non-fatal refusal (rate limited, the listing
  not found, a bad request): it is reachable and may well serve;
- `down`: it could not be reached, timed out, failed (5xx), rejected its key, or sent
  nonsense; the routing engine then tries it last (it reads the status from the snapshot);
- `unknown`: it could not be probed (no system key, a key that cannot be decrypted, no
  adapter for its wire format, an `auth_type` nobody knows how to send a key with).

The result goes to `health_status`, `health_latency_ms`, `health_error` and
`last_health_check_at`. `updated_at` moves only when the status changes, so every replica
reloads its catalog when, and only when, routing has something new to read. A change of
status is logged. (`health_loop` runs the probe of every active provider in the background.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from switchboard._types import UTCDateTime, utcnow
from switchboard.catalog.system_keys import system_key
from switchboard.errors import ConfigurationError, NotFoundError, SecretDecryptionError
from switchboard.gateway.timing import elapsed_ms
from switchboard.gateway.upstreams import Connection, Endpoint, connect
from switchboard.jobs import DatabaseWork
from switchboard.logs import log_event
from switchboard.models import LLMModel, LLMProvider
from switchboard.providers import AdapterRegistry, ErrorKind, UpstreamError
from switchboard.redaction import scrub
from switchboard.secrets import SecretManager
from switchboard.settings import Settings
from switchboard.vocabulary import AuthType, HealthStatus

log = logging.getLogger(__name__)

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
    """One provider to probe, read from its row: how to call it, or why it cannot be."""

    provider_id: int
    slug: str
    call: Connection | str


class HealthProbe:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        secrets: SecretManager | None,
        adapters: AdapterRegistry,
        http: aiohttp.ClientSession,
        work: DatabaseWork | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._secrets = secrets
        self._adapters = adapters
        self._http = http
        self._timeout_s = settings.health_check_timeout_s
        self._degraded_ms = settings.health_check_degraded_ms
        self._work = work or DatabaseWork()
        self._clock = clock

    async def check_provider(self, provider_id: int) -> HealthReport:
        """Probe one provider (active or not) now and store the result."""
        targets = await self._work.run(self._targets, [provider_id])
        if not targets:
            raise NotFoundError(f"provider {provider_id} does not exist")
        return await self._check(targets[0])

    async def check_all(self) -> list[HealthReport]:
        """Probe every active provider now, concurrently, and store the results."""
        targets = await self._work.run(self._targets, None)
        return list(await asyncio.gather(*(self._check(target) for target in targets)))

    async def _check(self, target: _Target) -> HealthReport:
        report = await self._probe(target)
        await self._work.run(self._record, report)
        return report

    async def _probe(self, target: _Target) -> HealthReport:
        call = target.call
        if isinstance(call, str):
            return self._report(target, HealthStatus.UNKNOWN, None, call)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s + 1):
                models = await call.adapter.list_models(self._http, call.upstream)
        except UpstreamError as error:
            status = HealthStatus.DEGRADED if error.kind in _NON_FATAL else HealthStatus.DOWN
            why = f"{error.kind}: {error.message}"
            return self._report(target, status, elapsed_ms(started), why)
        except TimeoutError:
            why = "timeout: no answer in time"
            return self._report(target, HealthStatus.DOWN, elapsed_ms(started), why)
        except Exception as error:  # an adapter bug must not stop the other probes
            why = error.__class__.__name__
            return self._report(target, HealthStatus.DOWN, elapsed_ms(started), why)
        latency = elapsed_ms(started)
        if latency > self._degraded_ms:
            slow = f"slow: answered in {latency} ms (degraded above {self._degraded_ms} ms)"
            return self._report(target, HealthStatus.DEGRADED, latency, slow, len(models))
        return self._report(target, HealthStatus.HEALTHY, latency, None, len(models))

    def _report(
        self,
        target: _Target,
        status: HealthStatus,
        latency_ms: int | None,
        error: str | None,
        models_found: int | None = None,
    ) -> HealthReport:
        api_key = target.call.upstream.api_key if isinstance(target.call, Connection) else None
        return HealthReport(
            provider_id=target.provider_id,
            provider_slug=target.slug,
            status=status,
            latency_ms=latency_ms,
            error=_scrub(error, api_key),
            checked_at=self._clock(),
            models_found=models_found,
        )

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
        endpoint = Endpoint.of(row)
        try:
            key = system_key(
                row, secrets=self._secrets, environ=self._settings.provider_key_environment()
            )
        except ConfigurationError as error:
            return _Target(row.id, row.provider_slug, f"{error}: not probed")
        except SecretDecryptionError:
            why = "the stored system key cannot be decrypted: not probed"
            return _Target(row.id, row.provider_slug, why)
        if key is None and endpoint.auth_type not in (AuthType.NONE, None):
            return _Target(row.id, row.provider_slug, "no system API key configured: not probed")
        call = connect(
            self._adapters,
            endpoint,
            model=model,
            api_key=key,
            timeout_s=self._timeout_s,
            connect_timeout_s=self._settings.connect_timeout_s,
        )
        return _Target(row.id, row.provider_slug, call)

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


def _scrub(error: str | None, api_key: str | None) -> str | None:
    """A short excerpt, without secrets: a provider may echo the key it was sent (only its
    mask is kept), or anything else shaped like one. Scrubbed whole, then cut: a cut first
    could leave part of a key that no longer looks like one."""
    if error is None:
        return None
    return scrub(error, (api_key,))[:_MAX_ERROR_CHARS]
