"""Limits as they are configured: a tier's defaults in `TIER_LIMITS` (JSON, per tier), and the
same fields on a user or a key (the admin API). Plain settings, beside `settings` (which
reads them), so that reading settings loads none of `limits`."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from switchboard.vocabulary import BudgetPeriod

MAX_BUDGET_USD = Decimal(1_000_000_000)
MAX_RATE = 1_000_000_000


class LimitFields(BaseModel):
    """Requests and tokens per minute, concurrent requests, and a budget (dollars a period,
    BYOK spend included or not). A field left out is not set."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int | None = Field(default=None, ge=1, le=MAX_RATE)
    tokens_per_minute: int | None = Field(default=None, ge=1, le=MAX_RATE)
    max_concurrent_requests: int | None = Field(default=None, ge=1, le=MAX_RATE)
    budget_usd: Decimal | None = Field(default=None, ge=0, le=MAX_BUDGET_USD, decimal_places=10)
    budget_period: BudgetPeriod = BudgetPeriod.MONTHLY
    budget_include_byok: bool = False
