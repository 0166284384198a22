"""`UsageRecord`: everything one request cost and how it went, as plain data; and
`UsageRow`, the same as the `llm_usage_logs` row it is stored as."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field
from dataclasses import fields as dataclass_fields
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
    cache_write_tokens: int = 0
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
        return cls(**_fields_from_json(values))

    def column_values(self) -> UsageRow:
        """The `llm_usage_logs` row, `total_tokens` derived."""
        values = {name: getattr(self, name) for name in _FIELDS}  # all immutable: no copies
        values["total_tokens"] = self.total_tokens
        return values


UsageRow = dict[str, Any]
"""A usage record as its `llm_usage_logs` row: `UsageRecord.column_values()`."""


def row_from_json(values: dict[str, Any]) -> UsageRow:
    """`UsageRecord.from_json(values).column_values()`, without making the record: the usage
    writer reads every line of the spool, and making a frozen dataclass of each (a
    `setattr` per field) took more time than all its other work on it."""
    row = _fields_from_json(values)
    row["total_tokens"] = row["prompt_tokens"] + row["completion_tokens"]
    return row


def _fields_from_json(values: dict[str, Any]) -> dict[str, Any]:
    """The fields `values` (`to_json`) gives, typed, the others at their defaults; unknown
    fields are left out. KeyError when one without a default is missing (`created_at` too:
    a record's time is never made up)."""
    if values.keys() == _FIELD_NAMES:  # as `to_json` writes them: all, and only, the fields
        fields = dict(values)
    else:
        known = {name: value for name, value in values.items() if name in _FIELD_NAMES}
        fields = _DEFAULTS | known
        for name in _REQUIRED:
            fields[name] = values[name]
    for name in _MONEY_FIELDS:
        fields[name] = Decimal(fields[name])
    fields["created_at"] = datetime.fromisoformat(values["created_at"])
    return fields


_MONEY_FIELDS = ("cost_input_usd", "cost_cached_usd", "cost_output_usd", "cost_total_usd")
_FIELDS = tuple(UsageRecord.__dataclass_fields__)
_FIELD_NAMES = frozenset(_FIELDS)
_DEFAULTS = {
    each.name: each.default for each in dataclass_fields(UsageRecord) if each.default is not MISSING
}
_REQUIRED = tuple(
    each.name
    for each in dataclass_fields(UsageRecord)
    if each.default is MISSING and each.default_factory is MISSING
)
