"""Limits as they are configured: a tier's defaults in `TIER_LIMITS` (JSON, per tier), and the
same fields on a user or a key (the admin API). Plain settings, beside `settings` (which
reads them), so that reading settings loads none of `limits`."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, WithJsonSchema

from switchboard.vocabulary import BudgetPeriod

MAX_BUDGET_USD = Decimal(1_000_000_000)
MAX_RATE = 1_000_000_000
_DOLLARS_TEXT = r"^[0-9]{1,9}(\.[0-9]{1,20})?$"


def _dollars_input(value: object) -> object:
    """A number, or a plain decimal string such as "25.50" (no exponent, no sign)."""
    if isinstance(value, bool):
        raise ValueError("must be a number of dollars")
    if isinstance(value, str) and not re.fullmatch(_DOLLARS_TEXT, value):
        raise ValueError('must be a number of dollars, such as 25 or "25.50"')
    return value


BudgetDollars = Annotated[
    Decimal,
    BeforeValidator(_dollars_input),
    Field(ge=0, le=MAX_BUDGET_USD, allow_inf_nan=False),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": int(MAX_BUDGET_USD)},
                {"type": "string", "pattern": _DOLLARS_TEXT},
            ],
            "description": "US dollars, up to 1,000,000,000; counted to 10 decimal places.",
        },
        mode="validation",
    ),
]
"""A budget: a number or a decimal string of dollars (what the JSON schema says, exactly)."""


class LimitFields(BaseModel):
    """Requests and tokens per minute, concurrent requests, and a budget (dollars a period,
    BYOK spend included or not). A field left out is not set."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int | None = Field(default=None, ge=1, le=MAX_RATE)
    tokens_per_minute: int | None = Field(default=None, ge=1, le=MAX_RATE)
    max_concurrent_requests: int | None = Field(default=None, ge=1, le=MAX_RATE)
    budget_usd: BudgetDollars | None = None
    budget_period: BudgetPeriod = BudgetPeriod.MONTHLY
    budget_include_byok: StrictBool = False
