"""Demands, claims and settlements as the limits' tests write them: alice's, held a minute
unless told otherwise; and a budget account opened with nothing spent."""

from __future__ import annotations

from datetime import UTC, datetime

from switchboard.limits import Budget, Claim, Demand, Limiter, Period, Scope, Settlement


def demand(request_id: str, **fields: object) -> Demand:
    values: dict[str, object] = {"user_id": "alice", "hold_ms": 60_000, **fields}
    return Demand(request_id=request_id, **values)  # type: ignore[arg-type]


def budget_claim(
    limit: int,
    units: int,
    *,
    owner: str = "alice",
    scope: Scope = Scope.USER,
    period: Period = Period.MONTHLY,
) -> Claim:
    budget = Budget(scope, owner, limit, period)
    return Claim(budget, budget.account(datetime.now(UTC)), units)


def settled(*costs: int, tokens: int | None = None, at: datetime | None = None) -> Settlement:
    return Settlement(costs, tokens, at or datetime.now(UTC))


async def open_account(limiter: Limiter, claim: Claim, first: Demand) -> int:
    """Ask once with `first`, so the limiter names the account to rebuild, and seed it with
    nothing spent; returns the instant the rebuild starts from."""
    decision = await limiter.admit(first)
    [(account, since)] = decision.rebuild
    assert account == claim.account
    await limiter.seed("alice", account, since, 0)
    return since
