"""Who uses the gateway: users, their virtual keys, and their own provider keys (BYOK)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ColumnElement, ForeignKey, Index, Integer, String, Text, and_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from switchboard._types import Money, UTCDateTime
from switchboard.models.base import Base, created, flag, updated

if TYPE_CHECKING:
    from switchboard.models.catalog import LLMProvider


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
    is_active: Mapped[bool] = flag(True)
    is_validated: Mapped[bool] = flag(False)
    validation_error: Mapped[str | None] = mapped_column(Text)
    last_validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created()
    updated_at: Mapped[datetime] = updated()

    provider: Mapped[LLMProvider] = relationship()

    @classmethod
    def usable(cls) -> ColumnElement[bool]:
        """The keys the gateway may send: active, and accepted by the provider when last
        checked (a BYOK rule matches only with one)."""
        return and_(cls.is_active.is_(True), cls.is_validated.is_(True))


class LimitColumns:
    """Rate limits a user, a key or a tier may set (NULL: not set; `limits.policy` says which
    applies)."""

    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    tokens_per_minute: Mapped[int | None] = mapped_column(Integer)
    max_concurrent_requests: Mapped[int | None] = mapped_column(Integer)


class User(LimitColumns, Base):
    """A user of the gateway: whose requests, at which tier, within which budget."""

    __tablename__ = "llm_users"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    tier: Mapped[str] = mapped_column(String(20), nullable=False, default="free")
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    monthly_budget_usd: Mapped[Decimal | None] = mapped_column(Money)
    budget_include_byok: Mapped[bool] = flag(False)
    """Whether spend on the user's own provider keys counts towards the monthly budget."""
    default_power_level: Mapped[str | None] = mapped_column(String(20))
    is_active: Mapped[bool] = flag(True)
    created_at: Mapped[datetime] = created()
    updated_at: Mapped[datetime] = updated()

    virtual_keys: Mapped[list[VirtualKey]] = relationship(back_populates="user")


class VirtualKey(LimitColumns, Base):
    """A gateway key (`sk-sb-…`) issued to a user. Only its SHA-256 hash is stored. It may
    have a budget of its own (per day, week or month) and rate limits of its own."""

    __tablename__ = "llm_virtual_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("llm_users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str | None] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_revoked: Mapped[bool] = flag(False)
    budget_usd: Mapped[Decimal | None] = mapped_column(Money)
    budget_period: Mapped[str | None] = mapped_column(String(10))
    budget_include_byok: Mapped[bool] = flag(False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created()

    user: Mapped[User] = relationship(back_populates="virtual_keys")


class TierLimit(LimitColumns, Base):
    """A tier's default limits, set through the admin API (over `TIER_LIMITS`, field by field):
    rate limits per user, concurrent requests per key, and a budget per user."""

    __tablename__ = "llm_tier_limits"

    tier: Mapped[str] = mapped_column(String(20), primary_key=True)
    budget_usd: Mapped[Decimal | None] = mapped_column(Money)
    budget_period: Mapped[str | None] = mapped_column(String(10))
    budget_include_byok: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = updated()
