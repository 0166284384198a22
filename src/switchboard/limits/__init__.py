"""Budgets and rate limits, held across replicas.

One interface (`Limiter`), two backends: `MemoryLimiter` (this process only: `make run`) and
`RedisLimiter` (every replica sharing one Redis; each operation one Lua script), and
`FailoverLimiter` for when Redis cannot be reached. `Admissions` is what the gateway uses:
admission, reservation, settlement, and the rebuild of budget counters from the database.
"""

from switchboard.limits.admission import Admissions, SpendReader
from switchboard.limits.backend import Limiter
from switchboard.limits.failover import FailoverLimiter, LimitsUnavailableError, WhenDown
from switchboard.limits.memory import MemoryLimiter
from switchboard.limits.money import UNITS_PER_DOLLAR, to_dollars, to_units, to_units_ceiling
from switchboard.limits.outcome import (
    BudgetStatus,
    Decision,
    LimiterUnavailableError,
    RateStatus,
    Refusal,
    Spend,
)
from switchboard.limits.redis_limiter import RedisLimiter, connect
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
    "UNITS_PER_DOLLAR",
    "WINDOW_MS",
    "Admissions",
    "Budget",
    "BudgetAccount",
    "BudgetStatus",
    "Claim",
    "Decision",
    "Demand",
    "FailoverLimiter",
    "LimitKind",
    "Limiter",
    "LimiterUnavailableError",
    "LimitsUnavailableError",
    "MemoryLimiter",
    "Period",
    "RateLimit",
    "RateStatus",
    "RedisLimiter",
    "Refusal",
    "Scope",
    "Settlement",
    "Spend",
    "SpendReader",
    "WhenDown",
    "connect",
    "to_dollars",
    "to_units",
    "to_units_ceiling",
]
