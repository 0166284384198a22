"""The database tables, as SQLAlchemy 2 typed models.

Names and fields are the spec's contract (`llm_providers`, `llm_models`, `llm_routing_rules`,
`user_api_keys`, `llm_usage_logs`); `llm_users` and `llm_virtual_keys` are ours. Tiers, power
levels and the like are stored as plain strings (the spec's code passes strings) and checked
where they are read. Timestamps are UTC; money is NUMERIC (see `_types`).
"""

from switchboard.models.accounts import TierLimit, User, UserAPIKey, VirtualKey
from switchboard.models.alerts import (
    Alert,
    AlertDelivery,
    AlertDeliveryAttempt,
    AlertEvent,
    AlertRule,
    AlertWebhook,
)
from switchboard.models.base import Base
from switchboard.models.catalog import (
    LLMModel,
    LLMModelPriceHistory,
    LLMProvider,
    LLMRoutingRule,
)
from switchboard.models.operations import AuditLogEntry, ChangeCounter, Lease
from switchboard.models.usage import (
    LLMUsageDaily,
    LLMUsageDailyModel,
    LLMUsageDailyTotal,
    LLMUsageHourly,
    LLMUsageHourlyModel,
    LLMUsageLog,
    LLMUsageWeeklyModel,
    LLMUsageWeeklyUser,
)

__all__ = [
    "Alert",
    "AlertDelivery",
    "AlertDeliveryAttempt",
    "AlertEvent",
    "AlertRule",
    "AlertWebhook",
    "AuditLogEntry",
    "Base",
    "ChangeCounter",
    "LLMModel",
    "LLMModelPriceHistory",
    "LLMProvider",
    "LLMRoutingRule",
    "LLMUsageDaily",
    "LLMUsageDailyModel",
    "LLMUsageDailyTotal",
    "LLMUsageHourly",
    "LLMUsageHourlyModel",
    "LLMUsageLog",
    "LLMUsageWeeklyModel",
    "LLMUsageWeeklyUser",
    "Lease",
    "TierLimit",
    "User",
    "UserAPIKey",
    "VirtualKey",
]
