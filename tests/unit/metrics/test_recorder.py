"""`PrometheusMetrics` through what it exports: requests buffered until a flush, histogram
buckets as prometheus_client fills them, cost as the exact sum of the records', and
`DisabledMetrics` exporting nothing."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from switchboard.metrics.instruments import DURATION_BUCKETS
from switchboard.metrics.recorder import (
    DisabledMetrics,
    PrometheusMetrics,
    ServingState,
    Timing,
)
from switchboard.usage.record import UsageRecord

STATE = ServingState(
    cooling_providers=1,
    cooling_models=2,
    provider_health={"acme": "down"},
    spool_segments=3,
    writer_lag_s=4.5,
)


def served(cost: str = "0.0000105", **fields: object) -> UsageRecord:
    values: dict[str, object] = {
        "request_id": "req_1",
        "user_id": "someone",
        "model_id": 7,
        "provider_id": 3,
        "model_name": "acme-large",
        "power_level": "balanced",
        "user_tier": "free",
        "prompt_tokens": 12,
        "cached_tokens": 4,
        "cache_write_tokens": 2,
        "completion_tokens": 5,
        "cost_total_usd": Decimal(cost),
        "status_code": 200,
        "attempts": 2,
        "latency_ms": 3,
    }
    return UsageRecord(**(values | fields))  # type: ignore[arg-type]


def samples(metrics: PrometheusMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.scrape().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> float:
    return sum(value for (sample, _), value in found.items() if sample == name)


def test_requests_reach_the_counters_at_the_flush() -> None:
    metrics = PrometheusMetrics()
    timing = Timing(duration_s=0.2, upstream_s=0.15, overhead_s=0.05)
    metrics.observe_request(served(), provider="acme", surface="openai", timing=timing)
    assert total(samples(metrics), "switchboard_requests_total") == 0

    metrics.flush(STATE)
    found = samples(metrics)

    labels = frozenset(
        {
            "provider": "acme",
            "model": "acme-large",
            "status_class": "2xx",
            "tier": "free",
            "power_level": "balanced",
            "key_source": "system",
            "surface": "openai",
        }.items()
    )
    assert found[("switchboard_requests_total", labels)] == 1
    tokens = {
        dict(labels)["kind"]: value
        for (name, labels), value in found.items()
        if name == "switchboard_tokens_total"
    }
    assert tokens == {"input": 6, "cached": 4, "cache_write": 2, "output": 5}
    assert total(found, "switchboard_upstream_attempts_total") == 2
    assert total(found, "switchboard_fallbacks_total") == 1
    assert total(found, "switchboard_cooldowns") == 3
    assert total(found, "switchboard_usage_spool_segments") == 3
    assert total(found, "switchboard_usage_writer_lag_seconds") == 4.5
    down = frozenset({"provider": "acme", "state": "down"}.items())
    assert found[("switchboard_provider_health", down)] == 1
    assert total(found, "switchboard_provider_health") == 1


def test_histograms_fill_the_buckets_prometheus_client_would() -> None:
    metrics = PrometheusMetrics()
    reference = Histogram("reference", "", buckets=DURATION_BUCKETS, registry=CollectorRegistry())
    durations = [0.0, 0.005, 0.0051, 0.25, 1, 2.5, 119.9, 120, 121, 5000]
    for duration in durations:
        timing = Timing(duration_s=duration, upstream_s=None, overhead_s=0.001)
        metrics.observe_request(served(), provider="acme", surface="openai", timing=timing)
        reference.observe(duration)
    metrics.flush(STATE)

    found = samples(metrics)
    expected = {
        sample.labels["le"]: sample.value
        for sample in reference.collect()[0].samples
        if sample.name == "reference_bucket"
    }
    buckets = {
        dict(labels)["le"]: value
        for (name, labels), value in found.items()
        if name == "switchboard_request_duration_seconds_bucket"
    }
    assert buckets == expected
    assert total(found, "switchboard_request_duration_seconds_sum") == sum(durations)
    assert total(found, "switchboard_upstream_duration_seconds_count") == 0


def test_cost_is_the_float_of_the_exact_sum() -> None:
    metrics = PrometheusMetrics()
    timing = Timing(duration_s=0.01, upstream_s=0.01, overhead_s=0.0)
    costs = [Decimal("0.0000001"), Decimal("0.0000105"), Decimal("0.1"), Decimal("0.2")] * 250
    for n, cost in enumerate(costs):
        metrics.observe_request(served(str(cost)), provider="acme", surface="openai", timing=timing)
        if n % 7 == 0:
            metrics.flush(STATE)
    metrics.flush(STATE)

    assert total(samples(metrics), "switchboard_cost_dollars_total") == float(sum(costs))


def test_refusals_are_counted_by_reason_and_tier() -> None:
    metrics = PrometheusMetrics()
    refused = served(
        "0", status_code=429, error_type="insufficient_quota", attempts=0, provider_id=None
    )
    timing = Timing(duration_s=0.001, upstream_s=None, overhead_s=0.001)
    metrics.observe_request(refused, provider=None, surface="anthropic", timing=timing)
    metrics.flush(STATE)

    found = samples(metrics)
    reason = frozenset({"reason": "insufficient_quota", "tier": "free"}.items())
    assert found[("switchboard_limit_refusals_total", reason)] == 1
    assert all(
        dict(labels)["key_source"] == "none"
        for name, labels in found
        if name == "switchboard_requests_total"
    )


def test_disabled_metrics_export_nothing() -> None:
    metrics = DisabledMetrics()
    timing = Timing(duration_s=0.001, upstream_s=None, overhead_s=0.001)
    metrics.observe_request(served(), provider="acme", surface="openai", timing=timing)
    metrics.flush(STATE)
    assert metrics.scrape() == b""


def test_a_provider_gone_from_the_catalog_is_in_no_state() -> None:
    metrics = PrometheusMetrics()
    metrics.flush(STATE)
    metrics.flush(
        ServingState(
            cooling_providers=0,
            cooling_models=0,
            provider_health={"other": "healthy"},
            spool_segments=0,
            writer_lag_s=0.0,
        )
    )

    found = samples(metrics)
    states = {
        (dict(labels)["provider"], dict(labels)["state"])
        for (name, labels), value in found.items()
        if name == "switchboard_provider_health" and value == 1
    }
    assert states == {("other", "healthy")}
