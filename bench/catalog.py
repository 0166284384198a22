"""The benchmark gateway's database: a catalog of 10 providers × 30 models, every provider an
OpenAI-compatible one at the fake upstream with a stored (encrypted) system key, routing
rules for every tier × power level (and a few task types), and one user with a virtual key."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select

from switchboard.db import open_database
from switchboard.models import Base, LLMUsageLog
from switchboard.secrets import SecretManager
from switchboard.services.users import create_user, issue_virtual_key
from switchboard.vocabulary import PowerLevel, Tier

PROVIDERS, MODELS_PER_PROVIDER, RULES_PER_MODEL = 10, 30, 2
SYSTEM_KEY = "sk-upstream-bench-system-key"
USER_ID = "bench-user"
TASKS = ("general", "chat", "code", "summarize")
LEVELS = (PowerLevel.ECO, PowerLevel.BALANCED, PowerLevel.PRECISION)
# $ per 1M tokens (input, output): eco stays under the default eco ceiling ($0.50 blended).
PRICES = {
    PowerLevel.ECO: (Decimal("0.10"), Decimal("0.40")),
    PowerLevel.BALANCED: (Decimal("1.00"), Decimal("4.00")),
    PowerLevel.PRECISION: (Decimal("5.00"), Decimal("15.00")),
}
Row = dict[str, Any]


@dataclass(frozen=True)
class Tenant:
    virtual_key: str
    providers: int
    models: int
    rules: int


def _providers(upstream_base_url: str, encrypted_key: str) -> list[Row]:
    return [
        {
            "id": pid,
            "provider_name": f"Bench provider {pid}",
            "provider_slug": f"bench-{pid:02d}",
            "base_url": upstream_base_url,
            "api_format": "openai",
            "auth_type": "bearer",
            "encrypted_api_key": encrypted_key,
            "supports_streaming": True,
            "supports_function_calling": True,
            "supports_vision": True,
            "is_active": True,
            "min_tier_required": "free",
            "health_status": "healthy",
        }
        for pid in range(1, PROVIDERS + 1)
    ]


def _models() -> list[Row]:
    rows = []
    for pid in range(1, PROVIDERS + 1):
        for n in range(MODELS_PER_PROVIDER):
            level = LEVELS[n % len(LEVELS)]
            price_in, price_out = PRICES[level]
            rows.append(
                {
                    "id": (pid - 1) * MODELS_PER_PROVIDER + n + 1,
                    "provider_id": pid,
                    "model_name": f"Bench model {pid}-{n}",
                    "model_id": f"bench-{pid:02d}-m{n:02d}",
                    "max_tokens": 16_384,
                    "context_window": 128_000,
                    "supports_streaming": True,
                    "supports_function_calling": True,
                    "supports_vision": n % 2 == 0,
                    "supports_json_mode": True,
                    "cost_per_1m_input_tokens": price_in,
                    "cost_per_1m_output_tokens": price_out,
                    "cost_per_1m_cached_input_tokens": price_in / 4,
                    "power_level": level.value,
                    "power_level_priority": 1 + n % 5,
                    "is_active": True,
                    "min_tier_required": "free",
                }
            )
    return rows


def _rules(models: list[Row]) -> list[Row]:
    """Each model gets rules at its power level, cycling through every tier (and None, any
    tier) and a few task types, so every tier × power level × task has many candidates."""
    tiers: list[str | None] = [None, *(tier.value for tier in Tier)]
    rows = []
    for index, model in enumerate(models):
        for k in range(RULES_PER_MODEL):
            position = index * RULES_PER_MODEL + k
            rows.append(
                {
                    "id": position + 1,
                    "model_id": model["id"],
                    "power_level": model["power_level"],
                    "user_tier": tiers[position % len(tiers)],
                    "task_type": TASKS[(position // len(tiers)) % len(TASKS)],
                    "priority": 1 + position % 3,
                    "weight": (10, 50, 100, 200)[position % 4],
                    "is_fallback": position % 10 == 9,
                    "is_active": True,
                }
            )
    return rows


def build(database_url: str, encryption_key: str, upstream_base_url: str) -> Tenant:
    """Migrate a fresh database, write the catalog, create the user and its virtual key."""
    sessions = open_database(database_url)
    engine = sessions.kw["bind"]
    try:
        secrets = SecretManager.from_value(encryption_key)
        encrypted = secrets.encrypt_secret(SYSTEM_KEY, "provider_api_key")["encrypted_value"]
        models = _models()
        rules = _rules(models)
        tables = Base.metadata.tables
        with engine.begin() as connection:
            connection.execute(
                insert(tables["llm_providers"]), _providers(upstream_base_url, encrypted)
            )
            connection.execute(insert(tables["llm_models"]), models)
            connection.execute(insert(tables["llm_routing_rules"]), rules)
        with sessions() as session:
            create_user(
                session,
                user_id=USER_ID,
                tier=Tier.PROFESSIONAL,
                default_power_level=PowerLevel.BALANCED,
            )
            issued = issue_virtual_key(session, user_id=USER_ID, name="bench")
        return Tenant(issued.key, PROVIDERS, len(models), len(rules))
    finally:
        engine.dispose()


def usage_rows(database_url: str) -> int:
    """The rows in `llm_usage_logs` now."""
    sessions = open_database(database_url, migrate=False)
    try:
        with sessions() as session:
            return int(session.scalar(select(func.count()).select_from(LLMUsageLog)) or 0)
    finally:
        sessions.kw["bind"].dispose()
