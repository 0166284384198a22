"""Usage records for spool and writer tests: every field set, costs exact to ten places."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from switchboard.usage import UsageRecord

MOMENT = datetime(2025, 6, 1, 12, 30, 45, 123456, tzinfo=UTC)


def full_record(number: int, **overrides: Any) -> UsageRecord:
    """A record with no field left at its default, distinct for each `number`."""
    values: dict[str, Any] = {
        "request_id": f"req_{number:08d}",
        "user_id": "user-ü",
        "model_name": "mock-balanced",
        "power_level": "balanced",
        "task_type": "general",
        "prompt_tokens": 1000 + number,
        "cached_tokens": 7,
        "completion_tokens": 250,
        "usage_estimated": True,
        "cost_input_usd": Decimal("0.0010010000"),
        "cost_cached_usd": Decimal("0.0000000035"),
        "cost_output_usd": Decimal("12345.6789012345"),
        "cost_total_usd": Decimal("12345.6799022380"),
        "used_byok": True,
        "latency_ms": 42,
        "time_to_first_token_ms": 17,
        "status_code": 200,
        "error_type": "rate_limited",
        "error_message": "naïve — “quoted” \n second line",
        "attempts": 3,
        "request_ip": "127.0.0.1",
        "user_agent": "OpenAI/Python 1.57.0",
        "created_at": MOMENT + timedelta(microseconds=number),
    }
    values.update(overrides)
    return UsageRecord(**values)
