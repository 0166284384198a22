"""The catalog admin API's bodies (Pydantic v2): providers, models, routing rules.

`…Create` and `…Update` are what clients send (unknown fields are refused, so a typo is a 422
rather than a silently ignored change; in an update, leaving a field out keeps it, `null`
clears it where the column may be empty). `…Public` is what the API answers: a provider's key
only ever as its mask (`sk-abc…wxyz`). Prices are dollars per 1M tokens, decimal strings on
the way out (`"2.5"`), numbers or strings on the way in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from enum import Enum
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from switchboard.api.schemas import (
    AS_DECIMAL_TEXT,
    KEY_PATTERN,
    TEXT_PATTERN,
    ApiFormat,
    Count,
    DateTime,
    Name,
    Positive,
    QueryBool,
    RowId,
    amount_input,
    number_or_text,
    with_examples,
)
from switchboard.catalog.system_keys import SystemKeySource, system_key_source
from switchboard.models import LLMProvider
from switchboard.vocabulary import (
    TASK_TYPE_PATTERN,
    AuthType,
    HealthStatus,
    PowerLevel,
    PriceSource,
    Tier,
)

_H16 = "[0-9A-Fa-f]{1,4}"
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_LS32 = rf"({_H16}:{_H16}|{_OCTET}(\.{_OCTET}){{3}})"
_IPV6 = "|".join(
    [
        f"({_H16}:){{6}}{_LS32}",
        f"::({_H16}:){{5}}{_LS32}",
        *(f"(({_H16}:){{0,{n}}}{_H16})?::({_H16}:){{{4 - n}}}{_LS32}" for n in range(4)),
        f"(({_H16}:){{0,4}}{_H16})?::{_LS32}",
        f"(({_H16}:){{0,5}}{_H16})?::{_H16}",
        f"(({_H16}:){{0,6}}{_H16})?::",
    ]
)
"""An IPv6 address as RFC 3986 writes it (the forms `ipaddress` reads)."""
_NETLOC_CHARS = "[A-Za-z0-9._~%!$&'()*+,;=:@-]"
_NETLOC = (
    rf"({_NETLOC_CHARS}+"
    rf"|({_NETLOC_CHARS}*@)?\[({_IPV6})(%25[A-Za-z0-9._~-]+)?\](:[0-9]*)?)"
)
URL_PATTERN = rf"^https?://{_NETLOC}([/?#][!-~]*)?$"
"""http(s), a host, then printable ASCII: what `urlsplit` reads as a scheme and a netloc. A
bracket is only that of an IPv6 host (`http://[::1]:8000`), written whole: `urlsplit` refuses
any other, so the schema must not offer one."""
NO_NUL_PATTERN = r"^[^\x00]*$"
"""Long free text (newlines allowed): anything but NUL, which PostgreSQL refuses."""
_PRICE_TEXT_PATTERN = r"^[0-9]{1,8}(\.[0-9]{1,6})?$"
_MAX_PRICE = Decimal("99999999.999999")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")  # the adapters append `/chat/completions`


def _task_type_input(value: object) -> object:
    """Task types are compared lower-case; surrounding spaces are dropped."""
    return value.strip(" ").lower() if isinstance(value, str) else value


def _price_input(value: object) -> object:
    """A number, or a plain decimal string ("2.5"); kept to 6 decimal places (rounded down)."""
    hint = 'must be dollars, such as 2.5 or "2.50", to 6 decimal places'
    value = amount_input(value, _PRICE_TEXT_PATTERN, hint)
    if isinstance(value, int | float | str | Decimal):
        try:
            exact = Decimal(str(value))
        except ArithmeticError:
            raise ValueError("must be a number of dollars") from None
        if exact.is_finite() and 0 <= exact <= _MAX_PRICE + 1:
            return exact.quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
        return exact
    return value


Url = Annotated[
    str, Field(min_length=8, max_length=500, pattern=URL_PATTERN), AfterValidator(_http_url)
]
Slug = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
TaskType = Annotated[
    str,
    BeforeValidator(_task_type_input),
    Field(pattern=TASK_TYPE_PATTERN),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^ *[A-Za-z0-9][A-Za-z0-9_.-]{0,49} *$",
            "description": "Compared lower-case, without surrounding spaces.",
        },
        mode="validation",
    ),
]
Price = Annotated[
    Decimal,
    BeforeValidator(_price_input),
    Field(ge=0, le=_MAX_PRICE, allow_inf_nan=False),
    number_or_text(
        99_999_999,
        _PRICE_TEXT_PATTERN,
        "Dollars per 1M tokens; a number is rounded down to 6 decimal places.",
    ),
    AS_DECIMAL_TEXT,
]
"""Dollars per 1M tokens, to 6 decimal places; answered as a decimal string (`"2.5"`)."""
Text = Annotated[str, Field(max_length=10_000, pattern=NO_NUL_PATTERN)]
Name100 = Annotated[str, Field(min_length=1, max_length=100, pattern=TEXT_PATTERN)]
Label200 = Annotated[str, Field(max_length=200, pattern=TEXT_PATTERN)]
KeySource = SystemKeySource | None
ApiKey = Annotated[
    SecretStr,
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": 1000, "pattern": KEY_PATTERN},
        mode="validation",
    ),
]


class Body(BaseModel):
    """What a client sends. Unknown fields are refused; `null` only where the column may be
    empty (`_nullable`); `row_fields` are the fields given, as stored."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    _nullable: ClassVar[frozenset[str]] = frozenset()
    _write_only: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_allowed(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls._nullable:
            raise ValueError("must not be null")
        if isinstance(value, str) and "\x00" in value:  # PostgreSQL cannot store it
            raise ValueError("must not contain NUL characters")
        return value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: Any) -> JsonSchemaValue:
        """Document what `_null_only_where_allowed` does: `null` only where it is allowed."""
        schema: JsonSchemaValue = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for name, prop in target.get("properties", {}).items():
            if name in cls._nullable or "anyOf" not in prop:
                continue
            options = [o for o in prop["anyOf"] if o != {"type": "null"}]
            if len(options) == len(prop["anyOf"]):
                continue
            del prop["anyOf"]
            if prop.get("default", ...) is None:
                del prop["default"]
            if len(options) == 1:
                prop.update({k: v for k, v in options[0].items() if k not in prop})
            else:
                prop["anyOf"] = options
        return schema

    def row_fields(self) -> dict[str, Any]:
        fields = self.model_dump(exclude_unset=True, exclude=set(self._write_only))
        return {k: v.value if isinstance(v, Enum) else v for k, v in fields.items()}


# Providers -----------------------------------------------------------------------------

_PROVIDER_EXAMPLE: dict[str, Any] = {
    "provider_name": "Anthropic",
    "provider_slug": "anthropic",
    "display_name": "Anthropic",
    "base_url": "https://api.anthropic.com/v1",
    "auth_type": "api_key",
    "api_key": "sk-ant-example-0000",
    "supports_streaming": True,
    "supports_function_calling": True,
    "is_byok_supported": True,
    "min_tier_required": "starter",
}


class ProviderUpdate(Body):
    model_config = with_examples({"display_name": "Anthropic (EU)", "api_key": None})
    _nullable = frozenset(
        {"display_name", "description", "base_url", "api_format", "config", "api_key"}
        | {"api_key_format", "documentation_url", "pricing_url"}
    )
    _write_only = frozenset({"api_key"})

    provider_name: Name100 | None = None
    provider_slug: Slug | None = None
    display_name: Label200 | None = None
    description: Text | None = None
    base_url: Url | None = None
    api_format: ApiFormat | None = Field(
        None, description="`openai`, `anthropic`, `mock`…; default from the slug."
    )
    config: dict[str, Any] | None = Field(None, description="Adapter settings.")
    auth_type: AuthType | None = None
    api_key: ApiKey | None = Field(
        None, min_length=1, max_length=1000, description="Write-only; `null` removes it."
    )
    supports_streaming: StrictBool | None = None
    supports_function_calling: StrictBool | None = None
    supports_vision: StrictBool | None = None
    is_active: StrictBool | None = None
    is_byok_supported: StrictBool | None = None
    is_system_provider: StrictBool | None = None
    api_key_format: str | None = Field(
        None, max_length=100, pattern=TEXT_PATTERN, description="e.g. `sk-*`."
    )
    documentation_url: Url | None = None
    pricing_url: Url | None = None
    min_tier_required: Tier | None = None
    health_status: HealthStatus | None = Field(None, description="`down`: routing tries it last.")

    @field_validator("api_key", mode="before")
    @classmethod
    def _key_is_printable(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(KEY_PATTERN, value):
            raise ValueError("must be printable ASCII without spaces")
        return value

    def given_api_key(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key is not None else None


class ProviderCreate(ProviderUpdate):
    model_config = with_examples(_PROVIDER_EXAMPLE)

    provider_name: Name100
    provider_slug: Slug


class ProviderPublic(BaseModel):
    model_config = with_examples(
        {"id": 1}
        | {k: v for k, v in _PROVIDER_EXAMPLE.items() if k != "api_key"}
        | {"api_key_masked": "sk-ant…0000", "api_key_source": "stored", "health_status": "healthy"}
    )

    id: int
    provider_name: str
    provider_slug: str
    display_name: str | None
    description: str | None
    base_url: str | None
    api_format: str | None
    config: dict[str, Any] | None
    auth_type: str
    api_key_masked: str | None = Field(description="`sk-abc…wxyz`; the key itself never.")
    api_key_source: KeySource
    supports_streaming: bool
    supports_function_calling: bool
    supports_vision: bool
    is_active: bool
    is_byok_supported: bool
    is_system_provider: bool
    api_key_format: str | None
    documentation_url: str | None
    pricing_url: str | None
    min_tier_required: str
    health_status: str
    health_latency_ms: int | None
    health_error: str | None
    last_health_check_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: LLMProvider, environ: Mapping[str, str]) -> ProviderPublic:
        """`environ`: where system keys may come from (`Settings.provider_key_environment`)."""
        values = {name: getattr(row, name) for name in cls.model_fields if hasattr(row, name)}
        source = system_key_source(row, environ)
        stored = source is SystemKeySource.STORED
        mask = f"{row.api_key_prefix or ''}…{row.api_key_suffix or ''}"
        return cls(**values, api_key_masked=mask if stored else None, api_key_source=source)


class ProviderHealth(BaseModel):
    provider_id: int
    provider_slug: str
    health_status: HealthStatus
    health_latency_ms: int | None
    health_error: str | None
    last_health_check_at: datetime
    models_found: int | None = Field(description="How many models the provider listed.")


# Models --------------------------------------------------------------------------------

_MODEL_EXAMPLE: dict[str, Any] = {
    "provider_id": 1,
    "model_name": "GPT-4 Turbo",
    "model_id": "gpt-4-turbo-preview",
    "max_tokens": 4096,
    "context_window": 128000,
    "supports_function_calling": True,
    "supports_json_mode": True,
    "cost_per_1m_input_tokens": "10.00",
    "cost_per_1m_output_tokens": "30.00",
    "power_level": "precision",
    "power_level_priority": 1,
    "min_tier_required": "professional",
}


class PriceTierPublic(BaseModel):
    """Prices for requests whose prompt is above `above_tokens` (set by seeding and the price
    sync); a price that is null is the one below."""

    above_tokens: int = Field(description="It applies when the prompt is above this many tokens.")
    input_price: Price | None = None
    output_price: Price | None = None
    cached_input_price: Price | None = None
    cache_write_price: Price | None = None


class ModelUpdate(Body):
    model_config = with_examples(
        {"cost_per_1m_input_tokens": "2.50", "cost_per_1m_output_tokens": 10}
    )
    _nullable = frozenset(
        {"display_name", "description", "max_tokens", "context_window", "deprecation_date"}
        | {"cost_per_1m_cached_input_tokens", "replacement_model_id"}
        | {"cost_per_1m_cache_write_tokens"}
    )

    provider_id: Positive | None = None
    model_name: Name | None = None
    model_id: Name | None = Field(None, description="The provider's name for the model.")
    display_name: Label200 | None = None
    description: Text | None = None
    max_tokens: Positive | None = None
    context_window: Positive | None = None
    supports_streaming: StrictBool | None = None
    supports_function_calling: StrictBool | None = None
    supports_vision: StrictBool | None = None
    supports_json_mode: StrictBool | None = None
    cost_per_1m_input_tokens: Price | None = None
    cost_per_1m_output_tokens: Price | None = None
    cost_per_1m_cached_input_tokens: Price | None = None
    cost_per_1m_cache_write_tokens: Price | None = Field(
        None, description="A five-minute cache write; null: 1.25× the input price."
    )
    price_source: PriceSource | None = Field(
        None,
        description="Who set the prices. A price change makes them `manual` (kept by seeding "
        "and the price sync), unless this says otherwise: `sync` hands them back to the sync.",
    )
    power_level: PowerLevel | None = None
    power_level_priority: Count | None = Field(None, description="1 is tried first.")
    is_active: StrictBool | None = None
    is_deprecated: StrictBool | None = None
    deprecation_date: DateTime | None = None
    replacement_model_id: Positive | None = None
    min_tier_required: Tier | None = None


class ModelCreate(ModelUpdate):
    model_config = with_examples(_MODEL_EXAMPLE)

    provider_id: Positive
    model_name: Name
    model_id: Name


class ModelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: int
    provider_id: int
    model_name: str
    model_id: str
    display_name: str | None
    description: str | None
    max_tokens: int | None
    context_window: int | None
    supports_streaming: bool
    supports_function_calling: bool
    supports_vision: bool
    supports_json_mode: bool
    cost_per_1m_input_tokens: Price
    cost_per_1m_output_tokens: Price
    cost_per_1m_cached_input_tokens: Price | None
    cost_per_1m_cache_write_tokens: Price | None
    price_tiers: list[PriceTierPublic] | None
    price_source: str = Field(description="`seed`, `sync` or `manual`: who set the prices.")
    power_level: str
    power_level_priority: int
    is_active: bool
    is_deprecated: bool
    deprecation_date: datetime | None
    replacement_model_id: int | None
    min_tier_required: str
    created_at: datetime
    updated_at: datetime


class ModelDeprecate(Body):
    model_config = with_examples(
        {"replacement_model_id": 7, "deprecation_date": "2025-10-23T00:00:00Z"}
    )
    _nullable = frozenset({"deprecation_date"})

    replacement_model_id: Positive = Field(description="The model that serves it from now on.")
    deprecation_date: DateTime | None = Field(None, description="Default: now.")


class PricePeriodPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    cost_per_1m_input_tokens: Price
    cost_per_1m_output_tokens: Price
    cost_per_1m_cached_input_tokens: Price | None
    cost_per_1m_cache_write_tokens: Price | None
    price_tiers: list[PriceTierPublic] | None
    effective_from: datetime
    effective_to: datetime | None = Field(description="None: the current price.")
    changed_by: str | None


# Routing rules -------------------------------------------------------------------------


class RuleUpdate(Body):
    model_config = with_examples({"priority": 2, "weight": 50, "is_active": True})
    _nullable = frozenset({"user_tier", "min_tokens", "max_tokens"})

    model_id: Positive | None = Field(None, description="The model's `id` (not its name).")
    power_level: PowerLevel | None = None
    user_tier: Tier | None = Field(None, description="`null`: every tier.")
    task_type: TaskType | None = Field(None, description="`general` matches every task.")
    priority: Count | None = Field(None, description="1 is tried first.")
    weight: Count | None = Field(None, description="Share among rules of equal priority.")
    min_tokens: Count | None = None
    max_tokens: Count | None = None
    requires_byok: StrictBool | None = None
    is_fallback: StrictBool | None = None
    is_active: StrictBool | None = None


class RuleCreate(RuleUpdate):
    model_config = with_examples(
        {"model_id": 1, "power_level": "precision", "user_tier": "professional"}
        | {"task_type": "code", "priority": 1, "weight": 100, "min_tokens": None}
        | {"max_tokens": None, "requires_byok": False, "is_fallback": False, "is_active": True}
    )

    model_id: Positive = Field(description="The model's `id` (not its name).")
    power_level: PowerLevel
    task_type: TaskType = "general"


class RulePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: int
    model_id: int
    power_level: str
    user_tier: str | None
    task_type: str
    priority: int
    weight: int
    min_tokens: int | None
    max_tokens: int | None
    requires_byok: bool
    is_fallback: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ProviderQuery(BaseModel):
    """`GET /providers`'s filters, as `catalog_admin.list_providers` takes them (the slug is
    `slug` in the query)."""

    is_active: QueryBool | None = None
    health_status: HealthStatus | None = None
    provider_slug: Slug | None = Field(default=None, alias="slug")


class ModelQuery(BaseModel):
    """`GET /models`'s filters (query parameters), as `catalog_admin.list_models` takes them."""

    provider_id: RowId | None = None
    power_level: PowerLevel | None = None
    is_active: QueryBool | None = None
    is_deprecated: QueryBool | None = None


class RuleQuery(BaseModel):
    """`GET /routing/rules`'s filters, as `routing_admin.list_rules` takes them."""

    model_id: RowId | None = None
    power_level: PowerLevel | None = None
    user_tier: Tier | None = None
    task_type: TaskType | None = None
    is_active: QueryBool | None = None
