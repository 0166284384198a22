"""The closed vocabularies shared by every layer: tiers, power levels, key sources, health."""

from __future__ import annotations

import enum


class Tier(enum.StrEnum):
    """A user's plan. Ordered: a user may use what is required at or below their tier."""

    FREE = "free"
    STARTER = "starter"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"

    @property
    def rank(self) -> int:
        return _TIER_RANK[self]


_TIER_RANK = {tier: rank for rank, tier in enumerate(Tier)}


class PowerLevel(enum.StrEnum):
    """How much model the caller asks for: cheapest that will do, a balance, or the best."""

    ECO = "eco"
    BALANCED = "balanced"
    PRECISION = "precision"


class KeySource(enum.StrEnum):
    """Whose key pays for a request: the user's own (BYOK) or the platform's."""

    BYOK = "byok"
    SYSTEM = "system"


class AuthType(enum.StrEnum):
    """How a provider expects its key: `Authorization: Bearer`, an `x-api-key` header, or none."""

    BEARER = "bearer"
    API_KEY = "api_key"
    NONE = "none"


class PriceSource(enum.StrEnum):
    """Who set a model's prices: the starter catalog, the price sync, or someone by hand.
    Seeding and the sync change only prices they set (the sync overwrites others on `--force`)."""

    SEED = "seed"
    SYNC = "sync"
    MANUAL = "manual"


class HealthStatus(enum.StrEnum):
    """A provider's last known health. Only `down` and `unhealthy` demote it in routing."""

    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    DOWN = "down"


class BudgetPeriod(enum.StrEnum):
    """How long a budget lasts before it is whole again, in UTC: from midnight, from Monday
    midnight, from the 1st of the month."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class WhenRedisDown(enum.StrEnum):
    """What limits do while Redis cannot be reached: hold per process, or refuse requests."""

    OPEN = "open"
    CLOSED = "closed"


class ApiSurface(enum.StrEnum):
    """Which of the gateway's APIs a request came through."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"


GENERAL_TASK = "general"
"""The task type a rule uses to match every task; an exact task match is preferred to it."""

TASK_TYPE_PATTERN = r"^[a-z0-9][a-z0-9_.\-]{0,49}$"
"""A task type, once normalised: a short lower-case word (`chat`, `code`, `summarize`) that
starts with a letter or digit (so that no spreadsheet reads one as a formula)."""


def normalize_task_type(task_type: str | None) -> str:
    """How task types are compared: without surrounding spaces, lower-case; none is
    `general`. Whether the result is a valid task type is `TASK_TYPE_PATTERN`'s to say."""
    return (task_type or GENERAL_TASK).strip().lower() or GENERAL_TASK


class AlertKind(enum.StrEnum):
    """What an alert rule watches (`alerts.findings` decides each)."""

    BUDGET_THRESHOLD = "budget_threshold"
    """A user's, key's or tier's user's budget spent past a percentage (50, 80, 100 %)."""
    SPEND_FORECAST = "spend_forecast"
    """At the last 24 hours' pace a budget runs out before its period ends."""
    SPEND_ANOMALY = "spend_anomaly"
    """Today's platform spend over `factor` times the median of the previous 7 days."""
    PROVIDER_HEALTH = "provider_health"
    """A provider went down (per the health check), and when it recovered."""
    ERROR_RATE = "error_rate"
    """A provider's or model's share of failed requests over `threshold` % in the window."""
    LATENCY_P95 = "latency_p95"
    """A provider's or model's 95th percentile latency over `threshold` ms in the window."""
    DEPRECATED_TRAFFIC = "deprecated_traffic"
    """A deprecated model still served requests in the window."""
    DEPRECATION_SOON = "deprecation_soon"
    """A model's deprecation date is within `threshold` days."""


class AlertScope(enum.StrEnum):
    """What a rule watches: budgets of users, keys or a tier's users; traffic of providers
    or models."""

    USER = "user"
    KEY = "key"
    TIER = "tier"
    PROVIDER = "provider"
    MODEL = "model"


class AlertState(enum.StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class WebhookFormat(enum.StrEnum):
    """The body a webhook is sent: Switchboard's JSON, or a Slack incoming-webhook message."""

    JSON = "json"
    SLACK = "slack"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    EXPIRED = "expired"
    """Not delivered within ALERT_DELIVERY_HORIZON_H: no more attempts."""
