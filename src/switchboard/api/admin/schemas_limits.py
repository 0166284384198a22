"""Budgets and rate limits in the admin and BYOK APIs: what may be set, what is shown."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from switchboard.api.admin.schemas_usage import ByokUsagePublic
from switchboard.api.schemas import Dollars, DollarsOut
from switchboard.limit_fields import MAX_RATE
from switchboard.limits import Spend, to_dollars
from switchboard.services.limits_admin import LimitChanges
from switchboard.vocabulary import BudgetPeriod


class UserLimitsUpdate(BaseModel):
    """A user's own limits: requests and tokens per minute (all their keys together), at most
    so many requests at once per key, and a monthly budget in dollars. A field sent is set
    (null clears it: the tier's default applies); a field left out is kept."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int | None = Field(default=None, ge=1, le=MAX_RATE)
    tokens_per_minute: int | None = Field(default=None, ge=1, le=MAX_RATE)
    max_concurrent_requests: int | None = Field(default=None, ge=1, le=MAX_RATE)
    budget_usd: Dollars | None = None
    budget_include_byok: StrictBool = False
    """Whether spend on the user's own provider keys counts towards the budget."""

    def changes(self, *, every: bool = False) -> LimitChanges:
        """The fields sent, as `limits_admin` applies them; `every`: all of them, those left
        out at their defaults (a tier's limits are set whole)."""
        return cast(LimitChanges, self.model_dump(exclude_unset=not every))


class KeyLimitsUpdate(UserLimitsUpdate):
    """A key's own limits (counted for the key alone) and its budget, per `budget_period`."""

    budget_period: BudgetPeriod | None = None


class LimitsPublic(BaseModel):
    requests_per_minute: int | None
    tokens_per_minute: int | None
    max_concurrent_requests: int | None
    budget_usd: DollarsOut | None
    budget_period: BudgetPeriod | None
    budget_include_byok: bool | None


class TierLimitsPublic(LimitsPublic):
    tier: str
    source: str
    """`stored` (set through this API) or `settings` (`TIER_LIMITS`, or none)."""


class BudgetPublic(BaseModel):
    """The current period of a budget (or, with none, this month's system-key spend)."""

    scope: str
    owner: str
    period: BudgetPeriod
    include_byok: bool
    period_start: datetime
    resets_at: datetime
    limit_usd: DollarsOut | None
    spent_usd: DollarsOut
    reserved_usd: DollarsOut
    """Held by requests in flight: what they may cost at most."""
    remaining_usd: DollarsOut | None

    @classmethod
    def of(cls, spend: Spend, limit_units: int | None) -> BudgetPublic:
        account = spend.account
        remaining = (
            None
            if limit_units is None
            else to_dollars(limit_units - spend.total_units - spend.reserved_units)
        )
        return cls(
            scope=str(account.scope),
            owner=account.owner,
            period=account.period,
            include_byok=account.include_byok,
            period_start=account.start,
            resets_at=account.end,
            limit_usd=to_dollars(limit_units) if limit_units is not None else None,
            spent_usd=to_dollars(spend.total_units),
            reserved_usd=to_dollars(spend.reserved_units),
            remaining_usd=remaining,
        )


class SpendPublic(BaseModel):
    user_id: str
    key_id: int | None = None
    budget: BudgetPublic
    limits: LimitsPublic
    """What applies to the user (or the key): their own, else their tier's."""


class ByokUsageWithBudget(ByokUsagePublic):
    """The caller's usage, and the current period of the budget their requests count against
    (their own, else their tier's; with none, this month's system-key spend)."""

    budget: BudgetPublic
