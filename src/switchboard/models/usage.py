"""The bill: one row per request."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from switchboard._types import Money
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
