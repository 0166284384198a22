"""`MemoryLimiter`: the counters in this process only (the `make run` default, and the
fallback while Redis is unreachable). Same semantics as the Redis scripts (`redis_scripts`),
in plain Python: everything runs on the event loop, so each call is atomic."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from switchboard.limits.outcome import BudgetStatus, Decision, RateStatus, Refusal, Spend
from switchboard.limits.rules import (
    WINDOW_MS,
    BudgetAccount,
    Claim,
    Demand,
    LimitKind,
    Scope,
    Settlement,
)

CONCURRENCY_RETRY_MS = 1000


@dataclass(slots=True)
class _Window:
    """What was admitted in the last minute: request id → (admitted at, amount)."""

    entries: OrderedDict[str, tuple[int, int]] = field(default_factory=OrderedDict)
    """Oldest first (insertion order is time order): a purge and the newest cost O(1) each,
    however many requests the minute holds."""
    total: int = 0

    def purge(self, now: int) -> None:
        while self.entries:
            request_id, (at, amount) = next(iter(self.entries.items()))
            if at > now - WINDOW_MS:
                break
            del self.entries[request_id]
            self.total -= amount

    def retry_ms(self, now: int, free: int) -> int:
        """How long until `free` more fits."""
        freed = 0
        for at, amount in self.entries.values():
            freed += amount
            if freed >= free:
                return max(1, at + WINDOW_MS - now)
        return WINDOW_MS

    def reset_ms(self, now: int) -> int:
        if not self.entries:
            return 0
        newest, _ = next(reversed(self.entries.values()))
        return max(0, newest + WINDOW_MS - now)


SETTLED_MS = 120_000
"""How long a settled request is remembered (`redis_scripts`' SETTLED_MS)."""


@dataclass(slots=True)
class _Account:
    since_ms: int
    base: int | None = None
    spent: int = 0
    reservations: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Request id → (units, deadline)."""
    settled: OrderedDict[str, int] = field(default_factory=OrderedDict)
    """Request id → when it was settled (oldest first), for `SETTLED_MS`: settling twice
    counts once."""

    def first_settlement(self, request_id: str, now: int) -> bool:
        """Whether `request_id` is settled for the first time (as Redis's script decides)."""
        while self.settled:
            old, at = next(iter(self.settled.items()))
            if at > now - SETTLED_MS:
                break
            del self.settled[old]
        if request_id in self.settled:
            return False
        self.settled[request_id] = now
        return True

    def purge(self, now: int) -> None:
        for request_id, (_, deadline) in list(self.reservations.items()):
            if deadline <= now:
                del self.reservations[request_id]

    @property
    def reserved(self) -> int:
        return sum(units for units, _ in self.reservations.values())

    @property
    def total(self) -> int:
        return (self.base or 0) + self.spent


class MemoryLimiter:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[tuple[LimitKind, Scope, str], _Window] = {}
        self._slots: dict[str, dict[str, int]] = {}
        self._accounts: dict[BudgetAccount, _Account] = {}

    def clear(self) -> None:
        """Forget everything (counters are rebuilt from the database on their next use)."""
        self._windows.clear()
        self._slots.clear()
        self._accounts.clear()

    def _now(self) -> int:
        return int(self._clock() * 1000)

    async def admit(self, demand: Demand) -> Decision:
        now = self._now()
        rates, refusal = self._rate_windows(demand, now)
        slots, slot_refusal = self._concurrency_slots(demand, now)
        refusal = refusal or slot_refusal
        accounts, rebuild = self._budget_accounts(demand, now)
        if rebuild:
            return Decision(rebuild=tuple(rebuild), now_ms=now)
        if refusal is None:
            refusal = _budget_refusal(demand, accounts, now)
        if refusal is not None:
            before = tuple(status for _, status, _ in rates)
            return Decision(refusal, before, _budget_statuses(demand, accounts), now_ms=now)
        statuses = []
        for window, status, amount in rates:
            window.entries[demand.request_id] = (now, amount)
            window.total += amount
            statuses.append(
                RateStatus(
                    status.kind, status.scope, status.limit, status.remaining - amount, WINDOW_MS
                )
            )
        if slots is not None:
            slots[demand.request_id] = now + demand.hold_ms
        for claim, account in zip(demand.claims, accounts, strict=True):
            if claim.units:
                account.reservations[demand.request_id] = (claim.units, now + demand.hold_ms)
        return Decision(None, tuple(statuses), _budget_statuses(demand, accounts), now_ms=now)

    def _rate_windows(
        self, demand: Demand, now: int
    ) -> tuple[list[tuple[_Window, RateStatus, int]], Refusal | None]:
        """The demand's rate windows (purged), each with its status and the amount asked of
        it, and the first that the demand would overrun."""
        refusal: Refusal | None = None
        rates: list[tuple[_Window, RateStatus, int]] = []
        for rate in demand.rates:
            for kind, limit, amount in (
                (LimitKind.REQUESTS, rate.requests_per_minute, 1),
                (LimitKind.TOKENS, rate.tokens_per_minute, demand.tokens),
            ):
                if limit is None:
                    continue
                window = self._windows.setdefault((kind, rate.scope, rate.owner), _Window())
                window.purge(now)
                if refusal is None and window.total + amount > limit:
                    free = window.total + amount - limit
                    refusal = Refusal(
                        kind,
                        rate.scope,
                        rate.owner,
                        limit,
                        max(0, limit - window.total),
                        window.retry_ms(now, free) if amount <= limit else WINDOW_MS,
                        needed=amount,
                    )
                status = RateStatus(
                    kind, rate.scope, limit, max(0, limit - window.total), window.reset_ms(now)
                )
                rates.append((window, status, amount))
        return rates, refusal

    def _concurrency_slots(
        self, demand: Demand, now: int
    ) -> tuple[dict[str, int] | None, Refusal | None]:
        """The key's requests in flight (request id → deadline; None: no limit), and the
        refusal when they are all taken."""
        if demand.concurrency_key is None or demand.concurrency_limit is None:
            return None, None
        slots = self._slots.setdefault(demand.concurrency_key, {})
        for request_id, deadline in list(slots.items()):
            if deadline <= now:
                del slots[request_id]
        if len(slots) < demand.concurrency_limit:
            return slots, None
        refusal = Refusal(
            LimitKind.CONCURRENCY,
            Scope.KEY,
            demand.concurrency_key,
            demand.concurrency_limit,
            0,
            CONCURRENCY_RETRY_MS,
            needed=1,
        )
        return slots, refusal

    def _budget_accounts(
        self, demand: Demand, now: int
    ) -> tuple[list[_Account], list[tuple[BudgetAccount, int]]]:
        """The demand's budget accounts (purged), and those whose spend must first be read
        from the database (account, since when)."""
        accounts, rebuild = [], []
        for claim in demand.claims:
            account = self._accounts.get(claim.account)
            if account is None:
                account = self._accounts[claim.account] = _Account(since_ms=now)
            account.purge(now)
            accounts.append(account)
            if account.base is None:
                rebuild.append((claim.account, account.since_ms))
        return accounts, rebuild

    async def adjust(self, demand: Demand, units: tuple[int, ...]) -> Decision:
        now = self._now()
        accounts = []
        for claim, new in zip(demand.claims, units, strict=True):
            account = self._accounts.get(claim.account)
            if account is None:  # forgotten meanwhile: nothing to hold against
                account = self._accounts[claim.account] = _Account(since_ms=now, base=0)
            account.purge(now)
            accounts.append(account)
            old = account.reservations.get(demand.request_id, (0, 0))[0]
            remaining = claim.budget.limit_units - account.total - account.reserved + old
            if new > old and new > remaining:
                return Decision(_over_budget(claim, remaining, new, now), now_ms=now)
        for account, new in zip(accounts, units, strict=True):
            if new:
                account.reservations[demand.request_id] = (new, now + demand.hold_ms)
            else:
                account.reservations.pop(demand.request_id, None)
        return Decision(budgets=_budget_statuses(demand, accounts), now_ms=now)

    async def settle(self, demand: Demand, settlement: Settlement) -> None:
        created_ms = int(settlement.created_at.timestamp() * 1000)
        if settlement.tokens is not None:
            for rate in demand.rates:
                window = self._windows.get((LimitKind.TOKENS, rate.scope, rate.owner))
                entry = window.entries.get(demand.request_id) if window else None
                if window is not None and entry is not None:
                    window.entries[demand.request_id] = (entry[0], settlement.tokens)
                    window.total += settlement.tokens - entry[1]
        if demand.concurrency_key is not None:
            self._slots.get(demand.concurrency_key, {}).pop(demand.request_id, None)
        for claim, cost in zip(demand.claims, settlement.costs, strict=True):
            account = self._accounts.get(claim.account)
            if account is None:
                continue  # counted by the rebuild, from the usage record
            account.reservations.pop(demand.request_id, None)
            first = account.first_settlement(demand.request_id, self._now())
            if first and cost and created_ms >= account.since_ms:
                account.spent += cost

    async def settle_all(self, items: Sequence[tuple[Demand, Settlement]]) -> None:
        for demand, settlement in items:
            await self.settle(demand, settlement)

    async def renew(self, demands: Sequence[Demand]) -> None:
        now = self._now()
        for demand in demands:
            deadline = now + demand.hold_ms
            slots = self._slots.get(demand.concurrency_key or "", {})
            if slots.get(demand.request_id, 0) > now:
                slots[demand.request_id] = deadline
            for claim in demand.claims:
                account = self._accounts.get(claim.account)
                held = account.reservations.get(demand.request_id) if account else None
                if account is not None and held is not None and held[1] > now:
                    account.reservations[demand.request_id] = (held[0], deadline)

    async def seed(
        self, user_id: str, account: BudgetAccount, since_ms: int, base_units: int
    ) -> None:
        kept = self._accounts.get(account)
        if kept is not None and kept.base is None and kept.since_ms == since_ms:
            kept.base = base_units

    async def spend(self, user_id: str, account: BudgetAccount) -> Spend:
        kept = self._accounts.get(account)
        if kept is None:
            return Spend(account, 0, 0, None, None)
        kept.purge(self._now())
        return Spend(account, kept.spent, kept.reserved, kept.base, kept.since_ms)

    async def close(self) -> None:
        self.clear()


def _until(account: BudgetAccount, now_ms: int) -> int:
    return max(1, int(account.end.timestamp() * 1000) - now_ms)


def _budget_refusal(demand: Demand, accounts: list[_Account], now: int) -> Refusal | None:
    """The refusal for the first budget the demand's claims would overrun, if any."""
    for claim, account in zip(demand.claims, accounts, strict=True):
        remaining = claim.budget.limit_units - account.total - account.reserved
        if claim.units and claim.units > remaining:
            return _over_budget(claim, remaining, claim.units, now)
    return None


def _over_budget(claim: Claim, remaining: int, needed: int, now: int) -> Refusal:
    budget = claim.budget
    return Refusal(
        LimitKind.BUDGET,
        budget.scope,
        budget.owner,
        budget.limit_units,
        max(0, remaining),
        _until(claim.account, now),
        needed=needed,
    )


def _budget_statuses(demand: Demand, accounts: list[_Account]) -> tuple[BudgetStatus, ...]:
    return tuple(
        BudgetStatus(claim.account, claim.budget.limit_units, account.total, account.reserved)
        for claim, account in zip(demand.claims, accounts, strict=True)
    )
