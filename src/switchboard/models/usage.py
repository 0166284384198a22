"""The bill: one row per request."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from switchboard._types import Money, UTCDateTime
from switchboard.models.base import Base, created, flag

if TYPE_CHECKING:
    from switchboard.models.catalog import LLMModel


class LLMUsageLog(Base):
    """One request's bill: what served it, the tokens, the exact cost, and how it went."""

    __tablename__ = "llm_usage_logs"
    __table_args__ = (
        Index("ix_llm_usage_logs_user_created", "user_id", "created_at"),
        Index("ix_llm_usage_logs_model_created", "model_id", "created_at"),
        Index("ix_llm_usage_logs_created_at", "created_at"),
        Index("ix_llm_usage_logs_key_created", "virtual_key_id", "created_at"),
        # Only the rare requests that needed a fallback: counting them reads just those.
        Index(
            "ix_llm_usage_logs_fallback_created",
            "created_at",
            postgresql_where=text("attempts > 1"),
            sqlite_where=text("attempts > 1"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("llm_models.id", ondelete="SET NULL"))
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("llm_providers.id", ondelete="SET NULL")
    )
    model_name: Mapped[str | None] = mapped_column(String(200))
    power_level: Mapped[str | None] = mapped_column(String(20))
    user_tier: Mapped[str | None] = mapped_column(String(20))
    task_type: Mapped[str | None] = mapped_column(String(50))
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default="0"
    )
    """The part of `prompt_tokens` written to the provider's prompt cache (billed above the
    input price by Anthropic: `pricing`)."""
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    usage_estimated: Mapped[bool] = flag(False)
    cost_input_usd: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    cost_cached_usd: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    cost_output_usd: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    cost_total_usd: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    used_byok: Mapped[bool] = flag(False)
    user_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_api_keys.id", ondelete="SET NULL")
    )
    virtual_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("llm_virtual_keys.id", ondelete="SET NULL")
    )
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    time_to_first_token_ms: Mapped[int | None] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error_type: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    request_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created()

    model: Mapped[LLMModel | None] = relationship()


LATENCY_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
"""Upper bounds of the latency histogram kept in rollups; a last bucket holds the rest."""


def _counter(kind: type[Integer] | type[BigInteger] = Integer) -> Mapped[int]:
    return mapped_column(kind, nullable=False, default=0, server_default="0")


def _money() -> Mapped[Decimal]:
    return mapped_column(Money, nullable=False, default=Decimal(0), server_default="0")


class UsageCounters:
    """The sums every rollup table keeps. The `byok_*` ones sum the requests served with the
    user's own key (the rest went on the system key); the latency histogram has a column per
    upper bound of `LATENCY_BUCKETS_MS` (above the previous bound) and one for the rest."""

    requests: Mapped[int] = _counter()
    errors: Mapped[int] = _counter()
    byok_requests: Mapped[int] = _counter()
    prompt_tokens: Mapped[int] = _counter(BigInteger)
    cached_tokens: Mapped[int] = _counter(BigInteger)
    cache_write_tokens: Mapped[int] = _counter(BigInteger)
    completion_tokens: Mapped[int] = _counter(BigInteger)
    cost_total_usd: Mapped[Decimal] = _money()
    byok_errors: Mapped[int] = _counter()
    byok_prompt_tokens: Mapped[int] = _counter(BigInteger)
    byok_cached_tokens: Mapped[int] = _counter(BigInteger)
    byok_cache_write_tokens: Mapped[int] = _counter(BigInteger)
    byok_completion_tokens: Mapped[int] = _counter(BigInteger)
    byok_cost_total_usd: Mapped[Decimal] = _money()
    latency_ms_sum: Mapped[int] = _counter(BigInteger)
    latency_count: Mapped[int] = _counter()
    latency_le_50: Mapped[int] = _counter()
    latency_le_100: Mapped[int] = _counter()
    latency_le_250: Mapped[int] = _counter()
    latency_le_500: Mapped[int] = _counter()
    latency_le_1000: Mapped[int] = _counter()
    latency_le_2500: Mapped[int] = _counter()
    latency_le_5000: Mapped[int] = _counter()
    latency_le_10000: Mapped[int] = _counter()
    latency_le_30000: Mapped[int] = _counter()
    latency_gt_30000: Mapped[int] = _counter()


class UsageBucket(UsageCounters):
    """A rollup row: its id, the start of the hour, day or week it sums (UTC), and the sums.
    Each rollup adds the dimensions it is summed by; the id and the bucket's start stay the
    first columns."""

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, sort_order=-1
    )
    bucket_start: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, index=True, sort_order=-1
    )


class ByModel:
    """The dimensions of a rollup summed per model: the model, its provider, the power level
    it served and the user's tier."""

    model_id: Mapped[int] = mapped_column(Integer, nullable=False)
    provider_id: Mapped[int] = mapped_column(Integer, nullable=False)
    power_level: Mapped[str] = mapped_column(String(20), nullable=False)
    user_tier: Mapped[str] = mapped_column(String(20), nullable=False)


def _key(name: str, *columns: str) -> UniqueConstraint:
    return UniqueConstraint(*columns, name=f"uq_{name}_key")


_FULL_KEY = ("bucket_start", "user_id", "model_id", "provider_id", "power_level", "user_tier")


class LLMUsageHourly(ByModel, UsageBucket, Base):
    """Usage summed per hour and (user, model, provider, power level, tier). The rollups are
    what the analytics read at scale; they are kept by the same transaction that inserts the
    usage rows they sum, so their sums equal the rows' sums. Empty dimensions are stored as
    0 / "" (not NULL) so that the unique key holds on every database."""

    __tablename__ = "llm_usage_hourly"
    __table_args__ = (
        _key("llm_usage_hourly", *_FULL_KEY),
        Index("ix_llm_usage_hourly_user_bucket", "user_id", "bucket_start"),
        Index("ix_llm_usage_hourly_model_bucket", "model_id", "bucket_start"),
    )

    user_id: Mapped[str] = mapped_column(String(255), nullable=False)


class LLMUsageDaily(ByModel, UsageBucket, Base):
    """The hourly rollup summed per UTC day (`bucket_start` is midnight): what periods of
    many days read for their whole days."""

    __tablename__ = "llm_usage_daily"
    __table_args__ = (
        _key("llm_usage_daily", *_FULL_KEY),
        Index("ix_llm_usage_daily_user_bucket", "user_id", "bucket_start"),
    )

    user_id: Mapped[str] = mapped_column(String(255), nullable=False)


class LLMUsageHourlyModel(ByModel, UsageBucket, Base):
    """The hourly rollup without the user: hourly figures for everyone, or by model,
    provider, power level or tier, read from a few rows per hour instead of one per user."""

    __tablename__ = "llm_usage_hourly_models"
    __table_args__ = (
        _key("llm_usage_hourly_models", *(k for k in _FULL_KEY if k != "user_id")),
        Index("ix_llm_usage_hourly_models_model_bucket", "model_id", "bucket_start"),
    )


class LLMUsageDailyModel(ByModel, UsageBucket, Base):
    """The daily rollup without the user: a month's chart or totals for everyone, or by
    model, provider, power level or tier, read from a few rows per day."""

    __tablename__ = "llm_usage_daily_models"
    __table_args__ = (
        _key("llm_usage_daily_models", *(k for k in _FULL_KEY if k != "user_id")),
        Index("ix_llm_usage_daily_models_model_bucket", "model_id", "bucket_start"),
    )


class LLMUsageDailyTotal(UsageBucket, Base):
    """The daily rollup without the user or the model: a month's chart and totals for
    everyone, or by provider, power level or tier, from a few hundred rows a day."""

    __tablename__ = "llm_usage_daily_totals"
    __table_args__ = (
        _key("llm_usage_daily_totals", "bucket_start", "provider_id", "power_level", "user_tier"),
        Index("ix_llm_usage_daily_totals_provider_bucket", "provider_id", "bucket_start"),
    )

    provider_id: Mapped[int] = mapped_column(Integer, nullable=False)
    power_level: Mapped[str] = mapped_column(String(20), nullable=False)
    user_tier: Mapped[str] = mapped_column(String(20), nullable=False)


class LLMUsageWeeklyUser(UsageBucket, Base):
    """Usage per week (from Monday 00:00 UTC) and user (and tier): what ranks the users of
    a month by their spend, reading a few rows per user (the costliest first, by the index
    on cost: `services.analytics.spend_candidates`)."""

    __tablename__ = "llm_usage_weekly_users"
    __table_args__ = (
        _key("llm_usage_weekly_users", "bucket_start", "user_id", "user_tier"),
        Index("ix_llm_usage_weekly_users_user_bucket", "user_id", "bucket_start"),
        Index("ix_llm_usage_weekly_users_cost", "cost_total_usd"),
    )

    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_tier: Mapped[str] = mapped_column(String(20), nullable=False)


class LLMUsageWeeklyModel(ByModel, UsageBucket, Base):
    """Usage per week (from Monday 00:00 UTC) without the user: what ranks the models of a
    month by their spend."""

    __tablename__ = "llm_usage_weekly_models"
    __table_args__ = (
        _key("llm_usage_weekly_models", *(k for k in _FULL_KEY if k != "user_id")),
        Index("ix_llm_usage_weekly_models_model_bucket", "model_id", "bucket_start"),
        Index("ix_llm_usage_weekly_models_cost", "cost_total_usd"),
    )
