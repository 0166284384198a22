"""What the gateway tells its metrics: a request ended (its usage record, the very one the
database stores, so that the counters and the usage rows agree), a request began or ended
on the wire, and now and then the state of the process (cooldowns, provider health, the
spool). `PrometheusMetrics` keeps them; `DisabledMetrics` (METRICS_ENABLED=false) does
nothing.

Every request pays for this, so a request only adds to plain numbers of its label set's
`_Series` (found with one dictionary lookup): prometheus_client's own counters take a lock
and, under several workers, write a memory-mapped file on every change, about 30 µs a
request in all. `flush` hands what was added to them in one go; the gateway calls it about
once a second and before every scrape.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from switchboard.metrics.exposition import leave, multiprocess_directory, render
from switchboard.metrics.instruments import create_instruments
from switchboard.usage.record import UsageRecord
from switchboard.vocabulary import HealthStatus, KeySource

NONE = "none"
"""A label's value when the record has none (no provider was reached, no power level)."""

LIMIT_REFUSALS = frozenset(
    {
        "rate_limit_exceeded",
        "concurrency_limit_exceeded",
        "insufficient_quota",
        "limits_unavailable",
    }
)
"""The error codes of requests refused by budgets and rate limits (`api.rate_limits`)."""

TOKEN_KINDS = ("input", "cached", "cache_write", "output")


@dataclass(frozen=True, slots=True)
class Timing:
    """A request's time, as the gateway measured it (to the microsecond; the usage record
    keeps milliseconds)."""

    duration_s: float
    upstream_s: float | None
    """Waiting on providers; None when no provider was called."""
    overhead_s: float


@dataclass(frozen=True, slots=True)
class ServingState:
    """What the process's gauges show, read by the gateway when it flushes."""

    cooling_providers: int
    cooling_models: int
    provider_health: Mapping[str, str]
    """Provider slug → its last known `HealthStatus`."""
    spool_segments: int
    writer_lag_s: float


class GatewayMetrics(Protocol):
    def observe_request(
        self, record: UsageRecord, *, provider: str | None, surface: str, timing: Timing
    ) -> None:
        """A request ended with `record` (as stored), served by `provider` (its slug)."""
        ...

    def request_started(self) -> None: ...

    def request_ended(self) -> None: ...

    def flush(self, state: ServingState) -> None:
        """Hand what requests added since the last flush, and `state`, to the exported
        metrics."""
        ...

    def scrape(self) -> bytes:
        """The text of `/metrics` (every worker's values, under several), as last flushed."""
        ...

    def close(self) -> None:
        """The process is stopping (flushed already): its live gauges stop counting."""
        ...


class DisabledMetrics:
    """Metrics turned off: every call does nothing."""

    def observe_request(
        self, record: UsageRecord, *, provider: str | None, surface: str, timing: Timing
    ) -> None:
        pass

    def request_started(self) -> None:
        pass

    def request_ended(self) -> None:
        pass

    def flush(self, state: ServingState) -> None:
        pass

    def scrape(self) -> bytes:
        return b""

    def close(self) -> None:
        pass


class _Observations:
    """Observations of one histogram child not yet handed to it."""

    __slots__ = ("bounds", "child", "counts", "total")

    def __init__(self, child: Histogram, bounds: Sequence[float]) -> None:
        self.child = child
        self.bounds = tuple(bounds)
        self.counts = [0] * len(self.bounds)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bucket with value ≤ le
        self.total += value

    def flush(self) -> None:
        # prometheus_client has no call that adds many observations at once; its histogram
        # keeps a value per bucket (not cumulative) and one for the sum, and `observe` adds 1
        # to the first bucket the value fits and the value to the sum, which is what this
        # does, once per bucket instead of once per observation.
        child = self.child
        for index, count in enumerate(self.counts):
            if count:
                child._buckets[index].inc(count)
                self.counts[index] = 0
        if self.total:
            child._sum.inc(self.total)
            self.total = 0.0


class _Cost:
    """A cost counter child and the exact sum behind it: the counter is raised to the float
    nearest the exact (Decimal) sum of the records' costs, not by adding floats, which would
    drift from the sum of the usage rows."""

    __slots__ = ("child", "shown", "total")

    def __init__(self, child: Counter) -> None:
        self.child = child
        self.total = Decimal(0)
        self.shown = 0.0

    def flush(self) -> None:
        target = float(self.total)
        if target != self.shown:
            # Set, not raised by the difference: `shown + (target - shown)` can miss `target`
            # by a unit in the last place. It only grows, as a counter must (what
            # `Counter.reset` sets is the same value object).
            self.child._value.set(target)
            self.shown = target


class _Series:
    """One request label set (provider, model, status class, tier, power level, key source,
    surface): what its requests added since the last flush, and where it goes."""

    __slots__ = (
        "attempts",
        "cost",
        "counters",
        "duration",
        "fallbacks",
        "first_token",
        "overhead",
        "pending",
        "requests",
        "tokens",
        "upstream",
    )

    def __init__(
        self,
        counters: tuple[Counter, ...],
        cost: _Cost,
        histograms: tuple[_Observations, _Observations, _Observations, _Observations],
    ) -> None:
        self.counters = counters
        """requests, tokens by kind (TOKEN_KINDS), attempts, fallbacks."""
        self.cost = cost
        self.duration, self.upstream, self.overhead, self.first_token = histograms
        self.pending = False
        self.requests = 0
        self.tokens = [0, 0, 0, 0]
        self.attempts = 0
        self.fallbacks = 0

    def flush(self) -> None:
        amounts = (self.requests, *self.tokens, self.attempts, self.fallbacks)
        for child, amount in zip(self.counters, amounts, strict=True):
            if amount:
                child.inc(amount)
        self.requests = self.attempts = self.fallbacks = 0
        self.tokens = [0, 0, 0, 0]
        self.cost.flush()
        for observations in (self.duration, self.upstream, self.overhead, self.first_token):
            observations.flush()
        self.pending = False


class PrometheusMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._instruments = create_instruments(self.registry)
        self._series: dict[tuple[str, ...], _Series] = {}
        self._pending: list[_Series] = []
        self._costs: dict[tuple[str, ...], _Cost] = {}
        self._observations: dict[tuple[str, tuple[str, ...]], _Observations] = {}
        self._health: dict[str, str] = {}
        self._in_flight = 0

    def observe_request(
        self, record: UsageRecord, *, provider: str | None, surface: str, timing: Timing
    ) -> None:
        status = record.status_code
        labels = (
            provider or NONE,
            record.model_name or NONE,
            f"{status // 100}xx" if status else NONE,
            record.user_tier or NONE,
            record.power_level or NONE,
            _key_source(record),
            surface,
        )
        series = self._series.get(labels) or self._new_series(labels)
        if not series.pending:
            series.pending = True
            self._pending.append(series)
        series.requests += 1
        series.duration.observe(timing.duration_s)
        series.overhead.observe(timing.overhead_s)
        if timing.upstream_s is not None:
            series.upstream.observe(timing.upstream_s)
        if record.time_to_first_token_ms is not None:
            series.first_token.observe(record.time_to_first_token_ms / 1000)
        cached, written = record.cached_tokens, record.cache_write_tokens
        tokens = series.tokens
        tokens[0] += record.prompt_tokens - cached - written
        tokens[1] += cached
        tokens[2] += written
        tokens[3] += record.completion_tokens
        series.cost.total += record.cost_total_usd
        attempts = record.attempts
        series.attempts += attempts
        if attempts > 1:
            series.fallbacks += attempts - 1
        if record.error_type in LIMIT_REFUSALS:  # rare: counted at once
            self._instruments.refusals.labels(record.error_type, labels[3]).inc()

    def request_started(self) -> None:
        self._in_flight += 1

    def request_ended(self) -> None:
        self._in_flight -= 1

    def flush(self, state: ServingState) -> None:
        pending, self._pending = self._pending, []
        for series in pending:
            series.flush()
        instruments = self._instruments
        instruments.in_flight.set(self._in_flight)
        instruments.cooldowns.labels("provider").set(state.cooling_providers)
        instruments.cooldowns.labels("model").set(state.cooling_models)
        instruments.spool_segments.set(state.spool_segments)
        instruments.writer_lag.set(state.writer_lag_s)
        if state.provider_health != self._health:
            # Set only on a change: under several workers the value set last wins, and every
            # worker reads the same catalog. A provider gone from it is in no state.
            gone = {slug: None for slug in self._health.keys() - state.provider_health.keys()}
            self._health = dict(state.provider_health)
            for slug, current in (gone | self._health).items():
                for status in HealthStatus:
                    instruments.provider_health.labels(slug, str(status)).set(
                        1 if status == current else 0
                    )

    def scrape(self) -> bytes:
        return render(self.registry)

    def close(self) -> None:
        leave(multiprocess_directory())

    def _new_series(self, labels: tuple[str, ...]) -> _Series:
        provider, model, status_class, _, _, key_source, surface = labels
        instruments = self._instruments
        counters = (
            instruments.requests.labels(*labels),
            *(instruments.tokens.labels(provider, model, kind) for kind in TOKEN_KINDS),
            instruments.attempts.labels(provider),
            instruments.fallbacks.labels(provider),
        )
        cost_labels = (provider, model, key_source)
        cost = self._costs.get(cost_labels)
        if cost is None:
            cost = self._costs[cost_labels] = _Cost(instruments.cost.labels(*cost_labels))
        histograms = (
            self._observed(instruments.duration, (provider, surface, status_class)),
            self._observed(instruments.upstream, (provider,)),
            self._observed(instruments.overhead, (surface,)),
            self._observed(instruments.first_token, (provider, model)),
        )
        series = self._series[labels] = _Series(counters, cost, histograms)
        return series

    def _observed(self, histogram: Histogram, labels: tuple[str, ...]) -> _Observations:
        """The one buffer of `histogram`'s child for `labels` (series may share a child)."""
        key = (histogram._name, labels)
        observations = self._observations.get(key)
        if observations is None:
            child = histogram.labels(*labels)
            observations = self._observations[key] = _Observations(child, child._upper_bounds)
        return observations


def _key_source(record: UsageRecord) -> str:
    if record.provider_id is None:
        return NONE
    return KeySource.BYOK if record.used_byok else KeySource.SYSTEM
