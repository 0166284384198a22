"""`Gateway`: everything one process needs to serve requests, built once at start.

`handle` methods take an OpenAI-format body and a verified principal; the API surfaces
(OpenAI, Anthropic) translate to and from it. Every request that reaches them yields exactly
one usage record, appended to the spool before the response completes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import aiohttp
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from switchboard.gateway.access_log import AccessLog
from switchboard.gateway.catalog_state import CatalogState
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
from switchboard.gateway.executor import Executor, Keys, Served
from switchboard.gateway.health_checker import HealthChecker
from switchboard.gateway.keys import KeyCache, Principal
from switchboard.gateway.limits_gate import LimitsGate, build_limiter
from switchboard.gateway.token_limits import raise_if_too_large
from switchboard.gateway.usage_records import RequestIds, RequestMeta, Route, record_for
from switchboard.logs import log_event
from switchboard.providers import AdapterRegistry, Completion, Usage
from switchboard.providers.base import JSON
from switchboard.routing import (
    NamedModelError,
    RoutePlan,
    RouteRequest,
    plan_named,
    plan_route,
    token_misfit,
)
from switchboard.secrets import SecretManager
from switchboard.settings import Settings
from switchboard.usage.record import UsageRecord
from switchboard.usage.spool import UsageSpool
from switchboard.usage.writer import UsageWriter
from switchboard.vocabulary import PowerLevel, normalize_task_type

log = logging.getLogger(__name__)

AUTO = "auto"


class Gateway:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        secrets: SecretManager | None,
        http: aiohttp.ClientSession,
        adapters: AdapterRegistry | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.http = http
        self.catalog = CatalogState(sessions, settings, secrets)
        self.keys = KeyCache(sessions, secrets, ttl_s=settings.key_cache_ttl_s)
        self.cooldowns = Cooldowns(
            failures_to_trip=settings.cooldown_failures,
            cooldown_s=settings.cooldown_s,
            names=self.catalog.names,
        )
        self.adapters = adapters or AdapterRegistry()
        self.executor = Executor(
            http=http,
            adapters=self.adapters,
            cooldowns=self.cooldowns,
            max_attempts=settings.max_attempts,
            timeout_s=settings.request_timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
        )
        self.spool = UsageSpool(settings.spool_dir)
        self.writer = UsageWriter(self.spool, sessions, interval_s=settings.usage_flush_interval_s)
        self.health_checker = HealthChecker(
            sessions, settings, secrets=secrets, adapters=self.adapters, http=http
        )
        self.database_ok = True
        self._limits = LimitsGate(settings, sessions, limiter=build_limiter(settings))
        self.request_ids = RequestIds()
        self.access_log = AccessLog(self.catalog.names)
        self._rng = rng or random.Random()
        self._poller: asyncio.Task[None] | None = None
        self._refreshing: asyncio.Future[bool] | None = None

    async def start(self) -> None:
        """Load the catalog, store what a previous run left in the spool, start the workers."""
        snapshot = (await asyncio.to_thread(self.catalog.load)).snapshot
        self.keys.follow(self.catalog.credentials_revision)
        stored = await asyncio.to_thread(self.writer.drain)
        self.writer.start()
        self._poller = asyncio.create_task(self._poll_catalog(), name="catalog-poller")
        self.health_checker.start()
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
        await self.health_checker.close()
        if self._poller is not None:
            self._poller.cancel()
            # A refresh already in its thread finishes first: its connection must be back in
            # the pool before the pool is disposed, or it is leaked.
            await asyncio.gather(self._poller, return_exceptions=True)
            if self._refreshing is not None:
                await asyncio.gather(self._refreshing, return_exceptions=True)
        await self._limits.close()
        await asyncio.to_thread(self.writer.stop)
        self.spool.close()
        log_event(
            log,
            logging.INFO,
            "gateway_stopped",
            spool_segments=len(self.spool.sealed_segments()),
        )

    # Routing -------------------------------------------------------------------------

    async def route(self, principal: Principal, body: JSON, task_type: str | None) -> Route:
        """The plan for `body`: by power level (`eco`, `balanced`, `precision`, `auto`) or by
        the model names in `model` / `models`. Raises NamedModelError for names that fail,
        and TokenLimitError when the request is too large for every model that could serve
        it otherwise (a model's output limit or context window, a rule's token bounds)."""
        byok = await self.keys.byok_keys(principal.user_id)
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
        view = self.catalog.current
        snapshot = view.snapshot
        health = self.cooldowns.view()
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
        completion, served = await self.executor.complete(route.plan, route.keys, body, route.gate)
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
            )
        )
        return completion, served

    async def open_stream(
        self, meta: RequestMeta, principal: Principal, route: Route, body: JSON
    ) -> StreamSession:
        first, rest, served = await self.executor.open_stream(
            route.plan, route.keys, body, route.gate
        )
        return StreamSession(self, meta, principal, route, body, first, rest, served)

    def record(self, record: UsageRecord) -> None:
        self.spool.append(record)
        self._limits.settle(record)
        self.access_log.write(record)

    def limited(self, route: Route, request_id: str, principal: Principal, body: JSON) -> Route:
        """`route` with the request's budgets and rate limits, checked (in one round trip)
        before its first provider call: `LimitRefusedError` when one does not hold."""
        gate = self._limits.gate(request_id, principal, body)
        return route if gate is None else replace(route, gate=gate)

    @property
    def limits(self) -> LimitsGate:
        """Budgets and rate limits: what applies to whom, and the counters (spend)."""
        return self._limits

    async def _poll_catalog(self) -> None:
        interval = self.settings.catalog_poll_interval_s
        failing = False
        while True:
            await asyncio.sleep(interval)
            try:
                refresh = asyncio.ensure_future(asyncio.to_thread(self.catalog.refresh_if_changed))
                self._refreshing = refresh
                await asyncio.shield(refresh)
                self.database_ok = True
                if failing:
                    log_event(log, logging.INFO, "catalog_poll_recovered")
                failing = False
            except Exception as error:  # keep serving from the snapshot we have
                if not failing:
                    log_event(
                        log, logging.WARNING, "catalog_poll_failed", error=type(error).__name__
                    )
                self.database_ok = False
                failing = True
            finally:  # what the poll read of the keys counts even if the catalog failed to load
                self.keys.follow(self.catalog.credentials_revision)

    def check_database(self) -> bool:
        try:
            with self.sessions() as session:
                session.execute(text("SELECT 1"))
        except Exception:
            self.database_ok = False
        else:
            self.database_ok = True
        return self.database_ok


@dataclass(slots=True)
class _Progress:
    usage: Usage | None = None
    text_chars: int = 0
    first_token_at: float | None = None
    recorded: bool = False


class StreamSession:
    """A stream committed to one candidate. Iterating `chunks()` relays it; however it ends
    (finished, failed upstream, or cut off by the client) one usage record is written."""

    def __init__(
        self,
        gateway: Gateway,
        meta: RequestMeta,
        principal: Principal,
        route: Route,
        body: JSON,
        first: JSON,
        rest: AsyncIterator[JSON],
        served: Served,
    ) -> None:
        self.gateway, self.meta, self.principal, self.route = gateway, meta, principal, route
        self.body, self.served = body, served
        self._first, self._rest = first, rest
        self._progress = _Progress(first_token_at=time.perf_counter())

    async def chunks(self) -> AsyncIterator[JSON]:
        try:
            yield self._observe(self._first)
            async for chunk in self._rest:
                yield self._observe(chunk)
            self._record(200, None)
        except Exception as error:  # the provider failed mid-stream: bill what was streamed
            self._record(502, str(getattr(error, "kind", error.__class__.__name__)))
            raise
        finally:
            if not self._progress.recorded:  # cancelled: the client went away
                self._record(499, "client_disconnected")
            aclose = getattr(self._rest, "aclose", None)
            if aclose is not None:
                await aclose()

    def _observe(self, chunk: JSON) -> JSON:
        if chunk.get("usage"):
            self._progress.usage = Usage.from_openai(chunk["usage"])
        for choice in chunk.get("choices") or ():
            self._progress.text_chars += answer_chars(choice.get("delta") or {})
        return chunk

    def _record(self, status: int, error_type: str | None) -> None:
        progress = self._progress
        progress.recorded = True
        usage = progress.usage
        estimated = usage is None
        if usage is None:
            usage = Usage(
                prompt_tokens=estimate_prompt_tokens(self.body),
                completion_tokens=tokens_for_chars(progress.text_chars),
            )
        self.gateway.record(
            record_for(
                self.meta,
                self.principal,
                self.route,
                self.served,
                usage,
                estimated=estimated,
                status_code=status,
                error_type=error_type,
                first_token_at=progress.first_token_at,
            )
        )


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
