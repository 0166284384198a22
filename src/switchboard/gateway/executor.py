"""The executor: the one place a route plan meets I/O.

It walks the plan's candidates in order, skipping those with no usable key, and calls each
through its provider's adapter until one answers. A retryable failure (connection refused,
timeout, 429, 5xx, the provider rejecting its key or not knowing the model) before anything
was sent to the client moves on to the next candidate and counts towards that deployment's
cooldown; a failure that is the caller's fault (another 4xx) ends the request with the
provider's own error. Attempts are bounded by `max_attempts`; each may take `timeout_s`, and
the request as a whole no more than `max_attempts × timeout_s`.
A stream commits to its candidate once the first chunk has arrived: after that, no fallback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import aiohttp

from switchboard.catalog.system_keys import system_key_variables
from switchboard.errors import SwitchboardError
from switchboard.gateway.cooldowns import Cooldowns
from switchboard.gateway.keys import ByokKey
from switchboard.gateway.timing import elapsed_ms
from switchboard.gateway.upstreams import connect
from switchboard.logs import log_event
from switchboard.providers import AdapterRegistry, Completion, ProviderAdapter, Upstream
from switchboard.providers.base import JSON, ErrorKind, UpstreamError
from switchboard.routing import Candidate
from switchboard.vocabulary import KeySource

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Attempt:
    """A candidate that failed, or was not called, and why (already scrubbed of secrets)."""

    deployment: str
    """`provider_slug/model_id`."""
    reason: str
    kind: str | None = None
    """The error kind of a call that failed; None for a candidate not called."""

    def __str__(self) -> str:
        return f"{self.deployment}: {self.reason}"


@dataclass(slots=True)
class Trail:
    """What happened on the way: for headers, errors and the usage record."""

    attempts: int = 0
    failures: list[Attempt] = field(default_factory=list)
    """Candidates called that failed, with why."""
    skipped: list[Attempt] = field(default_factory=list)
    """Candidates not called (no usable key, no adapter), with why."""
    deadline_reached: bool = False
    upstream_s: float = 0.0

    def note(
        self, candidate: Candidate, why: str, *, kind: str | None = None, called: bool = True
    ) -> None:
        entry = Attempt(f"{candidate.provider.slug}/{candidate.model.model_id}", why, kind)
        (self.failures if called else self.skipped).append(entry)

    def detail(self) -> str:
        """Everything, for operators (the usage record, logs): each failure and skip with why,
        including which providers have no usable key."""
        entries = [str(entry) for entry in self.failures + self.skipped]
        if self.deadline_reached:
            entries.append("deadline reached")
        return "; ".join(entries)

    def summary(self) -> str:
        """For the caller: the deployments that failed and how, not the state of anyone's
        keys nor the providers' own words."""
        failed = ", ".join(f"{entry.deployment} ({entry.kind})" for entry in self.failures)
        text = f"fallback after {len(self.failures)} failed: {failed}" if failed else ""
        if self.deadline_reached:
            text += "; deadline reached" if text else "deadline reached"
        return text


@dataclass(frozen=True, slots=True)
class Prepared:
    """A candidate ready to call."""

    adapter: ProviderAdapter
    upstream: Upstream
    key_source: KeySource
    byok_key_id: int | None


@dataclass(frozen=True, slots=True)
class Unusable:
    """Why a candidate cannot be called."""

    reason: str


@dataclass(frozen=True, slots=True)
class Served:
    candidate: Candidate
    upstream: Upstream
    key_source: KeySource
    byok_key_id: int | None
    trail: Trail


class NoRouteError(SwitchboardError):
    """Nothing could be tried: no candidate, or none with a usable key."""

    def __init__(self, message: str, trail: Trail) -> None:
        super().__init__(message)
        self.trail = trail


class AllFailedError(SwitchboardError):
    """Every candidate tried failed with a retryable error."""

    def __init__(self, trail: Trail, last: UpstreamError) -> None:
        super().__init__(f"every candidate failed: {trail.detail()}")
        self.trail = trail
        self.last = last


class CallerFaultError(SwitchboardError):
    """The provider refused the request itself (a 4xx that another provider would refuse too)."""

    def __init__(self, error: UpstreamError, served: Served) -> None:
        super().__init__(error.message)
        self.error = error
        self.served = served


@dataclass(frozen=True, slots=True)
class Keys:
    system: Mapping[int, str]
    byok: Mapping[int, ByokKey]


class CallGate(Protocol):
    """Asked before each candidate is called (budgets and rate limits: `limits_gate`)."""

    async def before_call(self, candidate: Candidate, key_source: KeySource) -> str | None:
        """None: call it; a reason: skip it. May raise to end the request uncalled."""
        ...


class Executor:
    def __init__(
        self,
        *,
        http: aiohttp.ClientSession,
        adapters: AdapterRegistry,
        cooldowns: Cooldowns,
        max_attempts: int,
        timeout_s: float,
        connect_timeout_s: float,
    ) -> None:
        self._http = http
        self._adapters = adapters
        self._cooldowns = cooldowns
        self._max_attempts = max_attempts
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s

    async def complete(
        self, candidates: Iterable[Candidate], keys: Keys, body: JSON, gate: CallGate | None = None
    ) -> tuple[Completion, Served]:
        def call(adapter: ProviderAdapter, upstream: Upstream) -> Awaitable[Completion]:
            return adapter.complete(self._http, upstream, body)

        return await self._first_success(candidates, keys, call, gate)

    async def open_stream(
        self, candidates: Iterable[Candidate], keys: Keys, body: JSON, gate: CallGate | None = None
    ) -> tuple[JSON, AsyncIterator[JSON], Served]:
        """The first chunk, the rest of the stream, and who is serving it."""

        async def call(
            adapter: ProviderAdapter, upstream: Upstream
        ) -> tuple[JSON, AsyncIterator[JSON]]:
            chunks = _scrubbing(adapter.stream(self._http, upstream, body), upstream.api_key)
            try:
                first = await anext(chunks)
            except StopAsyncIteration:
                raise UpstreamError(
                    ErrorKind.PROTOCOL, f"{upstream.provider_slug} sent an empty stream"
                ) from None
            except BaseException:
                await _close(chunks)
                raise
            return first, chunks

        (first, rest), served = await self._first_success(candidates, keys, call, gate)
        return first, rest, served

    async def _first_success(
        self,
        candidates: Iterable[Candidate],
        keys: Keys,
        call: Callable[[ProviderAdapter, Upstream], Awaitable[T]],
        gate: CallGate | None = None,
    ) -> tuple[T, Served]:
        trail = Trail()
        # Each attempt has the whole timeout: one that timed out must leave the next candidate
        # time of its own, or a timeout could never fall back.
        deadline = time.monotonic() + self._timeout_s * self._max_attempts
        last_error: UpstreamError | None = None
        unsupported: CallerFaultError | None = None
        for candidate in candidates:
            if trail.attempts >= self._max_attempts:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                trail.deadline_reached = True
                break
            prepared = self._prepare(candidate, keys, min(self._timeout_s, remaining))
            if isinstance(prepared, Unusable):
                trail.note(candidate, prepared.reason, called=False)
                continue
            if gate is not None and (
                held := await gate.before_call(candidate, prepared.key_source)
            ):
                trail.note(candidate, held, called=False)
                continue
            adapter, upstream = prepared.adapter, prepared.upstream
            served = Served(candidate, upstream, prepared.key_source, prepared.byok_key_id, trail)
            trail.attempts += 1
            started = time.perf_counter()
            try:
                result = await call(adapter, upstream)
            except UpstreamError as raised:
                trail.upstream_s += time.perf_counter() - started
                # A provider may repeat the key it was sent: nothing below sees it.
                error = raised.scrubbed((upstream.api_key,))
                if error.kind is ErrorKind.UNSUPPORTED:
                    # Refused before any call: another candidate may honour the parameter.
                    trail.attempts -= 1
                    trail.note(candidate, error.message, called=False)
                    unsupported = unsupported or CallerFaultError(error, served)
                    continue
                self._failed(served, error, started)
                if not error.retryable:
                    raise CallerFaultError(error, served) from None
                last_error = error
                continue
            trail.upstream_s += time.perf_counter() - started
            self._cooldowns.record_success(candidate.provider.id, candidate.model.id)
            return result, served
        if last_error is None and unsupported is not None:
            raise unsupported
        if last_error is None:
            reasons = dict.fromkeys(entry.reason for entry in trail.skipped)
            raise NoRouteError("; ".join(reasons) or "no candidate could be tried", trail)
        raise AllFailedError(trail, last_error)

    def _failed(self, served: Served, error: UpstreamError, started: float) -> None:
        """Log a failed call; a retryable failure also counts towards the cooldown."""
        candidate = served.candidate
        log_event(
            log,
            logging.WARNING if error.retryable else logging.INFO,
            "provider_call_failed" if error.retryable else "provider_refused_request",
            provider=candidate.provider.slug,
            model=candidate.model.model_id,
            attempt=served.trail.attempts,
            kind=str(error.kind),
            status=error.status,
            retry_after_s=error.retry_after_s,
            key_source=str(served.key_source),
            elapsed_ms=elapsed_ms(started),
            error=error.message,
        )
        if not error.retryable:
            return
        served.trail.note(candidate, error.message, kind=error.kind)
        self._cooldowns.record_failure(
            candidate.provider.id,
            candidate.model.id,
            provider_wide=error.provider_wide,
            retry_after_s=error.retry_after_s,
            reason=str(error.kind),
        )

    def _prepare(self, candidate: Candidate, keys: Keys, remaining_s: float) -> Prepared | Unusable:
        """What calling `candidate` needs, or why it cannot be called."""
        provider = candidate.provider
        byok = keys.byok.get(provider.id) if candidate.key_source is KeySource.BYOK else None
        api_key = byok.secret if byok is not None else keys.system.get(provider.id)
        connection = connect(
            self._adapters,
            provider,
            model=candidate.model.model_id,
            api_key=api_key,
            timeout_s=remaining_s,
            connect_timeout_s=self._connect_timeout_s,
        )
        if isinstance(connection, str):
            return Unusable(connection)
        if api_key is None and provider.needs_key:
            variable = system_key_variables(provider.slug, provider.config)[0]
            return Unusable(
                f"no usable key: set {variable} or store a system key for {provider.slug!r}"
            )
        adapter, upstream = connection.adapter, connection.upstream
        if byok is not None:
            return Prepared(adapter, upstream, KeySource.BYOK, byok.key_id)
        return Prepared(adapter, upstream, KeySource.SYSTEM, None)


async def _scrubbing(chunks: AsyncIterator[JSON], secret: str | None) -> AsyncIterator[JSON]:
    """`chunks`, with the key masked in the text of any error it raises (before or after the
    first chunk)."""
    try:
        async for chunk in chunks:
            yield chunk
    except UpstreamError as error:
        raise error.scrubbed((secret,)) from None
    finally:
        await _close(chunks)


async def _close(chunks: AsyncIterator[JSON]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
