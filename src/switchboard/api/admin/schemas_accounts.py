"""The admin API's bodies for users, virtual keys and the audit log (Pydantic v2).

`…Create` and `…Update` are what clients send (unknown fields are refused, so a typo is a 422
rather than a silently ignored change); `…Public` is what the API answers. Money is a decimal
string (`"25.5"`), exact; times are ISO 8601 in UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from switchboard._types import utcnow
from switchboard.api.schemas import (
    TEXT_PATTERN,
    Dollars,
    DollarsOut,
    Name,
    QueryBool,
    UtcDateTime,
    not_null,
    with_examples,
)
from switchboard.models import VirtualKey
from switchboard.services.user_rules import (
    EMAIL_MAX_LENGTH,
    EMAIL_PATTERN,
    USER_ID_MAX_LENGTH,
    USER_ID_PATTERN,
)
from switchboard.vocabulary import PowerLevel, Tier

Email = Annotated[str, Field(max_length=EMAIL_MAX_LENGTH, pattern=EMAIL_PATTERN)]


# Users ---------------------------------------------------------------------------------


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid") | with_examples(
        {
            "id": "user-42",
            "tier": "starter",
            "display_name": "Ada Lovelace",
            "email": "ada@example.com",
            "monthly_budget_usd": "25.00",
            "default_power_level": "balanced",
        }
    )

    id: str = Field(
        min_length=1,
        max_length=USER_ID_MAX_LENGTH,
        pattern=USER_ID_PATTERN,
        description="Your platform's id for the user (letters, digits and `._@:+-`).",
    )
    tier: Tier = Tier.FREE
    display_name: Name | None = None
    email: Email | None = None
    monthly_budget_usd: Dollars | None = None
    default_power_level: PowerLevel | None = Field(
        None, description="Used when a request asks for `auto` (default `balanced`)."
    )


class UserUpdate(BaseModel):
    """Only the fields sent change; `null` clears an optional field."""

    model_config = ConfigDict(extra="forbid") | with_examples(
        {"tier": "professional", "monthly_budget_usd": "100"}, {"is_active": False}
    )

    # Left out, these stay as they are; they cannot be null (SkipJsonSchema: nor documented so).
    tier: Tier | SkipJsonSchema[None] = None
    display_name: Name | None = None
    email: Email | None = None
    monthly_budget_usd: Dollars | None = None
    default_power_level: PowerLevel | None = None
    is_active: bool | SkipJsonSchema[None] = Field(
        None, description="false deactivates the user (their keys stop working), true reactivates."
    )

    @field_validator("tier", "is_active")
    @classmethod
    def _required(cls, value: object) -> object:
        return not_null(value)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True) | with_examples(
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
    )

    id: str
    tier: str
    display_name: str | None
    email: str | None
    monthly_budget_usd: DollarsOut | None
    default_power_level: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


# Virtual keys --------------------------------------------------------------------------


class VirtualKeyCreate(BaseModel):
    """`expires_at` or `expires_in_days`, not both; neither: the key never expires."""

    model_config = ConfigDict(extra="forbid") | with_examples(
        {"name": "production backend", "expires_in_days": 90},
        {"name": "ci"},
        keywords={"not": {"required": ["expires_at", "expires_in_days"]}},
    )

    name: Name | None = None
    expires_at: UtcDateTime | None = Field(None, description="When the key stops working.")
    expires_in_days: int | None = Field(
        None, ge=1, le=3650, description="Instead of `expires_at`: days from now."
    )

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

    model_config = ConfigDict(extra="forbid") | with_examples(
        {"expires_at": "2025-12-31T23:59:59Z"}, {"name": "old backend"}
    )

    name: Name | None = None
    expires_at: UtcDateTime | None = None


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
    model_config = with_examples(_KEY_EXAMPLE)

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

    model_config = with_examples({**_KEY_EXAMPLE, "key": "sk-sb-Xy3q9P…(49 characters)"})

    key: str = Field(description="The virtual key. Shown once: store it now.")


# Audit -----------------------------------------------------------------------------------


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True) | with_examples(
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


class UserQuery(BaseModel):
    """`GET /users`'s filters, as `services.users.list_users` takes them."""

    tier: Tier | None = None
    is_active: QueryBool | None = None


class AuditQuery(BaseModel):
    """`GET /audit`'s filters, as `services.audit.list_entries` takes them."""

    entity_type: str | None = Field(
        default=None,
        max_length=50,
        pattern=TEXT_PATTERN,
        description="`user`, `virtual_key`, `byok_key`…",
    )
    entity_id: str | None = Field(default=None, max_length=255, pattern=TEXT_PATTERN)
    actor: str | None = Field(
        default=None,
        max_length=255,
        pattern=TEXT_PATTERN,
        description="`admin`, `user:<id>`, `system`.",
    )
    since: UtcDateTime | None = Field(default=None, description="From this time (inclusive).")
    until: UtcDateTime | None = Field(default=None, description="Before this time.")
