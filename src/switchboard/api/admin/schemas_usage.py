"""The usage analytics API's query parameters and answers (Pydantic v2), shared by the admin
API (`/api/v1/admin/llm/usage/…`) and the BYOK API (`/api/v1/llm/byok/usage`).

Money is a decimal string with ten places (`"0.0214500000"`): exact, as stored. A period is
[since, until) in UTC (ISO 8601; a time without an offset is UTC); it defaults to the 7 days
before now and may cover at most 366 days. A `since` after `until`, or a longer period, is a
422 naming `since`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from switchboard.api.schemas import (
    MAX_ID,
    USER_ID_PATTERN,
    CostUsd,
    DateTime,
    with_examples,
)
from switchboard.services.analytics import (
    ModelCost,
    Spend,
    SpendSeries,
    TimePoint,
    UsageFilters,
    UsageTotals,
)
from switchboard.vocabulary import PowerLevel, Tier

Since = Annotated[
    DateTime | None,
    Query(
        description="Start of the period (inclusive); default until − 7 days. At most 366 days "
        "before until and not after it: either is a 422 naming `since`."
    ),
]
Until = Annotated[DateTime | None, Query(description="End of the period (exclusive); default now.")]
UserFilter = Annotated[
    str | None, Query(max_length=255, pattern=USER_ID_PATTERN, description="Only this user.")
]
ModelFilter = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Only this model (its `id`).")
]
ProviderFilter = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Only this provider (its `id`).")
]
TierFilter = Annotated[Tier | None, Query(description="Only requests of users at this tier.")]
PowerFilter = Annotated[PowerLevel | None, Query(description="Only this power level.")]


def period_filters(since: Since = None, until: Until = None) -> UsageFilters:
    return UsageFilters.build(since=since, until=until)


def dimension_filters(
    since: Since = None,
    until: Until = None,
    model_id: ModelFilter = None,
    provider_id: ProviderFilter = None,
    user_tier: TierFilter = None,
    power_level: PowerFilter = None,
) -> UsageFilters:
    return UsageFilters.build(
        since=since,
        until=until,
        model_id=model_id,
        provider_id=provider_id,
        user_tier=user_tier,
        power_level=power_level,
    )


PeriodDep = Annotated[UsageFilters, Depends(period_filters)]
DimensionsDep = Annotated[UsageFilters, Depends(dimension_filters)]


def admin_filters(dimensions: DimensionsDep, user_id: UserFilter = None) -> UsageFilters:
    return replace(dimensions, user_id=user_id)


FiltersDep = Annotated[UsageFilters, Depends(admin_filters)]

_PERIOD = {"since": "2026-03-01T00:00:00Z", "until": "2026-03-08T00:00:00Z"}
_STATS = {
    "total_requests": 2,
    "errors": 0,
    "prompt_tokens": 3000,
    "cached_tokens": 0,
    "cache_write_tokens": 0,
    "completion_tokens": 1500,
    "total_tokens": 4500,
    "total_cost": "0.0214500000",
    "avg_latency": 200.0,
    "byok_requests": 1,
    "byok_share": 0.5,
}
_SPEND = {
    "requests": 1,
    "errors": 0,
    "prompt_tokens": 1000,
    "cached_tokens": 0,
    "cache_write_tokens": 0,
    "completion_tokens": 500,
    "total_tokens": 1500,
    "cost_total_usd": "0.0004500000",
}
"""One request of 1000 prompt and 500 completion tokens at $0.15 / $0.60 per 1M."""


_COUNTS = (
    "errors",
    "prompt_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "completion_tokens",
    "total_tokens",
)
"""What every usage answer counts under the name `Spend` gives it."""


def _counts(spend: Spend) -> dict[str, int]:
    return {name: getattr(spend, name) for name in _COUNTS}


class UsageStatsPublic(BaseModel):
    """The spec's "User Usage Statistics", and more: tokens by kind, errors, BYOK share."""

    model_config = with_examples({"user_id": "user-uuid", **_STATS})

    user_id: str
    total_requests: int
    errors: int = Field(description="Requests that failed (status ≥ 400, or none recorded).")
    prompt_tokens: int
    cached_tokens: int = Field(description="The part of prompt_tokens read from a cache.")
    cache_write_tokens: int = Field(
        description="The part of prompt_tokens written to the provider's prompt cache."
    )
    completion_tokens: int
    total_tokens: int
    total_cost: CostUsd = Field(description="US dollars, exact.")
    avg_latency: float | None = Field(description="Mean latency in ms; null: none recorded.")
    byok_requests: int
    byok_share: float = Field(description="byok_requests / total_requests (0 when no requests).")

    @classmethod
    def of(cls, user_id: str, totals: UsageTotals) -> UsageStatsPublic:
        spend = totals.spend
        return cls(
            **_counts(spend),
            user_id=user_id,
            total_requests=spend.requests,
            total_cost=spend.cost_total_usd,
            avg_latency=totals.avg_latency_ms,
            byok_requests=totals.byok.requests,
            byok_share=totals.byok_share,
        )


class UserUsagePublic(UsageStatsPublic):
    model_config = with_examples({"user_id": "user-uuid", **_PERIOD, **_STATS})

    since: datetime
    until: datetime


class UserUsagePagePublic(BaseModel):
    """Every user with usage in the period, the most expensive first."""

    model_config = with_examples(
        {**_PERIOD, "total": 1, "limit": 50, "offset": 0, "items": [{"user_id": "u", **_STATS}]}
    )

    since: datetime
    until: datetime
    total: int = Field(description="Users with usage in the period (all pages).")
    limit: int
    offset: int
    items: list[UsageStatsPublic]


class TopModelPublic(BaseModel):
    """The spec's "Top Cost Models" row, with the ids."""

    model_config = ConfigDict(protected_namespaces=()) | with_examples(
        {
            "id": 3,
            "model_id": "claude-sonnet",
            "model_name": "Claude Sonnet",
            "provider_id": 2,
            "provider_name": "Anthropic",
            "request_count": 1,
            "total_cost": "0.0105000000",
            "avg_cost_per_request": "0.0105000000",
        }
    )

    id: int = Field(description="The model's `id`.")
    model_id: str = Field(description="The provider's name for the model.")
    model_name: str
    provider_id: int
    provider_name: str
    request_count: int
    total_cost: CostUsd
    avg_cost_per_request: CostUsd = Field(description="Rounded half-even to ten places.")

    @classmethod
    def of(cls, row: ModelCost) -> TopModelPublic:
        return cls(
            id=row.model_db_id,
            model_id=row.model_id,
            model_name=row.model_name,
            provider_id=row.provider_id,
            provider_name=row.provider_name,
            request_count=row.request_count,
            total_cost=row.total_cost,
            avg_cost_per_request=row.avg_cost_per_request,
        )


class TopModelsPublic(BaseModel):
    model_config = with_examples({**_PERIOD, "items": []})

    since: datetime
    until: datetime
    items: list[TopModelPublic]


class TimePointPublic(BaseModel):
    """One hour or day. Percentiles are interpolated within the latency histogram's buckets
    (bounds 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000 ms): estimates."""

    model_config = with_examples(
        {
            "start": "2026-03-01T10:00:00Z",
            **_SPEND,
            "byok_requests": 0,
            "avg_latency_ms": 420.0,
            "p50_latency_ms": 375.0,
            "p95_latency_ms": 950.0,
            "p99_latency_ms": 990.0,
        }
    )

    start: datetime
    requests: int
    errors: int
    byok_requests: int
    prompt_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_total_usd: CostUsd
    avg_latency_ms: float | None
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    p99_latency_ms: float | None

    @classmethod
    def of(cls, point: TimePoint) -> TimePointPublic:
        spend = point.totals.spend
        return cls(
            **_counts(spend),
            start=point.start,
            requests=spend.requests,
            byok_requests=point.totals.byok.requests,
            cost_total_usd=spend.cost_total_usd,
            avg_latency_ms=point.totals.avg_latency_ms,
            p50_latency_ms=point.p50_ms,
            p95_latency_ms=point.p95_ms,
            p99_latency_ms=point.p99_ms,
        )


class TimeSeriesPublic(BaseModel):
    model_config = with_examples({**_PERIOD, "granularity": "day", "points": []})

    since: datetime
    until: datetime
    granularity: str
    points: list[TimePointPublic]


class SpendPublic(BaseModel):
    model_config = with_examples(_SPEND)

    requests: int
    errors: int
    prompt_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_total_usd: CostUsd

    @classmethod
    def of(cls, spend: Spend) -> SpendPublic:
        # Same names on both sides (total_tokens is a property): Pydantic reads them itself.
        return cls.model_validate(spend, from_attributes=True)


class ByokUsagePublic(BaseModel):
    """The caller's own usage and spend, split by whose key served it: `byok` (their own
    provider keys) and `system` (the platform's); `total` is both."""

    model_config = with_examples(
        {
            "user_id": "user-uuid",
            **_PERIOD,
            "total": {
                **_SPEND,
                "requests": 2,
                "prompt_tokens": 2000,
                "completion_tokens": 1000,
                "total_tokens": 3000,
                "cost_total_usd": "0.0009000000",
            },
            "byok": _SPEND,
            "system": _SPEND,
        }
    )

    user_id: str
    since: datetime
    until: datetime
    total: SpendPublic
    byok: SpendPublic
    system: SpendPublic


class SpendSeriesPublic(BaseModel):
    """One provider's or model's spend per point; `id` null is "Other", everything else."""

    model_config = with_examples({"id": 1, "name": "OpenAI", "costs": ["0.0004500000"]})

    id: int | None = Field(description="The provider's or model's `id`; null: the rest.")
    name: str
    costs: list[CostUsd] = Field(description="US dollars per point, exact, in `starts` order.")


class SpendBreakdownPublic(BaseModel):
    """The time series' spend split into the providers or models that cost the most over the
    period and "Other": at each point the parts add up to the point's `cost_total_usd`."""

    model_config = with_examples(
        {**_PERIOD, "granularity": "day", "by": "provider", "starts": [], "series": []}
    )

    since: datetime
    until: datetime
    granularity: str
    by: str
    starts: list[datetime]
    series: list[SpendSeriesPublic]

    @classmethod
    def of(
        cls,
        filters: UsageFilters,
        granularity: str,
        by: str,
        breakdown: tuple[list[datetime], list[SpendSeries]],
    ) -> SpendBreakdownPublic:
        starts, series = breakdown
        return cls(
            since=filters.since,
            until=filters.until,
            granularity=granularity,
            by=by,
            starts=starts,
            series=[SpendSeriesPublic(id=s.key, name=s.name, costs=s.costs) for s in series],
        )


class UsageSummaryPublic(UsageStatsPublic):
    """Everything matching the filters over the period: the usage statistics (`user_id` is
    the filter's, null for all users), the latency percentiles, and the fallback rate."""

    model_config = with_examples(
        {
            "user_id": None,
            **_PERIOD,
            **_STATS,
            "p50_latency_ms": 150.0,
            "p95_latency_ms": 240.0,
            "p99_latency_ms": 248.0,
            "fallback_requests": 0,
            "fallback_rate": 0.0,
        }
    )

    user_id: str | None  # type: ignore[assignment]
    since: datetime
    until: datetime
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    p99_latency_ms: float | None
    fallback_requests: int = Field(
        description="Requests that took more than one attempt: the first deployment failed "
        "with a retryable error and another was tried, whether or not it served them."
    )
    fallback_rate: float = Field(description="fallback_requests / total_requests (0 if none).")
