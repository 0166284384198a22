"""What `RedisLimiter` sends for a demand: the keys of its counters and its arguments to the
scripts (`redis_scripts`), as one string of numbers and ids joined by commas.

Most of it depends only on the demand's shape — its user, rate limits, concurrency limit,
budgets and their accounts — which stays the same over many requests (a key's limits, this
period's accounts). `Wires` builds it once per shape; a request adds only its id, its tokens
and what it reserves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from switchboard.limits.rules import BudgetAccount, Claim, Demand, LimitKind, Scope

ACCOUNT_KEPT = timedelta(days=2)
"""How long after its period ends an account's keys stay (for `GET …/spend` of a period that
just ended); then Redis expires them."""
MAX_SHAPES = 10_000
"""Shapes kept; past that the cache starts afresh (a shape costs a few microseconds to build)."""

Counter = tuple[LimitKind, Scope, str, int]


class Keys:
    """Every key of a user's counters starts with the prefix and the user's hash tag."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def key(self, user_id: str, *parts: str) -> str:
        return f"{self.prefix}{{u:{user_id}}}:" + ":".join(parts)

    def account(self, user_id: str, account: BudgetAccount) -> list[str]:
        """The account's hash, reservations (by deadline) and reserved amounts."""
        name = account.name
        return [self.key(user_id, kind, name) for kind in ("b", "br", "ba")]

    def settled(self, user_id: str, account: BudgetAccount) -> str:
        return self.key(user_id, "bd", account.name)


@dataclass(frozen=True, slots=True)
class Wire:
    """A demand shape's keys and the fixed parts of its arguments."""

    counters: tuple[Counter, ...]
    """Each rate counter, in the order the script sees them."""
    admit_keys: list[str]
    admit_middle: str
    """The admission's arguments after id, hold and tokens, up to the claims."""
    claim_parts: tuple[tuple[str, str], ...]
    """Per claim, what goes before and after its units."""
    settle_keys: list[str]
    settle_middle: str
    """The settlement's arguments after id, created and tokens, up to the costs."""
    reservation_keys: tuple[str, ...]
    """Per claim, its reservations (renewed while the request runs)."""
    slots_key: str | None

    def admit_args(self, demand: Demand) -> str:
        head = f"{demand.request_id},{demand.hold_ms},{demand.tokens}{self.admit_middle}"
        if not self.claim_parts:
            return head
        return head + "".join(
            f"{before}{claim.units}{after}"
            for (before, after), claim in zip(self.claim_parts, demand.claims, strict=True)
        )

    def settle_args(
        self, request_id: str, created_ms: int, tokens: int | None, costs: tuple[int, ...]
    ) -> str:
        head = f"{request_id},{created_ms},{-1 if tokens is None else tokens}{self.settle_middle}"
        return head + "".join(f",{cost}" for cost in costs)

    def renew_keys(self, demand: Demand) -> list[str]:
        keys = [
            key
            for key, claim in zip(self.reservation_keys, demand.claims, strict=True)
            if claim.units > 0
        ]
        if self.slots_key is not None:
            keys.append(self.slots_key)
        return keys


class Wires:
    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self._shapes: dict[object, Wire] = {}

    def of(self, demand: Demand) -> Wire:
        shape = (
            demand.user_id,
            demand.rates,
            demand.concurrency_key,
            demand.concurrency_limit,
            tuple([(claim.budget, claim.account) for claim in demand.claims]),
        )
        wire = self._shapes.get(shape)
        if wire is None:
            if len(self._shapes) >= MAX_SHAPES:
                self._shapes.clear()
            wire = self._shapes[shape] = self._build(demand)
        return wire

    def _build(self, demand: Demand) -> Wire:
        key, user = self.keys.key, demand.user_id
        counters = rate_counters(demand)
        admit_keys: list[str] = []
        middle = [str(len(counters))]
        logs = {(scope, owner) for kind, scope, owner, _ in counters if kind is LimitKind.TOKENS}
        for kind, scope, owner, limit in counters:
            if kind is LimitKind.REQUESTS:  # the token counter's log, when it has one
                log = "tk" if (scope, owner) in logs else "rq"
                admit_keys.append(key(user, log, scope, owner))
                middle += ["r", str(limit)]
            else:
                admit_keys += [key(user, "tk", scope, owner), key(user, "ta", scope, owner)]
                middle += ["t", str(limit)]
        slots_key = None
        if demand.concurrency_key is not None and demand.concurrency_limit is not None:
            slots_key = key(user, "cc", demand.concurrency_key)
            admit_keys.append(slots_key)
            middle.append(str(demand.concurrency_limit))
        else:
            middle.append("-1")
        middle.append(str(len(demand.claims)))
        settle_keys = [
            key(user, "ta", rate.scope, rate.owner)
            for rate in demand.rates
            if rate.tokens_per_minute is not None
        ]
        if slots_key is not None:
            settle_keys.append(slots_key)
        reservation_keys = []
        for claim in demand.claims:
            account_keys = self.keys.account(user, claim.account)
            admit_keys += account_keys
            settle_keys += [*account_keys, self.keys.settled(user, claim.account)]
            reservation_keys.append(account_keys[1])
        token_counters = sum(1 for rate in demand.rates if rate.tokens_per_minute is not None)
        return Wire(
            counters=tuple(counters),
            admit_keys=admit_keys,
            admit_middle="," + ",".join(middle),
            claim_parts=tuple(
                (f",{claim.budget.limit_units},", f",{ttl_ms(claim)}") for claim in demand.claims
            ),
            settle_keys=settle_keys,
            settle_middle=(
                f",{token_counters},{0 if slots_key is None else 1},{len(demand.claims)}"
            ),
            reservation_keys=tuple(reservation_keys),
            slots_key=slots_key,
        )


def rate_counters(demand: Demand) -> list[Counter]:
    """Each rate counter of the demand, in the order the script sees them."""
    counters = []
    for rate in demand.rates:
        if rate.requests_per_minute is not None:
            counters.append((LimitKind.REQUESTS, rate.scope, rate.owner, rate.requests_per_minute))
        if rate.tokens_per_minute is not None:
            counters.append((LimitKind.TOKENS, rate.scope, rate.owner, rate.tokens_per_minute))
    return counters


def ttl_ms(claim: Claim) -> int:
    end = claim.account.end + ACCOUNT_KEPT
    return int((end - claim.account.start).total_seconds() * 1000)
