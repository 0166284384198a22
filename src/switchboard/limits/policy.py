"""Which limits apply to a request: a tier's defaults, overridden by the user's own settings,
and the virtual key's own limits on top.

- Requests and tokens per minute: the user's (else the tier's), counted over all the user's
  keys; a key's own, counted for that key alone.
- Concurrent requests: per key: the key's (else the user's, else the tier's).
- Budgets: the user's (else the tier's default budget, each user counted alone); a key's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from switchboard.limits.money import to_units
from switchboard.limits.rules import Budget, Period, RateLimit, Scope


@dataclass(frozen=True, slots=True)
class Allowance:
    """Limits set on a tier, a user or a key; None is not set (the next level's applies, or
    none)."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_concurrent_requests: int | None = None
    budget_units: int | None = None
    budget_period: Period = Period.MONTHLY
    budget_include_byok: bool = False

    def budget(self, scope: Scope, owner: str) -> Budget | None:
        if self.budget_units is None:
            return None
        return Budget(scope, owner, self.budget_units, self.budget_period, self.budget_include_byok)


NO_LIMITS = Allowance()


class ConfiguredLimits(Protocol):
    """Where limits are configured (a tier's defaults, a user, a key): the rates under these
    names. Each stores its budget its own way, so the budget is the caller's to hand over."""

    @property
    def requests_per_minute(self) -> int | None: ...
    @property
    def tokens_per_minute(self) -> int | None: ...
    @property
    def max_concurrent_requests(self) -> int | None: ...
    @property
    def budget_include_byok(self) -> bool | None: ...


def allowance(
    limits: ConfiguredLimits, *, budget_usd: Decimal | None, budget_period: Period
) -> Allowance:
    """The limits configured in `limits` (a tier's defaults, a user's, a key's), with a budget
    of `budget_usd` dollars (None: not set) a `budget_period`."""
    return Allowance(
        requests_per_minute=limits.requests_per_minute,
        tokens_per_minute=limits.tokens_per_minute,
        max_concurrent_requests=limits.max_concurrent_requests,
        budget_units=to_units(budget_usd) if budget_usd is not None else None,
        budget_period=budget_period,
        budget_include_byok=bool(limits.budget_include_byok),
    )


@dataclass(frozen=True, slots=True)
class Policy:
    rates: tuple[RateLimit, ...] = ()
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    budgets: tuple[Budget, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.rates and self.concurrency_limit is None and not self.budgets


def resolve(
    *, user_id: str, key_id: int, tier: Allowance, user: Allowance, key: Allowance
) -> Policy:
    rates = []
    user_rpm = _first(user.requests_per_minute, tier.requests_per_minute)
    user_tpm = _first(user.tokens_per_minute, tier.tokens_per_minute)
    if user_rpm is not None or user_tpm is not None:
        rates.append(RateLimit(Scope.USER, user_id, user_rpm, user_tpm))
    if key.requests_per_minute is not None or key.tokens_per_minute is not None:
        rates.append(
            RateLimit(Scope.KEY, str(key_id), key.requests_per_minute, key.tokens_per_minute)
        )
    concurrency = _first(
        key.max_concurrent_requests, user.max_concurrent_requests, tier.max_concurrent_requests
    )
    user_budget = user.budget(Scope.USER, user_id) or tier.budget(Scope.USER, user_id)
    key_budget = key.budget(Scope.KEY, str(key_id))
    return Policy(
        rates=tuple(rates),
        concurrency_key=str(key_id) if concurrency is not None else None,
        concurrency_limit=concurrency,
        budgets=tuple(budget for budget in (user_budget, key_budget) if budget is not None),
    )


def _first(*values: int | None) -> int | None:
    return next((value for value in values if value is not None), None)
