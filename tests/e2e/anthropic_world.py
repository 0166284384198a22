"""The world of the Anthropic end-to-end tests: the demo catalog (its mock provider), a fake
Anthropic provider (api_format `anthropic`, its system key stored encrypted, BYOK allowed)
with Claude-like models priced with a cached-input price, an OpenAI-compatible fallback on the
fake OpenAI upstream, users with virtual keys, and a gateway in front of it all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anthropic
import openai

from switchboard.models import LLMUsageLog
from switchboard.services.seeding import seed_catalog
from switchboard.vocabulary import Tier
from tests.e2e.catalog_rows import (
    client,
    system_key,
)
from tests.e2e.harness import GatewayProcess
from tests.e2e.stage import Stage
from tests.fake_upstream import AnthropicReply, FakeUpstream, Wire, running_fake_upstream

ANTHROPIC = "fake-anthropic"
"""The fake Anthropic provider's slug."""
CLAUDE = "claude-e2e"
"""Answers the fake's default reply: 20 input tokens, 30 read from the cache, 7 output."""
TOOLS_MODEL = "claude-tools"
"""Answers what a test scripts."""
FAILING = {
    "claude-overloaded": AnthropicReply(status=529, error_message="Overloaded"),
    "claude-limited": AnthropicReply(status=429, retry_after="20", error_message="Rate limited"),
    "claude-rejects": AnthropicReply(
        status=400, error_message='messages: roles must alternate between "user" and "assistant"'
    ),
}
BACKUP = "backup-chat"
"""The fallback on the fake OpenAI-compatible upstream: 12 prompt and 5 completion tokens."""
BYOK_SECRET = "sk-ant-byok-0123456789abcdef"
"""The one own key the fake Anthropic accepts, besides the system key."""

# $ per 1M tokens, as Claude Sonnet 4: input, cache read, output.
CLAUDE_INPUT, CLAUDE_CACHED, CLAUDE_OUTPUT = Decimal("3"), Decimal("0.3"), Decimal("15")
BACKUP_INPUT, BACKUP_OUTPUT = Decimal("0.5"), Decimal("1.5")
BACKUP_COST = (12 * BACKUP_INPUT + 5 * BACKUP_OUTPUT) / 10**6
"""What one answer of the fallback costs."""

WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@dataclass(frozen=True)
class World:
    gateway: GatewayProcess
    fake: FakeUpstream
    backup: FakeUpstream
    keys: dict[str, str]
    """User id → virtual key."""
    claude: anthropic.Anthropic
    sdk: openai.OpenAI


USERS = ("anthropic-user", "anthropic-byok-user", "anthropic-counted-user")


@contextmanager
def anthropic_world(stage: Stage) -> Iterator[World]:
    backup = stage.fake
    api_keys = (system_key(ANTHROPIC), BYOK_SECRET)
    with running_fake_upstream(wire=Wire.ANTHROPIC, api_keys=api_keys) as fake:
        with stage.catalog() as rows:
            seed_catalog(rows.session, demo=True)
            provider = rows.provider(ANTHROPIC, base_url=fake.base_url, byok=True)
            provider.api_format, provider.auth_type = "anthropic", "api_key"
            for name in (CLAUDE, TOOLS_MODEL, *FAILING):
                rows.model(
                    provider,
                    name,
                    input_price=str(CLAUDE_INPUT),
                    output_price=str(CLAUDE_OUTPUT),
                    cached_input_price=str(CLAUDE_CACHED),
                )
            openai_compatible = rows.provider("fake-openai")
            rows.model(
                openai_compatible,
                BACKUP,
                input_price=str(BACKUP_INPUT),
                output_price=str(BACKUP_OUTPUT),
            )
            keys = {user: rows.user(user, tier=Tier.PROFESSIONAL) for user in USERS}
        fake.set_default(CLAUDE, AnthropicReply(cache_read_input_tokens=30))
        for name, reply in FAILING.items():
            fake.set_default(name, reply)
        env = {"HEALTH_CHECK_INTERVAL_S": "0"}  # no probes of the fakes between the tests
        with (
            stage.gateway(env) as gateway,
            claude_client(gateway, keys[USERS[0]]) as claude,
            client(gateway, keys[USERS[0]]) as sdk,
        ):
            yield World(gateway, fake, backup, keys, claude, sdk)


def claude_client(gateway: GatewayProcess, key: str) -> anthropic.Anthropic:
    """The official Anthropic SDK pointed at the gateway; no retries: one call, one request."""
    return anthropic.Anthropic(base_url=gateway.base_url, api_key=key, max_retries=0, timeout=10)


def user(text: str) -> Any:
    return {"role": "user", "content": text}


def request_id(headers: Any) -> str:
    return str(headers["x-switchboard-request-id"])


def claude_cost(input_tokens: int, cached_tokens: int, output_tokens: int) -> Decimal:
    """What a Claude model here costs: uncached input, cache reads and output, each at its price."""
    return (
        input_tokens * CLAUDE_INPUT + cached_tokens * CLAUDE_CACHED + output_tokens * CLAUDE_OUTPUT
    ) / 10**6


CLAUDE_BILL = {
    "model_name": CLAUDE,
    "status_code": 200,
    "prompt_tokens": 50,  # 20 input + 30 read from the cache
    "cached_tokens": 30,
    "completion_tokens": 7,
    "total_tokens": 57,
    "cost_total_usd": claude_cost(20, 30, 7),
    "used_byok": False,
    "usage_estimated": False,
}
"""The bill of one request answered by the fake's default reply for `CLAUDE`."""

CACHE_WRITING = AnthropicReply(
    input_tokens=20,
    cache_read_input_tokens=30,
    cache_creation_input_tokens=400,
    cache_creation_1h_input_tokens=100,
)
"""A reply that wrote 400 prompt tokens to Anthropic's cache, 100 of them for an hour."""
CACHE_WRITING_COSTS = {
    # 20 plain at $3, 300 five-minute writes at $3.75, 100 one-hour writes at $6 per 1M
    "cost_input_usd": Decimal("0.001785"),
    "cost_cached_usd": Decimal("0.000009"),
    "cost_output_usd": Decimal("0.000105"),
    "cost_total_usd": Decimal("0.001899"),
}


CACHE_WRITING_BILL = {
    "prompt_tokens": 450,
    "cached_tokens": 30,
    "cache_write_tokens": 400,
    "completion_tokens": 7,
    **CACHE_WRITING_COSTS,
}


def costs(row: LLMUsageLog) -> dict[str, Any]:
    """A usage row's token counts and cost breakdown."""
    names = ("prompt_tokens", "cached_tokens", "cache_write_tokens", "completion_tokens")
    return {name: getattr(row, name) for name in (*names, *CACHE_WRITING_COSTS)}


def outcome(row: LLMUsageLog) -> tuple[str | None, int | None, int, Decimal]:
    """A usage row's model, status, attempts and cost: what a fallback test checks."""
    return row.model_name, row.status_code, row.attempts, row.cost_total_usd


def bill(row: LLMUsageLog) -> dict[str, Any]:
    """What a test checks of a usage row."""
    names = (
        "model_name",
        "status_code",
        "prompt_tokens",
        "cached_tokens",
        "completion_tokens",
        "total_tokens",
        "cost_total_usd",
        "used_byok",
        "usage_estimated",
    )
    return {name: getattr(row, name) for name in names}
