"""The catalog tables: providers, their models, and the routing rules that choose them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import Mapped, Mapper, Session, mapped_column, object_session, relationship

from switchboard._types import Price, UTCDateTime
from switchboard.models.base import Base, created, flag, updated
from switchboard.vocabulary import PriceSource


class LLMProvider(Base):
    """A service that answers LLM requests, reached at `base_url` with one wire format."""

    __tablename__ = "llm_providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_name: Mapped[str] = mapped_column(String(100), nullable=False)
    provider_slug: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    base_url: Mapped[str | None] = mapped_column(String(500))
    api_format: Mapped[str | None] = mapped_column(String(32))
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Adapter settings: extra headers, or the mock provider's replies, latency and faults."""
    auth_type: Mapped[str] = mapped_column(String(20), nullable=False, default="bearer")
    encrypted_api_key: Mapped[str | None] = mapped_column(Text)
    api_key_prefix: Mapped[str | None] = mapped_column(String(16))
    api_key_suffix: Mapped[str | None] = mapped_column(String(8))
    supports_streaming: Mapped[bool] = flag(True)
    supports_function_calling: Mapped[bool] = flag(False)
    supports_vision: Mapped[bool] = flag(False)
    is_active: Mapped[bool] = flag(True)
    is_byok_supported: Mapped[bool] = flag(False)
    is_system_provider: Mapped[bool] = flag(True)
    api_key_format: Mapped[str | None] = mapped_column(String(100))
    documentation_url: Mapped[str | None] = mapped_column(String(500))
    pricing_url: Mapped[str | None] = mapped_column(String(500))
    min_tier_required: Mapped[str] = mapped_column(String(20), nullable=False, default="free")
    health_status: Mapped[str] = mapped_column(String(20), nullable=False, default="unknown")
    last_health_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    health_latency_ms: Mapped[int | None] = mapped_column(Integer)
    health_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created()
    updated_at: Mapped[datetime] = updated()

    models: Mapped[list[LLMModel]] = relationship(back_populates="provider")

    def __repr__(self) -> str:
        return f"<LLMProvider {self.id} {self.provider_slug!r}>"


class LLMModel(Base):
    """One model of one provider, with its prices per 1M tokens and capabilities."""

    __tablename__ = "llm_models"
    __table_args__ = (
        UniqueConstraint("provider_id", "model_id", name="uq_llm_models_provider_id_model_id"),
        Index("ix_llm_models_power_level_active", "power_level", "is_active"),
        Index("ix_llm_models_model_id", "model_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("llm_providers.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    model_name: Mapped[str] = mapped_column(String(200), nullable=False)
    model_id: Mapped[str] = mapped_column(String(200), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    context_window: Mapped[int | None] = mapped_column(Integer)
    supports_streaming: Mapped[bool] = flag(True)
    supports_function_calling: Mapped[bool] = flag(False)
    supports_vision: Mapped[bool] = flag(False)
    supports_json_mode: Mapped[bool] = flag(False)
    cost_per_1m_input_tokens: Mapped[Decimal] = mapped_column(
        Price, nullable=False, default=Decimal(0)
    )
    cost_per_1m_output_tokens: Mapped[Decimal] = mapped_column(
        Price, nullable=False, default=Decimal(0)
    )
    cost_per_1m_cached_input_tokens: Mapped[Decimal | None] = mapped_column(Price)
    cost_per_1m_cache_write_tokens: Mapped[Decimal | None] = mapped_column(Price)
    """A five-minute prompt-cache write; empty: 1.25× the input price (see `pricing`)."""
    price_tiers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """Prices for long prompts, as `pricing.tiers_to_json` writes them; empty: none."""
    price_source: Mapped[str] = mapped_column(
        String(10), nullable=False, default=PriceSource.MANUAL, server_default=PriceSource.MANUAL
    )
    """`seed`, `sync` or `manual` (`PriceSource`): kept by `_record_who_set_prices`."""
    power_level: Mapped[str] = mapped_column(String(20), nullable=False, default="balanced")
    power_level_priority: Mapped[int] = mapped_column(Integer, nullable=False, default=100)
    is_active: Mapped[bool] = flag(True)
    is_deprecated: Mapped[bool] = flag(False)
    deprecation_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replacement_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("llm_models.id", ondelete="SET NULL")
    )
    min_tier_required: Mapped[str] = mapped_column(String(20), nullable=False, default="free")
    created_at: Mapped[datetime] = created()
    updated_at: Mapped[datetime] = updated()

    provider: Mapped[LLMProvider] = relationship(back_populates="models")
    replacement: Mapped[LLMModel | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<LLMModel {self.id} {self.model_id!r}>"


class LLMRoutingRule(Base):
    """Serve requests of this power level, tier and task with this model, at this priority.

    A rule is identified by (model, power level, tier, task type): one rule per model for
    each kind of request; its priority, weight, token band and flags are what an admin edits.
    A NULL tier (every tier) is a value of the identity like any tier, which a plain unique
    key would not hold (SQL's NULLs are all distinct), so the identity is two partial unique
    indexes: one over the rules with a tier, one over those without. Partial indexes, unlike
    expression indexes (`COALESCE(user_tier, '')`), are reflected on SQLite too, so Alembic's
    autogenerate compares them and its batch mode keeps them when it copies the table."""

    __tablename__ = "llm_routing_rules"
    __table_args__ = (
        Index("ix_llm_routing_rules_tier_active", "user_tier", "is_active"),
        Index("ix_llm_routing_rules_power_level", "power_level"),
        Index(
            "uq_llm_routing_rules_identity",
            *("model_id", "power_level", "user_tier", "task_type"),
            unique=True,
            postgresql_where=text("user_tier IS NOT NULL"),
            sqlite_where=text("user_tier IS NOT NULL"),
        ),
        Index(
            "uq_llm_routing_rules_identity_any_tier",
            *("model_id", "power_level", "task_type"),
            unique=True,
            postgresql_where=text("user_tier IS NULL"),
            sqlite_where=text("user_tier IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(
        ForeignKey("llm_models.id", ondelete="CASCADE"), nullable=False, index=True
    )
    power_level: Mapped[str] = mapped_column(String(20), nullable=False)
    user_tier: Mapped[str | None] = mapped_column(String(20))
    task_type: Mapped[str] = mapped_column(String(50), nullable=False, default="general")
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=100)
    weight: Mapped[int] = mapped_column(Integer, nullable=False, default=100)
    min_tokens: Mapped[int | None] = mapped_column(Integer)
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    requires_byok: Mapped[bool] = flag(False)
    is_fallback: Mapped[bool] = flag(False)
    is_active: Mapped[bool] = flag(True)
    created_at: Mapped[datetime] = created()
    updated_at: Mapped[datetime] = updated()

    model: Mapped[LLMModel] = relationship()


class LLMModelPriceHistory(Base):
    """A model's prices over time: a row per price period, the open one has no `effective_to`.
    Usage rows keep the cost they were billed at; this says what the price was, and since when."""

    __tablename__ = "llm_model_price_history"
    __table_args__ = (Index("ix_llm_model_price_history_model", "model_id", "effective_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(
        ForeignKey("llm_models.id", ondelete="CASCADE"), nullable=False
    )
    cost_per_1m_input_tokens: Mapped[Decimal] = mapped_column(Price, nullable=False)
    cost_per_1m_output_tokens: Mapped[Decimal] = mapped_column(Price, nullable=False)
    cost_per_1m_cached_input_tokens: Mapped[Decimal | None] = mapped_column(Price)
    cost_per_1m_cache_write_tokens: Mapped[Decimal | None] = mapped_column(Price)
    price_tiers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    effective_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_by: Mapped[str | None] = mapped_column(String(255))


PRICE_COLUMNS = (
    "cost_per_1m_input_tokens",
    "cost_per_1m_output_tokens",
    "cost_per_1m_cached_input_tokens",
    "cost_per_1m_cache_write_tokens",
    "price_tiers",
)
"""A model's prices: what its price history keeps, and what `price_source` is about."""
_PRICE_WRITER = "switchboard.price_writer"


@contextmanager
def prices_written_by(session: Session, source: PriceSource) -> Iterator[None]:
    """Prices this session changes meanwhile are `source`'s (the seed's, the sync's), not
    an admin's. Flush within the block."""
    previous = session.info.get(_PRICE_WRITER)
    session.info[_PRICE_WRITER] = source
    try:
        yield
    finally:
        session.info[_PRICE_WRITER] = previous


@event.listens_for(LLMModel, "before_update")
def _record_who_set_prices(mapper: Mapper[Any], connection: Connection, target: LLMModel) -> None:
    """A price changed by anything but seeding or the price sync — the admin API, the CLI, the
    spec's `model.cost_per_1m_input_tokens = …` — was set by hand: `price_source` says so, and
    neither overwrites it unless told to. A change that sets `price_source` itself keeps it."""
    state = inspect(target)
    if state.attrs.price_source.history.has_changes():
        return
    if any(state.attrs[name].history.has_changes() for name in PRICE_COLUMNS):
        session = object_session(target)
        writer = session.info.get(_PRICE_WRITER) if session is not None else None
        target.price_source = writer or PriceSource.MANUAL
