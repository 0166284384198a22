"""The database tables, as SQLAlchemy 2 typed models.

Names and fields are the spec's contract (`llm_providers`, `llm_models`, `llm_routing_rules`,
`user_api_keys`, `llm_usage_logs`); `llm_users` and `llm_virtual_keys` are ours. Tiers, power
levels and the like are stored as plain strings (the spec's code passes strings) and checked
where they are read. Timestamps are UTC; money is NUMERIC (see `_types`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from switchboard._types import Money, Price, UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _flag(default: bool) -> Mapped[bool]:
    return mapped_column(
        Boolean, nullable=False, default=default, server_default=true() if default else false()
    )


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, nullable=False, default=utcnow)


def _updated() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


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
    supports_streaming: Mapped[bool] = _flag(True)
    supports_function_calling: Mapped[bool] = _flag(False)
    supports_vision: Mapped[bool] = _flag(False)
    is_active: Mapped[bool] = _flag(True)
    is_byok_supported: Mapped[bool] = _flag(False)
    is_system_provider: Mapped[bool] = _flag(True)
    api_key_format: Mapped[str | None] = mapped_column(String(100))
    documentation_url: Mapped[str | None] = mapped_column(String(500))
    pricing_url: Mapped[str | None] = mapped_column(String(500))
    min_tier_required: Mapped[str] = mapped_column(String(20), nullable=False, default="free")
    health_status: Mapped[str] = mapped_column(String(20), nullable=False, default="unknown")
    last_health_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    health_latency_ms: Mapped[int | None] = mapped_column(Integer)
    health_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

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
    supports_streaming: Mapped[bool] = _flag(True)
    supports_function_calling: Mapped[bool] = _flag(False)
    supports_vision: Mapped[bool] = _flag(False)
    supports_json_mode: Mapped[bool] = _flag(False)
    cost_per_1m_input_tokens: Mapped[Decimal] = mapped_column(
        Price, nullable=False, default=Decimal(0)
    )
    cost_per_1m_output_tokens: Mapped[Decimal] = mapped_column(
        Price, nullable=False, default=Decimal(0)
    )
    cost_per_1m_cached_input_tokens: Mapped[Decimal | None] = mapped_column(Price)
    power_level: Mapped[str] = mapped_column(String(20), nullable=False, default="balanced")
    power_level_priority: Mapped[int] = mapped_column(Integer, nullable=False, default=100)
    is_active: Mapped[bool] = _flag(True)
    is_deprecated: Mapped[bool] = _flag(False)
    deprecation_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replacement_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("llm_models.id", ondelete="SET NULL")
    )
    min_tier_required: Mapped[str] = mapped_column(String(20), nullable=False, default="free")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    provider: Mapped[LLMProvider] = relationship(back_populates="models")
    replacement: Mapped[LLMModel | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<LLMModel {self.id} {self.model_id!r}>"


class LLMRoutingRule(Base):
    """Serve requests of this power level, tier and task with this model, at this priority."""

    __tablename__ = "llm_routing_rules"
    __table_args__ = (
        Index("ix_llm_routing_rules_tier_active", "user_tier", "is_active"),
        Index("ix_llm_routing_rules_power_level", "power_level"),
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
    requires_byok: Mapped[bool] = _flag(False)
    is_fallback: Mapped[bool] = _flag(False)
    is_active: Mapped[bool] = _flag(True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    model: Mapped[LLMModel] = relationship()


class UserAPIKey(Base):
    """A user's own provider key (BYOK), stored encrypted; prefix and suffix for display."""

    __tablename__ = "user_api_keys"
    __table_args__ = (Index("ix_user_api_keys_user_provider", "user_id", "provider_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), nullable=False)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("llm_providers.id", ondelete="CASCADE"), nullable=False
    )
    key_name: Mapped[str | None] = mapped_column(String(200))
    encrypted_api_key: Mapped[str] = mapped_column(Text, nullable=False)
    key_prefix: Mapped[str | None] = mapped_column(String(16))
    key_suffix: Mapped[str | None] = mapped_column(String(8))
    is_active: Mapped[bool] = _flag(True)
    is_validated: Mapped[bool] = _flag(False)
    validation_error: Mapped[str | None] = mapped_column(Text)
    last_validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    provider: Mapped[LLMProvider] = relationship()


class LLMUsageLog(Base):
    """One request's bill: what served it, the tokens, the exact cost, and how it went."""

    __tablename__ = "llm_usage_logs"
    __table_args__ = (
        Index("ix_llm_usage_logs_user_created", "user_id", "created_at"),
        Index("ix_llm_usage_logs_model_created", "model_id", "created_at"),
        Index("ix_llm_usage_logs_created_at", "created_at"),
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
    task_type: Mapped[str | None] = mapped_column(String(50))
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    usage_estimated: Mapped[bool] = _flag(False)
    cost_input_usd: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    cost_cached_usd: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    cost_output_usd: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    cost_total_usd: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    used_byok: Mapped[bool] = _flag(False)
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
    created_at: Mapped[datetime] = _created()

    model: Mapped[LLMModel | None] = relationship()


class User(Base):
    """A user of the gateway: whose requests, at which tier, within which budget."""

    __tablename__ = "llm_users"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    tier: Mapped[str] = mapped_column(String(20), nullable=False, default="free")
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    monthly_budget_usd: Mapped[Decimal | None] = mapped_column(Money)
    default_power_level: Mapped[str | None] = mapped_column(String(20))
    is_active: Mapped[bool] = _flag(True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    virtual_keys: Mapped[list[VirtualKey]] = relationship(back_populates="user")


class VirtualKey(Base):
    """A gateway key (`sk-sb-…`) issued to a user. Only its SHA-256 hash is stored."""

    __tablename__ = "llm_virtual_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("llm_users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str | None] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_revoked: Mapped[bool] = _flag(False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = _created()

    user: Mapped[User] = relationship(back_populates="virtual_keys")


__all__ = [
    "Base",
    "LLMModel",
    "LLMProvider",
    "LLMRoutingRule",
    "LLMUsageLog",
    "User",
    "UserAPIKey",
    "VirtualKey",
]
