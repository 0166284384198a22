"""Budgets and rate limits in the request path: one admission per request, before any provider
is called, and its settlement when the usage record is made.

`LimitsGate` (one per process) knows which limits apply to a principal (`limits.resolve`) and
holds the requests admitted and not yet settled. `RequestGate` (one per request, on its
`Route`) is the executor's `CallGate`: before the first call it admits the request — rate
limits, the key's concurrency and a reservation of the candidate's maximum cost on every
budget, in one round trip — and raises `LimitRefusedError` when a limit does not hold. Before
a fallback to another candidate it adjusts the reservation to that candidate's maximum cost
(another round trip, only if it differs), or skips the candidate when it no longer fits.
When the request ends, whatever way, `Gateway.record` hands its usage record here: the
reservation is replaced by the real cost and the token count by the real one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from switchboard.gateway.estimate import estimate_prompt_tokens, requested_output_tokens
from switchboard.gateway.keys import Principal
from switchboard.limits import (
    NO_LIMITS,
    Admissions,
    Allowance,
    Budget,
    BudgetAccount,
    Claim,
    Decision,
    Demand,
    FailoverLimiter,
    Limiter,
    LimitRefusedError,
    MemoryLimiter,
    Period,
    Policy,
    Scope,
    Settlement,
    Spend,
    allowance,
    resolve,
    to_dollars,
    to_units,
)
from switchboard.limits.cost import max_cost_units, output_bound
from switchboard.limits.rules import period_start
from switchboard.logs import log_event
from switchboard.providers.base import JSON
from switchboard.routing import Candidate
from switchboard.settings import Settings
from switchboard.usage.record import UsageRecord
from switchboard.usage.spend import Owner, pending_records, pending_spend, stored_spend
from switchboard.vocabulary import KeySource, Tier, WhenRedisDown

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SettledBudgets:
    """The budgets a settled request counted against (handed to `on_settled` listeners)."""

    user_id: str
    tier: Tier
    claims: tuple[Claim, ...]


@dataclass(frozen=True, slots=True)
class BudgetState:
    """One budget's current period as the counters hold it."""

    user_id: str
    tier: Tier
    scope: Scope
    owner: str
    limit_units: int
    spent_units: int
    period_start: datetime
    period_end: datetime
    include_byok: bool


SettledListener = Callable[[SettledBudgets], None]
"""Told, on the event loop, of each request that cost something against a budget; it must
not block (it schedules what it does)."""


MAX_CACHED = 10_000
"""Principals' policies and budgets' accounts kept; past that the caches start afresh."""

MAX_REQUEST_S = 6 * 3600
"""The longest a request's reservation is renewed: one that was never settled (its task was
cancelled before its usage record was made) then expires at its deadline, as a dead
replica's do, rather than hold its budget and slot for ever."""


def build_limiter(settings: Settings) -> Limiter:
    """Redis when REDIS_URL is set (with its failover), else this process's own counters."""
    if settings.redis_url is None:
        return MemoryLimiter()
    from switchboard.limits import RedisLimiter, connect

    client = connect(settings.redis_url, timeout_s=settings.redis_timeout_s)
    return FailoverLimiter(
        RedisLimiter(client, prefix=settings.redis_key_prefix),
        when_down=settings.limits_when_redis_down,
    )


class LimitsGate:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], *, limiter: Limiter
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._spool_dir: Path = settings.spool_dir
        self.admissions = Admissions(limiter, self._read_spend)
        self.tiers: Mapping[Tier, Allowance] = {
            tier: allowance(
                fields, budget_usd=fields.budget_usd, budget_period=fields.budget_period
            )
            for tier, fields in settings.tier_limits.items()
        }
        self.hold_ms = round(
            (
                settings.request_timeout_s * settings.max_attempts
                + settings.limits_reservation_margin_s
            )
            * 1000
        )
        self._open: dict[str, tuple[RequestGate, float]] = {}
        """Requests admitted and not yet settled, with when (monotonic) they were admitted
        or last renewed."""
        self._renewing: asyncio.Task[None] | None = None
        self._listeners: list[SettledListener] = []
        self._policies: dict[tuple[object, ...], Policy] = {}
        """Each principal's limits, resolved once (its allowances are part of the key: a
        change of limits is a new entry)."""
        self._accounts: dict[tuple[Budget, ...], tuple[BudgetAccount, ...]] = {}
        self._accounts_day = -1
        """The budgets' accounts of the day `_accounts_day` (days since the epoch, UTC): a
        period always starts at 00:00 UTC, so they hold all day."""

    @property
    def state(self) -> str:
        """`process`, `redis`, or `degraded` (Redis unreachable)."""
        limiter = self.admissions.limiter
        if not isinstance(limiter, FailoverLimiter):
            return "process"
        return "degraded" if limiter.degraded else "redis"

    @property
    def refusing(self) -> bool:
        """Requests that need a limit check are refused now (Redis away, `closed`)."""
        limiter = self.admissions.limiter
        return (
            isinstance(limiter, FailoverLimiter)
            and limiter.degraded
            and limiter.when_down is WhenRedisDown.CLOSED
        )

    def policy(self, principal: Principal) -> Policy:
        found = (
            principal.user_id,
            principal.key_id,
            principal.tier,
            principal.tier_limits,
            principal.user_limits,
            principal.key_limits,
        )
        policy = self._policies.get(found)
        if policy is None:
            if len(self._policies) >= MAX_CACHED:
                self._policies.clear()
            policy = self._policies[found] = resolve(
                user_id=principal.user_id,
                key_id=principal.key_id,
                tier=principal.tier_limits or self.tiers.get(principal.tier, NO_LIMITS),
                user=principal.user_limits,
                key=principal.key_limits,
            )
        return policy

    def accounts(self, budgets: tuple[Budget, ...]) -> tuple[BudgetAccount, ...]:
        """The budgets' accounts now."""
        now = time.time()
        day = int(now // 86400)
        if day != self._accounts_day:
            self._accounts.clear()
            self._accounts_day = day
        accounts = self._accounts.get(budgets)
        if accounts is None:
            if len(self._accounts) >= MAX_CACHED:
                self._accounts.clear()
            moment = datetime.fromtimestamp(day * 86400, UTC)
            accounts = self._accounts[budgets] = tuple(budget.account(moment) for budget in budgets)
        return accounts

    def user_budget(
        self, user_id: str, tier: Tier, user: Allowance, stored_tier: Allowance | None
    ) -> Budget | None:
        """The budget a user's requests count against: their own, else their tier's."""
        tier_limits = stored_tier or self.tiers.get(tier, NO_LIMITS)
        return user.budget(Scope.USER, user_id) or tier_limits.budget(Scope.USER, user_id)

    def tier_allowance(self, tier: Tier, stored: Allowance | None) -> Allowance:
        """The tier's limits: stored through the admin API, else `TIER_LIMITS`'s."""
        return stored or self.tiers.get(tier, NO_LIMITS)

    async def spend(
        self, user_id: str, budget: Budget | None, *, scope: Scope, owner: str
    ) -> Spend:
        """The current period of `budget` (this month's system-key spend when there is none):
        spent, reserved in flight. Rebuilt from the database first if its counters are new."""
        now = datetime.now(UTC)
        if budget is not None:
            account = budget.account(now)
        else:
            account = BudgetAccount(scope, owner, Period.MONTHLY, period_start(Period.MONTHLY, now))
        return await self.admissions.spend(user_id, account)

    def gate(self, request_id: str, principal: Principal, body: JSON) -> RequestGate | None:
        """The request's gate; None when no limit applies to it (nothing to check or count)."""
        policy = self.policy(principal)
        if policy.empty:
            return None
        return RequestGate(self, request_id, principal, policy, body)

    def track(self, gate: RequestGate) -> None:
        """`gate`'s request was admitted: settle it when its usage record is made, and keep
        its reservation while it runs."""
        gate.admitted_at = time.monotonic()
        self._open[gate.request_id] = (gate, gate.admitted_at)
        if self._renewing is None:
            self._renewing = asyncio.get_running_loop().create_task(
                self._renew_running(), name="limits-renewal"
            )

    def settle(self, record: UsageRecord) -> None:
        """The request of `record` ended: its real cost and tokens replace its reservation."""
        gate, _ = self._open.pop(record.request_id, (None, 0.0))
        if gate is None or gate.demand is None:
            return
        cost = to_units(record.cost_total_usd)
        costs = tuple(
            cost if claim.budget.include_byok or not record.used_byok else 0
            for claim in gate.demand.claims
        )
        settlement = Settlement(costs, record.total_tokens, record.created_at)
        self.admissions.settle_soon(gate.demand, settlement)
        if self._listeners and any(costs):
            settled = SettledBudgets(
                gate.principal.user_id, gate.principal.tier, gate.demand.claims
            )
            for listener in self._listeners:
                listener(settled)

    def on_settled(self, listener: SettledListener) -> None:
        """Call `listener` with the budgets of every request settled with a cost from now on."""
        self._listeners.append(listener)

    async def standings(self, settled: SettledBudgets) -> list[BudgetState]:
        """The budgets of a settled request, once its settlement (and those queued with it)
        has reached the counters."""
        await self.admissions.settled()
        return [
            await self.standing(settled.user_id, settled.tier, claim.budget)
            for claim in settled.claims
        ]

    async def standing(self, user_id: str, tier: Tier, budget: Budget) -> BudgetState:
        """The budget's current period: its spend from the counters (rebuilt if new)."""
        account = budget.account(datetime.now(UTC))
        spend = await self.admissions.spend(user_id, account)
        return BudgetState(
            user_id=user_id,
            tier=tier,
            scope=budget.scope,
            owner=budget.owner,
            limit_units=budget.limit_units,
            spent_units=spend.total_units,
            period_start=account.start,
            period_end=account.end,
            include_byok=budget.include_byok,
        )

    async def _renew_running(self) -> None:
        """A third of the way to their deadline, the requests still running (long streams)
        get their reservations and slots renewed, in one round trip: a live request never
        loses its reservation, and a dead replica's requests still expire."""
        every_s = self.hold_ms / 3000
        while True:
            await asyncio.sleep(every_s)
            now = time.monotonic()
            for request_id, (gate, _) in list(self._open.items()):
                if now - gate.admitted_at > MAX_REQUEST_S:  # never settled: let it expire
                    del self._open[request_id]
            due = [
                (request_id, gate)
                for request_id, (gate, since) in self._open.items()
                if now - since >= every_s and gate.demand is not None
            ]
            if not due:
                continue
            try:
                await self.admissions.limiter.renew([gate.demand for _, gate in due if gate.demand])
            except Exception as error:  # the deadline stands; the next tick tries again
                log_event(log, logging.WARNING, "limits_renewal_failed", error=type(error).__name__)
                continue
            for request_id, gate in due:
                if request_id in self._open:
                    self._open[request_id] = (gate, now)

    async def close(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            await asyncio.gather(self._renewing, return_exceptions=True)
        await self.admissions.close()

    async def _read_spend(self, user_id: str, account: BudgetAccount, until: datetime) -> int:
        owner = Owner(
            user_id=user_id,
            key_id=int(account.owner) if account.scope is Scope.KEY else None,
            include_byok=account.include_byok,
        )
        return await asyncio.to_thread(self._read_spend_now, owner, account.start, until)

    def _read_spend_now(self, owner: Owner, start: datetime, until: datetime) -> int:
        pending = pending_records(self._spool_dir)
        with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":  # both sums from one snapshot
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            stored = stored_spend(session, owner, start, until)
            return stored + pending_spend(session, pending, owner, start, until)


@dataclass(slots=True)
class RequestGate:
    limits: LimitsGate
    request_id: str
    principal: Principal
    policy: Policy
    body: JSON
    demand: Demand | None = None
    decision: Decision | None = None
    """The admission's answer: what the rate-limit headers show."""
    prompt_tokens: int = field(init=False)
    """The prompt's estimate, read from the body once."""
    admitted_at: float = 0.0
    """When (monotonic) it was admitted."""

    def __post_init__(self) -> None:
        self.prompt_tokens = estimate_prompt_tokens(self.body)

    async def before_call(self, candidate: Candidate, key_source: KeySource) -> str | None:
        """None: call `candidate`; a reason: skip it. Raises `LimitRefusedError` when the
        request is not admitted at all."""
        output_tokens = self._output_tokens(candidate)
        units = self._units(candidate, key_source, output_tokens)
        if self.demand is None:
            await self._admit(output_tokens, units)
            return None
        if units == tuple(claim.units for claim in self.demand.claims):
            return None
        decision = await self.limits.admissions.adjust(self.demand, units)
        if decision.refusal is not None:
            refusal = decision.refusal
            return (
                f"over the {refusal.scope} budget: may cost up to ${to_dollars(refusal.needed)}, "
                f"${to_dollars(refusal.remaining)} left"
            )
        self.demand = replace(
            self.demand,
            claims=tuple(
                replace(claim, units=new)
                for claim, new in zip(self.demand.claims, units, strict=True)
            ),
        )
        return None

    async def _admit(self, output_tokens: int, units: tuple[int, ...]) -> None:
        policy = self.policy
        claims: tuple[Claim, ...] = ()
        if policy.budgets:
            accounts = self.limits.accounts(policy.budgets)
            claims = tuple(
                Claim(budget, account, amount)
                for budget, account, amount in zip(policy.budgets, accounts, units, strict=True)
            )
        demand = Demand(
            request_id=self.request_id,
            user_id=self.principal.user_id,
            rates=policy.rates,
            tokens=self.prompt_tokens + output_tokens,
            concurrency_key=policy.concurrency_key,
            concurrency_limit=policy.concurrency_limit,
            claims=claims,
            hold_ms=self.limits.hold_ms,
        )
        decision = await self.limits.admissions.admit(demand)
        self.decision = decision
        if decision.refusal is not None:
            raise LimitRefusedError(decision)
        self.demand = demand
        self.limits.track(self)

    def _units(
        self, candidate: Candidate, key_source: KeySource, output_tokens: int
    ) -> tuple[int, ...]:
        if not self.policy.budgets:
            return ()
        cost = max_cost_units(
            candidate.model, prompt_tokens=self.prompt_tokens, output_tokens=output_tokens
        )
        return tuple(
            cost if key_source is KeySource.SYSTEM or budget.include_byok else 0
            for budget in self.policy.budgets
        )

    def _output_tokens(self, candidate: Candidate) -> int:
        bound = output_bound(
            requested_output_tokens(self.body),
            candidate.model,
            self.limits.settings.limits_output_tokens_cap,
        )
        choices: Any = self.body.get("n")
        return bound * (choices if isinstance(choices, int) and choices > 1 else 1)
