"""What a request asks of the limits: the rules that apply to it, as plain data.

A *rate limit* counts requests and tokens per minute for an owner (a user or a virtual key);
a *concurrency* limit counts a key's requests in flight; a *budget* caps what an owner
spends in a period. Money is in integer units of 10⁻¹⁰ dollars (`money`). A `Demand` is one
request's claim on all of them, checked and taken at once (`Limiter.admit`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from switchboard.vocabulary import BudgetPeriod

WINDOW_MS = 60_000
"""Rate limits count what was admitted in the last minute (a sliding window)."""


class Scope(enum.StrEnum):
    """Whose counter: a user's (all their keys) or one virtual key's."""

    USER = "user"
    KEY = "key"


Period = BudgetPeriod


def period_start(period: Period, moment: datetime) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.DAILY:
        return day
    if period is Period.WEEKLY:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def period_end(period: Period, moment: datetime) -> datetime:
    """The start of the next period: when the budget is whole again."""
    start = period_start(period, moment)
    if period is Period.DAILY:
        return start + timedelta(days=1)
    if period is Period.WEEKLY:
        return start + timedelta(days=7)
    return (start + timedelta(days=32)).replace(day=1)


class LimitKind(enum.StrEnum):
    """What a refusal was for."""

    REQUESTS = "requests"
    TOKENS = "tokens"
    CONCURRENCY = "concurrency"
    BUDGET = "budget"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Requests and tokens per minute for one owner; None is no limit."""

    scope: Scope
    owner: str
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


@dataclass(frozen=True, slots=True)
class Budget:
    """At most `limit_units` spent by the owner per `period`. Only what went on a system key
    counts, unless `include_byok`."""

    scope: Scope
    owner: str
    limit_units: int
    period: Period
    include_byok: bool = False

    def account(self, moment: datetime) -> BudgetAccount:
        return BudgetAccount(
            self.scope,
            self.owner,
            self.period,
            period_start(self.period, moment),
            self.include_byok,
        )


@dataclass(frozen=True, slots=True)
class BudgetAccount:
    """One owner's spend in one period: what the counters keep, and what a rebuild reads."""

    scope: Scope
    owner: str
    period: Period
    start: datetime
    include_byok: bool = False
    """Whether spend on the user's own keys counts: a budget that changes this starts a new
    account (its spend is another sum)."""

    @property
    def end(self) -> datetime:
        return period_end(self.period, self.start)

    @property
    def name(self) -> str:
        """`scope:owner:period:YYYYMMDD:s|a`: the account's part of a counter's key (`s`:
        system-key spend only, `a`: all spend)."""
        spend = "a" if self.include_byok else "s"
        start = self.start  # not strftime: this is on every request's path
        day = f"{start.year:04d}{start.month:02d}{start.day:02d}"
        return f"{self.scope}:{self.owner}:{self.period}:{day}:{spend}"


@dataclass(frozen=True, slots=True)
class Claim:
    """A budget and what one request reserves of it (0: the request does not count towards
    it, e.g. served with the user's own key when the budget leaves those out)."""

    budget: Budget
    account: BudgetAccount
    units: int


@dataclass(frozen=True, slots=True)
class Demand:
    """One request's claim on every limit that applies to it."""

    request_id: str
    user_id: str
    """Every counter of a request belongs to its user (one Redis hash slot)."""
    rates: tuple[RateLimit, ...] = ()
    tokens: int = 0
    """Counted against tokens per minute at admission: the prompt estimate and the output
    bound; replaced by the real count when the request ends."""
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    claims: tuple[Claim, ...] = ()
    hold_ms: int = 0
    """How long the reservation and the concurrency slot last if never settled (a replica
    that died with the request in flight): the request's timeout and a margin."""

    @property
    def empty(self) -> bool:
        """Nothing to check or count: no round trip at all."""
        return not self.rates and self.concurrency_limit is None and not self.claims


@dataclass(frozen=True, slots=True)
class Settlement:
    """How a request ended: its real cost per account (0 where it does not count), its real
    tokens (None: keep the admission's count), and when its usage record was made."""

    costs: tuple[int, ...]
    """In the order of the demand's claims."""
    tokens: int | None
    created_at: datetime
