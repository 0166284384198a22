"""Building an end-to-end test's world in the database: providers pointing at a fake upstream,
models with prices, routing rules, users with virtual keys, BYOK keys — and what a request
should cost. Rows are made directly with the SQLAlchemy models, as an admin's tools would."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import openai
from openai.types.chat import ChatCompletionChunk
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.models import LLMModel, LLMProvider, LLMRoutingRule, UserAPIKey
from switchboard.secrets import SecretManager
from switchboard.services.users import create_user, issue_virtual_key
from switchboard.vocabulary import PowerLevel, Tier
from tests.e2e.harness import GatewayProcess

Row = TypeVar("Row", LLMProvider, LLMModel, LLMRoutingRule, UserAPIKey)


def system_key(slug: str) -> str:
    """The system key stored for provider `slug`: the fake upstream sees it as the bearer."""
    return f"sk-system-{slug}"


@dataclass(frozen=True, slots=True)
class CatalogRows:
    """Rows added in `session`: keys are encrypted with `secrets`, and providers point at
    `base_url` (the fake upstream's) unless told otherwise."""

    session: Session
    secrets: SecretManager
    base_url: str

    def provider(
        self,
        slug: str,
        *,
        base_url: str | None = None,
        byok: bool = False,
        min_tier: Tier = Tier.FREE,
        with_system_key: bool = True,
        api_key: str | None = None,
        api_key_format: str | None = None,
    ) -> LLMProvider:
        """A provider whose stored system key is `api_key`, else `system_key(slug)`."""
        encrypted = self.secrets.encrypt_secret(api_key or system_key(slug))["encrypted_value"]
        return self._added(
            LLMProvider(
                provider_name=slug,
                provider_slug=slug,
                base_url=base_url or self.base_url,
                api_format="openai",
                auth_type="bearer",
                encrypted_api_key=encrypted if with_system_key else None,
                supports_streaming=True,
                supports_function_calling=True,
                is_byok_supported=byok,
                api_key_format=api_key_format,
                min_tier_required=str(min_tier),
                config={},
            )
        )

    def model(
        self,
        provider: LLMProvider,
        model_id: str,
        *,
        power_level: PowerLevel = PowerLevel.BALANCED,
        input_price: str = "0.25",
        output_price: str = "1.25",
        cached_input_price: str | None = None,
        min_tier: Tier = Tier.FREE,
        deprecated: bool = False,
        replacement: LLMModel | None = None,
        max_output_tokens: int | None = None,
    ) -> LLMModel:
        return self._added(
            LLMModel(
                provider_id=provider.id,
                model_name=model_id,
                model_id=model_id,
                context_window=128_000,
                max_tokens=max_output_tokens,
                supports_streaming=True,
                supports_function_calling=True,
                supports_json_mode=True,
                cost_per_1m_input_tokens=Decimal(input_price),
                cost_per_1m_output_tokens=Decimal(output_price),
                cost_per_1m_cached_input_tokens=(
                    Decimal(cached_input_price) if cached_input_price is not None else None
                ),
                power_level=str(power_level),
                min_tier_required=str(min_tier),
                is_deprecated=deprecated,
                replacement_model_id=replacement.id if replacement is not None else None,
            )
        )

    def rule(
        self,
        model: LLMModel,
        *,
        power_level: PowerLevel | None = None,
        tier: Tier | None = None,
        task_type: str = "general",
        priority: int = 1,
        is_fallback: bool = False,
    ) -> LLMRoutingRule:
        return self._added(
            LLMRoutingRule(
                model_id=model.id,
                power_level=str(power_level or model.power_level),
                user_tier=str(tier) if tier is not None else None,
                task_type=task_type,
                priority=priority,
                is_fallback=is_fallback,
            )
        )

    def user(
        self,
        user_id: str,
        *,
        tier: Tier = Tier.FREE,
        default_power_level: PowerLevel | None = None,
    ) -> str:
        """A user and a virtual key for them; the key."""
        create_user(
            self.session, user_id=user_id, tier=tier, default_power_level=default_power_level
        )
        return issue_virtual_key(self.session, user_id=user_id, name="e2e").key

    def users(self, *user_ids: str) -> tuple[dict[str, str], dict[str, int]]:
        """Users with a virtual key each: the keys and the keys' row ids, by user id."""
        keys, key_ids = {}, {}
        for user_id in user_ids:
            create_user(self.session, user_id=user_id)
            issued = issue_virtual_key(self.session, user_id=user_id)
            keys[user_id], key_ids[user_id] = issued.key, issued.record.id
        return keys, key_ids

    def byok_key(
        self, *, user_id: str, provider: LLMProvider, secret: str, validated: bool = True
    ) -> UserAPIKey:
        return self._added(
            UserAPIKey(
                user_id=user_id,
                provider_id=provider.id,
                key_name="own",
                encrypted_api_key=self.secrets.encrypt_secret(secret)["encrypted_value"],
                key_prefix=secret[:6],
                key_suffix=secret[-4:],
                is_active=True,
                is_validated=validated,
                last_validated_at=utcnow() if validated else None,
            )
        )

    def _added(self, row: Row) -> Row:
        self.session.add(row)
        self.session.flush()
        return row


@dataclass(frozen=True, slots=True)
class Prices:
    """A model's prices per 1M tokens, and what a request should cost at them."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None

    @classmethod
    def of(cls, model: LLMModel) -> Prices:
        return cls(
            model.cost_per_1m_input_tokens,
            model.cost_per_1m_output_tokens,
            model.cost_per_1m_cached_input_tokens,
        )

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> Decimal:
        cached_price = self.input if self.cached_input is None else self.cached_input
        return (
            (prompt_tokens - cached_tokens) * self.input
            + cached_tokens * cached_price
            + completion_tokens * self.output
        ) / 10**6


def client(gateway: GatewayProcess, key: str, **options: Any) -> openai.OpenAI:
    """The official SDK pointed at the gateway; no retries, so every call is one request."""
    return openai.OpenAI(
        base_url=gateway.openai_base_url, api_key=key, max_retries=0, timeout=10, **options
    )


def streamed_with_usage(
    sdk: openai.OpenAI, model: str, messages: list[Any], **options: Any
) -> AbstractContextManager[openai.APIResponse[openai.Stream[ChatCompletionChunk]]]:
    """A streamed chat completion whose last chunk carries the usage, to open with `with`."""
    return sdk.chat.completions.with_streaming_response.create(
        model=model,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        **options,
    )


def post_chat(
    gateway: GatewayProcess, key: str | None, body: Any = None, **options: Any
) -> httpx.Response:
    """`POST /v1/chat/completions` with httpx, for what the SDK would not send."""
    headers = dict(options.pop("headers", {}))
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    if body is not None:
        options["json"] = body
    return httpx.post(
        f"{gateway.openai_base_url}/chat/completions", headers=headers, timeout=10, **options
    )


def post_messages(gateway: GatewayProcess, key: str, body: Any) -> httpx.Response:
    """`POST /v1/messages` with httpx, as Anthropic's clients send it."""
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    return httpx.post(f"{gateway.base_url}/v1/messages", headers=headers, json=body, timeout=10)


def user_message(text: str = "Hello?") -> list[Any]:
    return [{"role": "user", "content": text}]
