"""Budgets and rate limits, held across replicas.

One interface (`Limiter`), two backends: `MemoryLimiter` (this process only: `make run`) and
`RedisLimiter` (every replica sharing one Redis; each operation one Lua script, sent over
one pipelined connection, `ScriptChannel`), and
`FailoverLimiter` for when Redis cannot be reached. `Admissions` is what the gateway uses:
admission, reservation, settlement, and the rebuild of budget counters from the database.

`RedisLimiter` and `connect` are imported on first use: every command line run (and every
setting read) would pay for importing them otherwise.
"""

from typing import TYPE_CHECKING, Any

from switchboard.limits.admission import Admissions, SpendReader
from switchboard.limits.backend import Limiter
from switchboard.limits.failover import FailoverLimiter, LimitsUnavailableError, WhenDown
from switchboard.limits.memory import MemoryLimiter
from switchboard.limits.money import UNITS_PER_DOLLAR, to_dollars, to_units, to_units_ceiling
from switchboard.limits.outcome import (
    BudgetStatus,
    Decision,
    LimiterUnavailableError,
    LimitRefusedError,
    RateStatus,
    Refusal,
    Spend,
)
from switchboard.limits.policy import NO_LIMITS, Allowance, Policy, allowance, resolve
from switchboard.limits.rules import (
    WINDOW_MS,
    Budget,
    BudgetAccount,
    Claim,
    Demand,
    LimitKind,
    Period,
    RateLimit,
    Scope,
    Settlement,
)

__all__ = [
    "NO_LIMITS",
    "UNITS_PER_DOLLAR",
    "WINDOW_MS",
    "Admissions",
    "Allowance",
    "Budget",
    "BudgetAccount",
    "BudgetStatus",
    "Claim",
    "Decision",
    "Demand",
    "FailoverLimiter",
    "LimitKind",
    "LimitRefusedError",
    "Limiter",
    "LimiterUnavailableError",
    "LimitsUnavailableError",
    "MemoryLimiter",
    "Period",
    "Policy",
    "RateLimit",
    "RateStatus",
    "RedisLimiter",
    "Refusal",
    "Scope",
    "Settlement",
    "Spend",
    "SpendReader",
    "WhenDown",
    "allowance",
    "connect",
    "resolve",
    "to_dollars",
    "to_units",
    "to_units_ceiling",
]


if TYPE_CHECKING:
    from switchboard.limits.redis_limiter import RedisLimiter, connect


def __getattr__(name: str) -> Any:
    if name in ("RedisLimiter", "connect"):
        from switchboard.limits import redis_limiter

        return getattr(redis_limiter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
