"""The metrics Switchboard exports: names, labels, buckets, and how each is summed across
worker processes. Names start with `switchboard_` and are in base units (seconds, dollars,
tokens). No label holds a user's or a key's id: every label's values come from a closed
vocabulary or the catalog, so the number of series is bounded by the catalog, never by the
traffic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REQUEST_LABELS = (
    "provider",
    "model",
    "status_class",
    "tier",
    "power_level",
    "key_source",
    "surface",
)

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
FIRST_TOKEN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


@dataclass(frozen=True, slots=True)
class Instruments:
    requests: Counter
    duration: Histogram
    upstream: Histogram
    overhead: Histogram
    first_token: Histogram
    tokens: Counter
    cost: Counter
    attempts: Counter
    fallbacks: Counter
    refusals: Counter
    in_flight: Gauge
    cooldowns: Gauge
    provider_health: Gauge
    spool_segments: Gauge
    writer_lag: Gauge


def create_instruments(registry: CollectorRegistry) -> Instruments:
    """Every metric, registered in `registry` (never prometheus_client's global one). Under
    several workers each gauge says how its values combine: in flight adds up; cooldowns are
    each worker's own, so the most any worker has; health and the spool are shared, so the
    value set last."""
    return Instruments(**_counters(registry), **_histograms(registry), **_gauges(registry))


def _counters(registry: CollectorRegistry) -> dict[str, Any]:
    """What requests and their providers did, counted."""
    return dict(
        requests=Counter(
            "switchboard_requests",
            "Gateway requests that reached a user's account (one per usage record).",
            REQUEST_LABELS,
            registry=registry,
        ),
        tokens=Counter(
            "switchboard_tokens",
            "Tokens billed, by kind: input (prompt tokens neither read from nor written to a "
            "cache), cached, cache_write, output. The kinds add up to the usage rows' total.",
            ("provider", "model", "kind"),
            registry=registry,
        ),
        cost=Counter(
            "switchboard_cost_dollars",
            "What requests cost, in dollars, as their usage rows say.",
            ("provider", "model", "key_source"),
            registry=registry,
        ),
        attempts=Counter(
            "switchboard_upstream_attempts",
            "Provider calls made, by the provider that ended the request.",
            ("provider",),
            registry=registry,
        ),
        fallbacks=Counter(
            "switchboard_fallbacks",
            "Provider calls made after another candidate failed, by the provider that ended "
            "the request.",
            ("provider",),
            registry=registry,
        ),
        refusals=Counter(
            "switchboard_limit_refusals",
            "Requests refused by a budget or rate limit, by reason (the error code).",
            ("reason", "tier"),
            registry=registry,
        ),
    )


def _histograms(registry: CollectorRegistry) -> dict[str, Any]:
    """How long requests and their parts took."""
    return dict(
        duration=Histogram(
            "switchboard_request_duration_seconds",
            "Time from a request's arrival to its end (a stream's last chunk).",
            ("provider", "surface", "status_class"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        ),
        upstream=Histogram(
            "switchboard_upstream_duration_seconds",
            "Time spent waiting on providers, over all of a request's attempts.",
            ("provider",),
            buckets=DURATION_BUCKETS,
            registry=registry,
        ),
        overhead=Histogram(
            "switchboard_gateway_overhead_seconds",
            "Time a request spent in the gateway rather than in a provider "
            "(for a stream: up to its first chunk).",
            ("surface",),
            buckets=OVERHEAD_BUCKETS,
            registry=registry,
        ),
        first_token=Histogram(
            "switchboard_time_to_first_token_seconds",
            "Time from a streamed request's arrival to its first chunk.",
            ("provider", "model"),
            buckets=FIRST_TOKEN_BUCKETS,
            registry=registry,
        ),
    )


def _gauges(registry: CollectorRegistry) -> dict[str, Any]:
    """What is so now; each says how the workers' values combine."""
    return dict(
        in_flight=Gauge(
            "switchboard_requests_in_flight",
            "Gateway requests being served now.",
            registry=registry,
            multiprocess_mode="livesum",
        ),
        cooldowns=Gauge(
            "switchboard_cooldowns",
            "Deployments cooling down (tried last) now, by scope: provider or model.",
            ("scope",),
            registry=registry,
            multiprocess_mode="livemax",
        ),
        provider_health=Gauge(
            "switchboard_provider_health",
            "A provider's last known health: 1 for its state, 0 for the others.",
            ("provider", "state"),
            registry=registry,
            multiprocess_mode="livemostrecent",
        ),
        spool_segments=Gauge(
            "switchboard_usage_spool_segments",
            "Sealed usage spool segments not yet stored in the database.",
            registry=registry,
            multiprocess_mode="livemostrecent",
        ),
        writer_lag=Gauge(
            "switchboard_usage_writer_lag_seconds",
            "Age of the oldest usage spool segment not yet stored (0: none waiting).",
            registry=registry,
            multiprocess_mode="livemostrecent",
        ),
    )
