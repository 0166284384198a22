"""The BYOK API's bodies (Pydantic v2). A key goes in once, in `ByokKeyCreate.api_key`; no
answer ever carries it back, only a few of its first and last characters (at most a third of
the key, as `mask_secret` shows it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from switchboard.api.schemas import KEY_PATTERN, Name, RowId, not_null, with_examples
from switchboard.models import UserAPIKey
from switchboard.services.byok import masked, shown_parts

ProviderSlug = Annotated[str, Field(min_length=1, max_length=100, pattern=KEY_PATTERN)]


class ByokKeyCreate(BaseModel):
    """Name the provider by `provider_id` or by `provider_slug`: one of them."""

    model_config = ConfigDict(extra="forbid") | with_examples(
        {
            "provider_slug": "openai",
            "api_key": "sk-proj-EXAMPLEexample0123456789",
            "key_name": "my OpenAI key",
        },
        keywords={"oneOf": [{"required": ["provider_id"]}, {"required": ["provider_slug"]}]},
    )

    provider_id: RowId | SkipJsonSchema[None] = None
    provider_slug: ProviderSlug | SkipJsonSchema[None] = None
    api_key: str = Field(
        min_length=20,
        max_length=1000,
        pattern=KEY_PATTERN,
        description="The provider key. Stored encrypted; never shown again.",
    )
    key_name: Name | None = None

    @model_validator(mode="after")
    def _one_provider(self) -> ByokKeyCreate:
        if len({"provider_id", "provider_slug"} & self.model_fields_set) != 1:
            raise ValueError("give provider_id or provider_slug (one of them)")
        return self


class ByokKeyUpdate(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid") | with_examples(
        {"key_name": "work key"}, {"is_active": False}
    )

    key_name: Name | None = None
    is_active: bool | SkipJsonSchema[None] = Field(
        None, description="false: the gateway stops using the key; true: it uses it again."
    )

    @field_validator("is_active")
    @classmethod
    def _required(cls, value: object) -> object:
        return not_null(value)


class ByokKeyPublic(BaseModel):
    model_config = with_examples(
        {
            "id": 3,
            "key_name": "my OpenAI key",
            "provider_id": 1,
            "provider_slug": "openai",
            "key_prefix": "sk-pro",
            "key_suffix": "x9Qa",
            "masked_key": "sk-pro…x9Qa",
            "is_validated": True,
            "validation_error": None,
            "last_validated_at": "2025-01-01T12:00:00Z",
            "last_used_at": None,
            "is_active": True,
            "created_at": "2025-01-01T12:00:00Z",
            "updated_at": "2025-01-01T12:00:00Z",
        }
    )

    id: int
    key_name: str | None
    provider_id: int
    provider_slug: str
    key_prefix: str | None = Field(description="The first characters `masked_key` shows.")
    key_suffix: str | None = Field(description="The last characters `masked_key` shows.")
    masked_key: str = Field(
        description="`prefix…suffix`, to recognise the key: never more than a third of it."
    )
    is_validated: bool = Field(description="The provider accepted the key when last checked.")
    validation_error: str | None = Field(description="Why the provider refused the key.")
    last_validated_at: datetime | None
    last_used_at: datetime | None
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: UserAPIKey) -> ByokKeyPublic:
        prefix, suffix = shown_parts(row.key_prefix, row.key_suffix)
        return cls(
            id=row.id,
            key_name=row.key_name,
            provider_id=row.provider_id,
            provider_slug=row.provider.provider_slug,
            key_prefix=prefix,
            key_suffix=suffix,
            masked_key=masked(row),
            is_validated=row.is_validated,
            validation_error=row.validation_error,
            last_validated_at=row.last_validated_at,
            last_used_at=row.last_used_at,
            is_active=row.is_active,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
