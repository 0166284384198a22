"""What the limits answer: a `Decision` for a request, and an account's `Spend`."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.errors import SwitchboardError
from switchboard.limits.rules import BudgetAccount, LimitKind, Scope


@dataclass(frozen=True, slots=True)
class RateStatus:
    """One rate counter after a request: for the `x-ratelimit-*` headers."""

    kind: LimitKind
    """REQUESTS or TOKENS."""
    scope: Scope
    limit: int
    remaining: int
    reset_ms: int
    """Until the window holds nothing of what is counted now: the limit is whole again."""


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A budget's account after a request: spent (settled), reserved (in flight)."""

    account: BudgetAccount
    limit_units: int
    spent_units: int
    reserved_units: int

    @property
    def remaining_units(self) -> int:
        return self.limit_units - self.spent_units - self.reserved_units


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was not admitted, and when trying again may work."""

    kind: LimitKind
    scope: Scope
    owner: str
    limit: int
    remaining: int
    """What is left (requests, tokens, slots, or units of money)."""
    retry_after_ms: int
    needed: int = 0
    """What the request asked for (tokens, or units of money)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """`refusal` None: admitted and counted. `rebuild`: accounts whose spend before `since_ms`
    must first be read from the database (`Limiter.seed`); nothing was counted."""

    refusal: Refusal | None = None
    rates: tuple[RateStatus, ...] = ()
    budgets: tuple[BudgetStatus, ...] = ()
    rebuild: tuple[tuple[BudgetAccount, int], ...] = ()
    now_ms: int = 0

    @property
    def admitted(self) -> bool:
        return self.refusal is None and not self.rebuild


@dataclass(frozen=True, slots=True)
class Spend:
    """An account as the counters hold it. `base_units` None: not rebuilt since the counters
    were empty (`spent_units` then holds only what was settled since `since_ms`)."""

    account: BudgetAccount
    spent_units: int
    reserved_units: int
    base_units: int | None
    since_ms: int | None

    @property
    def total_units(self) -> int:
        return (self.base_units or 0) + self.spent_units


class LimiterUnavailableError(SwitchboardError):
    """The shared counters (Redis) cannot be reached."""


class LimitRefusedError(SwitchboardError):
    """A request over a rate limit, its key's concurrency or a budget: refused before any
    provider was called. `decision` holds the refusal and the counters' state."""

    def __init__(self, decision: Decision) -> None:
        assert decision.refusal is not None
        super().__init__(f"refused: {decision.refusal.kind} limit of {decision.refusal.owner}")
        self.decision = decision
        self.refusal: Refusal = decision.refusal
