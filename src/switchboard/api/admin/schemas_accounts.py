"""The admin API's bodies for users, virtual keys and the audit log (Pydantic v2).

`…Create` and `…Update` are what clients send (unknown fields are refused, so a typo is a 422
rather than a silently ignored change); `…Public` is what the API answers. Money is a decimal
string (`"25.5"`), exact; times are ISO 8601 in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path, Query
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from switchboard._types import utcnow
from switchboard.models import VirtualKey
from switchboard.services.user_rules import (
    EMAIL_MAX_LENGTH,
    EMAIL_PATTERN,
    MAX_BUDGET_USD,
    NAME_MAX_LENGTH,
    USER_ID_MAX_LENGTH,
)

# The rules the command line and the Python API are held to as well: re-exported, not copied.
from switchboard.services.user_rules import TEXT_PATTERN as TEXT_PATTERN
from switchboard.services.user_rules import USER_ID_PATTERN as USER_ID_PATTERN
from switchboard.vocabulary import PowerLevel, Tier

T = TypeVar("T")

_MONEY_TEXT_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,20})?$"
_MAX_MONEY = MAX_BUDGET_USD


MAX_ID = 2**31 - 1
"""The largest row id (a 32-bit INTEGER column): bigger ids do not exist, and are refused."""

Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="Rows to skip.")]
UserIdPath = Annotated[str, Path(max_length=USER_ID_MAX_LENGTH, pattern=USER_ID_PATTERN)]
KeyIdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


_DATE_TIME_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def _date_time_input(value: object) -> object:
    """ISO 8601 text with a time of day; not the numbers (Unix seconds) or bare dates that
    Pydantic would also take, which the documented `date-time` format does not allow."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME_START.match(value):
        raise ValueError("must be an ISO 8601 date and time, such as 2025-01-31T12:00:00Z")
    return value


def _true_or_false(value: object) -> object:
    if isinstance(value, str) and value.lower() not in ("true", "false"):
        raise ValueError("must be true or false")
    return value


DateTime = Annotated[datetime, BeforeValidator(_date_time_input)]
QueryBool = Annotated[bool, BeforeValidator(_true_or_false)]


def _money_input(value: object) -> object:
    """A number, or a plain decimal string such as "25.50" (no exponent, no sign)."""
    if isinstance(value, bool):
        raise ValueError("must be a number of dollars")
    if isinstance(value, str) and not re.fullmatch(_MONEY_TEXT_PATTERN, value):
        raise ValueError('must be a number of dollars, such as 25 or "25.50"')
    return value


def _money_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


Money = Annotated[
    Decimal,
    BeforeValidator(_money_input),
    Field(ge=0, le=_MAX_MONEY, allow_inf_nan=False),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": _MAX_MONEY},
                {"type": "string", "pattern": _MONEY_TEXT_PATTERN},
            ],
            "description": "US dollars, up to 1,000,000,000; stored to 10 decimal places.",
        },
        mode="validation",
    ),
    PlainSerializer(_money_text, return_type=str, when_used="json"),
]
MoneyOut = Annotated[Decimal, PlainSerializer(_money_text, return_type=str, when_used="json")]
DisplayName = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH, pattern=TEXT_PATTERN)]
Email = Annotated[str, Field(max_length=EMAIL_MAX_LENGTH, pattern=EMAIL_PATTERN)]


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def as_utc(value: datetime) -> datetime:
    """The same moment in UTC; a time without a zone is taken to be UTC. A moment that UTC
    cannot hold (year 1 or 9999 with an offset that crosses the edge) becomes the edge."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return _EARLIEST if value.year == _EARLIEST.year else _LATEST


def _not_null(value: object) -> object:
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="How many rows match the filters, over all pages.")
    limit: int
    offset: int


# Users ---------------------------------------------------------------------------------


class UserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "user-42",
                    "tier": "starter",
                    "display_name": "Ada Lovelace",
                    "email": "ada@example.com",
                    "monthly_budget_usd": "25.00",
                    "default_power_level": "balanced",
                }
            ]
        },
    )

    id: str = Field(
        min_length=1,
        max_length=USER_ID_MAX_LENGTH,
        pattern=USER_ID_PATTERN,
        description="Your platform's id for the user (letters, digits and `._@:+-`).",
    )
    tier: Tier = Tier.FREE
    display_name: DisplayName | None = None
    email: Email | None = None
    monthly_budget_usd: Money | None = None
    default_power_level: PowerLevel | None = Field(
        None, description="Used when a request asks for `auto` (default `balanced`)."
    )


class UserUpdate(BaseModel):
    """Only the fields sent change; `null` clears an optional field."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"tier": "professional", "monthly_budget_usd": "100"},
                {"is_active": False},
            ]
        },
    )

    # Left out, these stay as they are; they cannot be null (SkipJsonSchema: nor documented so).
    tier: Tier | SkipJsonSchema[None] = None
    display_name: DisplayName | None = None
    email: Email | None = None
    monthly_budget_usd: Money | None = None
    default_power_level: PowerLevel | None = None
    is_active: bool | SkipJsonSchema[None] = Field(
        None, description="false deactivates the user (their keys stop working), true reactivates."
    )

    @field_validator("tier", "is_active")
    @classmethod
    def _required(cls, value: object) -> object:
        return _not_null(value)


class UserPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "user-42",
                    "tier": "starter",
                    "display_name": "Ada Lovelace",
                    "email": "ada@example.com",
                    "monthly_budget_usd": "25",
                    "default_power_level": "balanced",
                    "is_active": True,
                    "created_at": "2025-01-01T12:00:00Z",
                    "updated_at": "2025-01-01T12:00:00Z",
                }
            ]
        },
    )

    id: str
    tier: str
    display_name: str | None
    email: str | None
    monthly_budget_usd: MoneyOut | None
    default_power_level: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


# Virtual keys --------------------------------------------------------------------------


class VirtualKeyCreate(BaseModel):
    """`expires_at` or `expires_in_days`, not both; neither: the key never expires."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "production backend", "expires_in_days": 90}, {"name": "ci"}],
            "not": {"required": ["expires_at", "expires_in_days"]},
        },
    )

    name: DisplayName | None = None
    expires_at: DateTime | None = Field(None, description="When the key stops working.")
    expires_in_days: int | None = Field(
        None, ge=1, le=3650, description="Instead of `expires_at`: days from now."
    )

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @model_validator(mode="after")
    def _one_expiry(self) -> VirtualKeyCreate:
        if {"expires_at", "expires_in_days"} <= self.model_fields_set:
            raise ValueError("give expires_at or expires_in_days, not both")
        return self

    def expiry(self) -> datetime | None:
        if self.expires_in_days is not None:
            return utcnow() + timedelta(days=self.expires_in_days)
        return self.expires_at


class VirtualKeyUpdate(BaseModel):
    """`expires_at` in the past expires the key now; `null` makes it never expire."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"expires_at": "2025-12-31T23:59:59Z"}, {"name": "old backend"}]
        },
    )

    name: DisplayName | None = None
    expires_at: DateTime | None = None

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)


_KEY_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "user_id": "user-42",
    "name": "production backend",
    "key_prefix": "sk-sb-Xy3q9P",
    "status": "active",
    "expires_at": "2025-04-01T12:00:00Z",
    "is_revoked": False,
    "revoked_at": None,
    "last_used_at": None,
    "created_at": "2025-01-01T12:00:00Z",
}


class VirtualKeyPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_KEY_EXAMPLE]})

    id: int
    user_id: str
    name: str | None
    key_prefix: str = Field(description="The first characters of the key, to recognise it.")
    status: str = Field(description="`active`, `revoked` or `expired`.")
    expires_at: datetime | None
    is_revoked: bool
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime

    @classmethod
    def fields_of(cls, key: VirtualKey) -> dict[str, Any]:
        expired = key.expires_at is not None and key.expires_at <= utcnow()
        return {
            "id": key.id,
            "user_id": key.user_id,
            "name": key.name,
            "key_prefix": key.key_prefix,
            "status": "revoked" if key.is_revoked else ("expired" if expired else "active"),
            "expires_at": key.expires_at,
            "is_revoked": key.is_revoked,
            "revoked_at": key.revoked_at,
            "last_used_at": key.last_used_at,
            "created_at": key.created_at,
        }

    @classmethod
    def of(cls, key: VirtualKey) -> VirtualKeyPublic:
        return cls(**cls.fields_of(key))


class VirtualKeyIssued(VirtualKeyPublic):
    """A new key: `key` is in this response only. Only its hash is stored."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_KEY_EXAMPLE, "key": "sk-sb-Xy3q9P…(49 characters)"}]}
    )

    key: str = Field(description="The virtual key. Shown once: store it now.")


# Audit -----------------------------------------------------------------------------------


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "at": "2025-01-01T12:00:00Z",
                    "actor": "admin",
                    "action": "update",
                    "entity_type": "user",
                    "entity_id": "user-42",
                    "before": {"tier": "free"},
                    "after": {"tier": "starter"},
                    "request_id": None,
                }
            ]
        },
    )

    id: int
    at: datetime
    actor: str = Field(description="`admin`, `user:<id>` or `system`.")
    action: str
    entity_type: str
    entity_id: str | None
    before: dict[str, Any] | None = Field(description="The row before; secrets masked.")
    after: dict[str, Any] | None = Field(description="The row after; secrets masked.")
    request_id: str | None
