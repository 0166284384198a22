"""`UsageRecord`: everything one request cost and how it went, as plain data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from switchboard._types import utcnow
from switchboard.pricing import CostBreakdown

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    request_id: str
    user_id: str
    model_id: int | None = None
    provider_id: int | None = None
    model_name: str | None = None
    power_level: str | None = None
    user_tier: str | None = None
    task_type: str | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    usage_estimated: bool = False
    cost_input_usd: Decimal = _ZERO
    cost_cached_usd: Decimal = _ZERO
    cost_output_usd: Decimal = _ZERO
    cost_total_usd: Decimal = _ZERO
    used_byok: bool = False
    user_key_id: int | None = None
    virtual_key_id: int | None = None
    latency_ms: int | None = None
    time_to_first_token_ms: int | None = None
    status_code: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    attempts: int = 1
    request_ip: str | None = None
    user_agent: str | None = None
    created_at: datetime = field(default_factory=utcnow)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def with_costs(cls, costs: CostBreakdown | dict[str, Any], **fields: Any) -> UsageRecord:
        """A record whose four cost fields come from a `calculate_cost` breakdown."""
        return cls(
            cost_input_usd=Decimal(str(costs.get("cost_input_usd", 0))),
            cost_cached_usd=Decimal(str(costs.get("cost_cached_usd", 0))),
            cost_output_usd=Decimal(str(costs.get("cost_output_usd", 0))),
            cost_total_usd=Decimal(str(costs.get("cost_total_usd", 0))),
            **fields,
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values: money as decimal strings (exact), time as ISO 8601."""
        values = asdict(self)
        for name in _MONEY_FIELDS:
            values[name] = str(values[name])
        values["created_at"] = self.created_at.isoformat()
        return values

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> UsageRecord:
        """The inverse of `to_json`; unknown fields (from a newer version) are ignored."""
        known = {name: value for name, value in values.items() if name in _FIELD_NAMES}
        for name in _MONEY_FIELDS:
            if name in known:
                known[name] = Decimal(known[name])
        known["created_at"] = datetime.fromisoformat(known["created_at"])
        return cls(**known)

    def column_values(self) -> dict[str, Any]:
        """The `llm_usage_logs` row, `total_tokens` derived."""
        values = asdict(self)
        values["total_tokens"] = self.total_tokens
        return values


_MONEY_FIELDS = ("cost_input_usd", "cost_cached_usd", "cost_output_usd", "cost_total_usd")
_FIELD_NAMES = frozenset(UsageRecord.__dataclass_fields__)
