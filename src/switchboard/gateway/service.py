"""`Gateway`: everything one process needs to serve requests, built once at start, and the
one face the HTTP surfaces see of it.

Serving: `route` plans a request (an OpenAI-format body from a verified principal) and
`complete` or `open_stream` carries the plan out; the API surfaces (OpenAI, Anthropic)
translate to and from that format. Every request that reaches them yields exactly one usage
record (`record`), appended to the spool before the response completes.

The edge: authenticating a virtual key, probing a provider now, checking a key a user brings,
the current provider health, forgetting what was cached of a user, readiness, and the
settings, session factory and secret manager. The collaborators behind these (the catalog,
key cache, cooldowns, executor, usage spool and writer, health check) are the gateway's own.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, replace

import aiohttp
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from switchboard.catalog.snapshot import CatalogSnapshot
from switchboard.change_notices import announce_changes
from switchboard.gateway.access_log import AccessLog
from switchboard.gateway.catalog_state import CatalogState
from switchboard.gateway.change_listener import ChangeListener
from switchboard.gateway.cooldowns import Cooldowns
from switchboard.gateway.estimate import (
    answer_chars,
    estimate_prompt_tokens,
    estimate_tokens,
    requested_output_tokens,
    tokens_for_chars,
    wants_json,
    wants_tools,
    wants_vision,
)
from switchboard.gateway.executor import Executor, Keys, Served, Trail
from switchboard.gateway.health_loop import LEASE_NAME, HealthCheckLoop
from switchboard.gateway.health_probe import HealthProbe, HealthReport
from switchboard.gateway.job_lease import JobLease
from switchboard.gateway.key_check import check_key
from switchboard.gateway.keys import (
    KeyCache,
    Principal,
    key_allowance,
    tier_allowance,
    user_allowance,
)
from switchboard.gateway.limits_gate import (
    BudgetState,
    LimitsGate,
    SettledBudgets,
    SettledListener,
    build_limiter,
)
from switchboard.gateway.stream_session import StreamSession
from switchboard.gateway.token_limits import raise_if_too_large
from switchboard.gateway.upstreams import StoredProvider
from switchboard.gateway.usage_records import RequestIds, RequestMeta, Route, record_for
from switchboard.jobs import DatabaseWork
from switchboard.limits import Budget, Scope
from switchboard.logs import log_event
from switchboard.metrics.recorder import (
    DisabledMetrics,
    GatewayMetrics,
    PrometheusMetrics,
    ServingState,
    Timing,
)
from switchboard.models import TierLimit, User, VirtualKey
from switchboard.providers import AdapterRegistry, Completion, Usage
from switchboard.providers.base import JSON
from switchboard.routing import (
    HealthView,
    NamedModelError,
    RoutePlan,
    RouteRequest,
    plan_named,
    plan_route,
    token_misfit,
)
from switchboard.secrets import SecretManager, configured_secret_manager
from switchboard.settings import Settings
from switchboard.usage.record import UsageRecord
from switchboard.usage.spool import UsageSpool
from switchboard.usage.writer import UsageWriter
from switchboard.vocabulary import PowerLevel, Tier, normalize_task_type

log = logging.getLogger(__name__)

AUTO = "auto"


@dataclass(frozen=True, slots=True)
class Readiness:
    catalog_version: int
    database_ok: bool
    usage_writer_error: str | None
    spool_segments: int
    """Spool segments sealed and not yet stored in the database."""
    limits: str = "process"
    """Where budgets and rate limits are counted: `process` (no REDIS_URL), `redis`, or
    `degraded` (Redis unreachable: per process, or refusing, per LIMITS_WHEN_REDIS_DOWN)."""


class Gateway:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        http: aiohttp.ClientSession,
        adapters: AdapterRegistry | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.secrets: SecretManager | None = configured_secret_manager(settings)
        """ENCRYPTION_KEY's secret manager, built once here; None when it is not set."""
        self._http = http
        self._adapters = adapters or AdapterRegistry()
        self._catalog = CatalogState(sessions, settings, self.secrets)
        self._keys = KeyCache(sessions, self.secrets, ttl_s=settings.key_cache_ttl_s)
        self._cooldowns = Cooldowns(
            failures_to_trip=settings.cooldown_failures,
            cooldown_s=settings.cooldown_s,
            names=self._catalog.names,
        )
        self._executor = Executor(
            http=http,
            adapters=self._adapters,
            cooldowns=self._cooldowns,
            max_attempts=settings.max_attempts,
            timeout_s=settings.request_timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
        )
        self._spool = UsageSpool(settings.spool_dir)
        self._writer = UsageWriter(
            self._spool, sessions, interval_s=settings.usage_flush_interval_s
        )
        self._limits = LimitsGate(settings, sessions, limiter=build_limiter(settings))
        self._work = DatabaseWork()
        self._probe = HealthProbe(
            sessions,
            settings,
            secrets=self.secrets,
            adapters=self._adapters,
            http=http,
            work=self._work,
        )
        lease = JobLease(sessions, name=LEASE_NAME, duration_s=settings.health_check_interval_s)
        self._health_loop = HealthCheckLoop(self._probe, lease, work=self._work)
        self._request_ids = RequestIds()
        self._access_log = AccessLog(self._catalog.names)
        self._metrics: GatewayMetrics = (
            PrometheusMetrics() if settings.metrics_enabled else DisabledMetrics()
        )
        self._observing = settings.metrics_enabled
        self._rng = rng or random.Random()
        self._poller: asyncio.Task[None] | None = None
        self._changes = ChangeListener(settings)
        announce_changes(sessions, settings)

    async def start(self) -> None:
        """Load the catalog, store what a previous run left in the spool, start the workers."""
        snapshot = (await asyncio.to_thread(self._catalog.load)).snapshot
        self._keys.follow(self._catalog.credentials_revision)
        stored = await asyncio.to_thread(self._writer.drain)
        self._writer.start()
        self._poller = asyncio.create_task(self._poll_catalog(), name="catalog-poller")
        self._changes.start()
        self._health_loop.start()
        log_event(
            log,
            logging.INFO,
            "gateway_started",
            providers=len(snapshot.providers),
            models=len(snapshot.models),
            rules=len(snapshot.rules),
            usage_records_recovered=stored,
        )

    async def close(self) -> None:
        await self._health_loop.close()
        await self._changes.close()
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        # Database work already in its thread (a catalog refresh, a probe) finishes first: its
        # connection must be back in the pool before the pool is disposed, or it is leaked.
        await self._work.finish()
        await self._limits.close()
        await asyncio.to_thread(self._writer.stop)
        self._spool.close()
        if self._poller is not None:  # started: what this process counted stays counted
            self._flush_metrics_safely()
        self._metrics.close()
        log_event(
            log,
            logging.INFO,
            "gateway_stopped",
            spool_segments=len(self._spool.sealed_segments()),
        )

    # Routing -------------------------------------------------------------------------

    async def route(self, principal: Principal, body: JSON, task_type: str | None) -> Route:
        """The plan for `body`: by power level (`eco`, `balanced`, `precision`, `auto`) or by
        the model names in `model` / `models`. Raises NamedModelError for names that fail,
        and TokenLimitError when the request is too large for every model that could serve
        it otherwise (a model's output limit or context window, a rule's token bounds)."""
        byok = await self._keys.byok_keys(principal.user_id)
        names = _requested_names(body)
        power = _power_level(names, principal)
        request = RouteRequest(
            user_tier=principal.tier,
            power_level=power or PowerLevel.BALANCED,
            task_type=normalize_task_type(task_type),
            estimated_tokens=estimate_tokens(body),
            max_output_tokens=requested_output_tokens(body),
            require_streaming=bool(body.get("stream")),
            require_function_calling=wants_tools(body),
            require_vision=wants_vision(body),
            require_json_mode=wants_json(body),
        )
        view = self._catalog.current
        snapshot = view.snapshot
        health = self._cooldowns.view()
        byok_providers = frozenset(byok)
        plan: RoutePlan
        if power is not None:
            plan = plan_route(
                snapshot, request, byok_providers=byok_providers, health=health, rng=self._rng
            )
            if plan.choice is None:
                misfit = token_misfit(snapshot, request, byok_providers=byok_providers)
                raise_if_too_large(misfit, request, body)
        else:
            try:
                plan = plan_named(
                    snapshot, names, request, byok_providers=byok_providers, health=health
                )
            except NamedModelError as error:
                raise_if_too_large(error.misfit, request, body)
                raise
        keys = Keys(system=view.system_keys, byok=byok)
        return Route(plan=plan, keys=keys, power_level=power, task_type=request.task_type)

    # Serving -------------------------------------------------------------------------

    async def complete(
        self, meta: RequestMeta, principal: Principal, route: Route, body: JSON
    ) -> tuple[Completion, Served]:
        completion, served = await self._executor.complete(route.plan, route.keys, body, route.gate)
        usage = completion.usage or _estimate(body, completion.body)
        self.record(
            record_for(
                meta,
                principal,
                route,
                served,
                usage,
                estimated=completion.usage is None,
                status_code=200,
            ),
            meta,
            served.trail,
        )
        return completion, served

    async def open_stream(
        self, meta: RequestMeta, principal: Principal, route: Route, body: JSON
    ) -> StreamSession:
        first, rest, served = await self._executor.open_stream(
            route.plan, route.keys, body, route.gate
        )
        return StreamSession(self.record, meta, principal, route, body, first, rest, served)

    def record(
        self,
        record: UsageRecord,
        meta: RequestMeta,
        trail: Trail | None = None,
        first_token_at: float | None = None,
    ) -> None:
        """The request of `meta` ended with `record`: spooled (the bill), settled against its
        limits, logged and counted. `trail`: its provider calls, if any were made;
        `first_token_at`: a stream's first chunk (`time.perf_counter()`)."""
        try:
            self._spool.append(record)
        finally:  # even when the spool cannot take it, the request holds its limits no more
            self._limits.settle(record)
        self._access_log.write(record)
        if self._observing:
            self._observe(record, meta, trail, first_token_at)

    def _observe(
        self,
        record: UsageRecord,
        meta: RequestMeta,
        trail: Trail | None,
        first_token_at: float | None,
    ) -> None:
        duration = time.perf_counter() - meta.started
        called = trail.upstream_s if trail is not None and trail.attempts else None
        if first_token_at is None:
            overhead = max(0.0, duration - (called or 0.0))
            upstream = called
        else:  # a stream: the gateway's part ends at the first chunk, the provider's after
            overhead = max(0.0, first_token_at - meta.started - (called or 0.0))
            upstream = duration - overhead
        provider, _ = self._catalog.names(record.provider_id, None)
        self._metrics.observe_request(
            record,
            provider=provider,
            surface=meta.surface,
            timing=Timing(duration, upstream, overhead),
        )

    @property
    def metrics(self) -> GatewayMetrics:
        """The process's metrics (no-ops when METRICS_ENABLED is false)."""
        return self._metrics

    def flush_metrics(self) -> None:
        """Hand what requests counted, and the state of cooldowns, provider health and the
        spool, to the exported metrics (the catalog poll does it every interval)."""
        health = self._cooldowns.view()
        backlog = self._writer.backlog
        providers = self.snapshot.providers.values()
        self._metrics.flush(
            ServingState(
                cooling_providers=len(health.cooling_providers),
                cooling_models=len(health.cooling_models),
                provider_health={p.slug: str(p.health_status) for p in providers},
                spool_segments=backlog.segments,
                writer_lag_s=backlog.oldest_age_s,
            )
        )

    def _flush_metrics_safely(self) -> None:
        """A failed flush (the metrics directory gone, a full disk) costs a scrape's
        freshness, never the catalog poll it runs in."""
        try:
            self.flush_metrics()
        except Exception as error:
            log_event(log, logging.WARNING, "metrics_flush_failed", error=type(error).__name__)

    async def scrape_metrics(self) -> bytes:
        """`/metrics`: flushed first, read in a thread (under several workers it reads
        every worker's file)."""
        self.flush_metrics()
        return await asyncio.to_thread(self._metrics.scrape)

    def limited(self, route: Route, request_id: str, principal: Principal, body: JSON) -> Route:
        """`route` with the request's budgets and rate limits, checked (in one round trip)
        before its first provider call: `LimitRefusedError` when one does not hold."""
        gate = self._limits.gate(request_id, principal, body)
        return route if gate is None else replace(route, gate=gate)

    @property
    def limits(self) -> LimitsGate:
        """Budgets and rate limits: what applies to whom, and the counters (spend)."""
        return self._limits

    def watch_settled(self, listener: SettledListener) -> None:
        """Tell `listener` of every request settled with a cost against a budget (on the
        event loop, after the response: it schedules what it does, and must not block)."""
        self._limits.on_settled(listener)

    async def settled_standings(self, settled: SettledBudgets) -> list[BudgetState]:
        """The budgets of a settled request, spend counted once its settlement is in."""
        return await self._limits.standings(settled)

    async def budget_standings(self, user_id: str) -> list[BudgetState]:
        """The user's budget (their own, else their tier's) and their keys' own budgets, each
        in its current period; none for an unknown or deactivated user."""
        found = await self._work.run(self._budgets_of, user_id)
        if found is None:
            return []
        tier, budgets = found
        return [await self._limits.standing(user_id, tier, budget) for budget in budgets]

    def _budgets_of(self, user_id: str) -> tuple[Tier, list[Budget]] | None:
        with self.sessions() as session:
            user = session.get(User, user_id)
            if user is None or not user.is_active:
                return None
            tier = Tier(user.tier)
            stored = tier_allowance(session.get(TierLimit, user.tier))
            budgets = [self._limits.user_budget(user_id, tier, user_allowance(user), stored)]
            keys = session.scalars(
                select(VirtualKey).where(
                    VirtualKey.user_id == user_id,
                    VirtualKey.is_revoked.is_(False),
                    VirtualKey.budget_usd.is_not(None),
                )
            )
            budgets += [key_allowance(key).budget(Scope.KEY, str(key.id)) for key in keys]
        return tier, [budget for budget in budgets if budget is not None]

    def new_request_id(self) -> str:
        return self._request_ids.new()

    # The edge ------------------------------------------------------------------------

    async def authenticate(self, token: str) -> Principal:
        """The principal a virtual key stands for. InvalidKeyError when the key is unknown,
        revoked or expired, or its user deactivated; KeyStoreUnavailableError when it cannot
        be checked now."""
        return await self._keys.authenticate(token)

    @property
    def snapshot(self) -> CatalogSnapshot:
        """The catalog requests are routed over now."""
        return self._catalog.current.snapshot

    def stored_snapshot(self, session: Session) -> CatalogSnapshot | None:
        """The snapshot routed over now if the catalog stored now is still that one, else
        None (a change not yet polled): see `CatalogState.unchanged_snapshot`."""
        return self._catalog.unchanged_snapshot(session)

    def provider_health(self) -> HealthView:
        """What routing reads of providers' and models' health now (cooldowns included)."""
        return self._cooldowns.view()

    def speaks_format(self, api_format: str) -> bool:
        """Whether an adapter speaks the wire format."""
        return self._adapters.for_format(api_format) is not None

    async def probe_provider(self, provider_id: int) -> HealthReport:
        """Probe the provider (active or not) now and store the result; NotFoundError when
        there is no such provider."""
        return await self._probe.check_provider(provider_id)

    async def validate_key(self, provider: StoredProvider, api_key: str) -> str | None:
        """Call the provider with a key a user brings (a model listing: not billed). None when
        it accepted the key, else why not."""
        return await check_key(
            self._adapters,
            self._http,
            provider,
            api_key,
            connect_timeout_s=self.settings.connect_timeout_s,
        )

    def forget_user(self, user_id: str) -> None:
        """The user, one of their virtual keys or one of their own provider keys changed: this
        process reads what it cached of them again before using it (other processes follow
        the `credentials` change counter). Call it on the gateway's event loop."""
        self._keys.user_changed(user_id)

    async def readiness(self) -> Readiness:
        return Readiness(
            catalog_version=self.snapshot.version,
            database_ok=await asyncio.to_thread(self._database_answers),
            usage_writer_error=self._writer.last_error,
            spool_segments=len(self._spool.sealed_segments()),
            limits=self._limits.state,
        )

    # Background ----------------------------------------------------------------------

    async def _poll_catalog(self) -> None:
        interval = self.settings.catalog_poll_interval_s
        failing = False
        while True:
            await self._changes.wait(interval)  # a change notice cuts the wait short
            self._flush_metrics_safely()
            try:
                await self._work.run(self._catalog.refresh_if_changed)
                if failing:
                    log_event(log, logging.INFO, "catalog_poll_recovered")
                failing = False
            except Exception as error:  # keep serving from the snapshot we have
                if not failing:
                    log_event(
                        log, logging.WARNING, "catalog_poll_failed", error=type(error).__name__
                    )
                failing = True
            finally:  # what the poll read of the keys counts even if the catalog failed to load
                self._keys.follow(self._catalog.credentials_revision)

    def _database_answers(self) -> bool:
        try:
            with self.sessions() as session:
                session.execute(text("SELECT 1"))
        except Exception:
            return False
        return True


def _requested_names(body: JSON) -> list[str]:
    models = body.get("models")
    if isinstance(models, list) and models:
        return [str(name) for name in models]
    return [str(body.get("model") or AUTO)]


def _power_level(names: list[str], principal: Principal) -> PowerLevel | None:
    """The power level asked for, or None when the request names models."""
    if len(names) != 1:
        return None
    name = names[0].strip().lower()
    if name == AUTO:
        return principal.default_power_level or PowerLevel.BALANCED
    try:
        return PowerLevel(name)
    except ValueError:
        return None


def _estimate(body: JSON, answer: JSON) -> Usage:
    """Usage for a provider that reported none: the documented estimate, both ways."""
    chars = sum(answer_chars(choice.get("message") or {}) for choice in answer.get("choices") or ())
    return Usage(
        prompt_tokens=estimate_prompt_tokens(body),
        completion_tokens=tokens_for_chars(chars),
    )
