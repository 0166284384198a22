"""The console benchmark's database: the usage analytics benchmark's loader (providers, models,
usage rows, rollups) at a larger shape, then what the console's other pages list — the users of
those usage rows, their virtual keys, routing rules for every model, price history, an audit
log, and a few BYOK keys for the user who signs in to "My keys"."""

from __future__ import annotations

import hashlib
import random
import time
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Engine, insert, text, update

from bench import analytics
from bench.analytics import Model, Shape
from switchboard.models import (
    AuditLogEntry,
    LLMModelPriceHistory,
    LLMProvider,
    LLMRoutingRule,
    User,
    UserAPIKey,
    VirtualKey,
)
from switchboard.services.audit import Action, Entity
from switchboard.vocabulary import Tier

SHAPE = Shape(rows=2_000_000, users=100_000, providers=50, models=10_000, days=35)
AUDIT_ENTRIES = 50_000
KEYED_USERS_EVERY = 4
"""One user in four has virtual keys (one to three)."""
BYOK_PROVIDERS_EVERY = 5
TASKS = ("chat", "code", "summarize")
ACTORS = ("admin", "admin", "admin", "system", "cli")
Row = dict[str, Any]


def load(
    engine: Engine, rnd: random.Random, now: datetime, shape: Shape, encryption_key: str
) -> dict[str, Any]:
    """Everything the console shows, loaded; the seconds each part took."""
    models = analytics.catalog(rnd, shape)
    profiles = analytics.users(rnd, shape, models)
    prepared = analytics.load_usage(engine, rnd, now, shape, models, profiles)
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            update(LLMProvider).values(
                is_byok_supported=LLMProvider.id % BYOK_PROVIDERS_EVERY == 0,
                health_status="healthy",
            )
        )
        connection.execute(insert(User), users(profiles, now))
        connection.execute(insert(VirtualKey), virtual_keys(rnd, profiles, now))
        connection.execute(insert(LLMRoutingRule), routing_rules(models))
        connection.execute(insert(LLMModelPriceHistory), price_history(models, now))
        connection.execute(insert(AuditLogEntry), audit_entries(rnd, shape, now))
        connection.execute(insert(UserAPIKey), byok_keys(profiles[0]["id"], encryption_key))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in (
            "llm_providers",
            "llm_models",
            "llm_users",
            "llm_virtual_keys",
            "llm_routing_rules",
            "llm_model_price_history",
            "llm_audit_log",
            "user_api_keys",
        ):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
    return {**prepared, "console_tables_s": round(time.perf_counter() - started, 1)}


def users(profiles: list[Row], now: datetime) -> list[Row]:
    """A row for every user of the usage rows, created over the past year in id order."""
    year = timedelta(days=365)
    return [
        {
            "id": profile["id"],
            "tier": profile["tier"],
            "display_name": f"User {n}",
            "email": f"user{n}@example.com",
            "is_active": n % 50 != 49,
            "created_at": now - year + year * n / len(profiles),
            "updated_at": now,
        }
        for n, profile in enumerate(profiles)
    ]


def virtual_keys(rnd: random.Random, profiles: list[Row], now: datetime) -> list[Row]:
    """Stored keys only (a hash of nothing anyone holds); the benchmark issues its real one."""
    keys = []
    for n, profile in enumerate(profiles[::KEYED_USERS_EVERY]):
        for k in range(rnd.randint(1, 3)):
            digest = hashlib.sha256(f"bench-key-{n}-{k}".encode()).hexdigest()
            keys.append(
                {
                    "user_id": profile["id"],
                    "name": f"key {k + 1}",
                    "key_hash": digest,
                    "key_prefix": f"sk-sb-{digest[:6]}",
                    "is_revoked": k == 2,
                    "created_at": now - timedelta(days=rnd.randint(1, 300)),
                }
            )
    return keys


def routing_rules(models: list[Model]) -> list[Row]:
    """A rule for every model at its power level, all tiers; one in three also a tier's own
    rule, one in seven a task's."""
    tiers = list(Tier)
    rules = []
    for model in models:
        n = model["id"]
        base = {"model_id": n, "power_level": model["power_level"], "weight": 100}
        rules.append({**base, "user_tier": None, "task_type": "general", "priority": n % 100})
        if n % 3 == 0:
            tier = tiers[n % len(tiers)].value
            rules.append({**base, "user_tier": tier, "task_type": "general", "priority": 10})
        if n % 7 == 0:
            task = TASKS[n % len(TASKS)]
            rules.append({**base, "user_tier": None, "task_type": task, "priority": 20})
    return rules


def price_history(models: list[Model], now: datetime) -> list[Row]:
    """Every model's open price period; one model in ten has had three other prices before."""
    rows = []
    for model in models:
        start = now - timedelta(days=120)
        changes = 3 if model["id"] % 10 == 1 else 0
        for change in range(changes, -1, -1):
            factor = 1 + change / 10
            end = now - timedelta(days=30 * change) if change else None
            rows.append(
                {
                    "model_id": model["id"],
                    "cost_per_1m_input_tokens": round(
                        model["cost_per_1m_input_tokens"] * factor, 4
                    ),
                    "cost_per_1m_output_tokens": round(
                        model["cost_per_1m_output_tokens"] * factor, 4
                    ),
                    "cost_per_1m_cached_input_tokens": None,
                    "effective_from": start,
                    "effective_to": end,
                    "changed_by": "admin",
                }
            )
            start = end or start
    return rows


def audit_entries(rnd: random.Random, shape: Shape, now: datetime) -> list[Row]:
    entities = list(Entity)
    actions = [Action.CREATE, Action.UPDATE, Action.UPDATE, Action.DEACTIVATE]
    span = timedelta(days=shape.days)
    return [
        {
            "at": now - span + span * n / AUDIT_ENTRIES,
            "actor": rnd.choice(ACTORS),
            "action": rnd.choice(actions).value,
            "entity_type": (entity := rnd.choice(entities)).value,
            "entity_id": str(rnd.randint(1, shape.models)),
            "before": {"is_active": True, "priority": rnd.randint(1, 100)},
            "after": {"is_active": rnd.random() < 0.8, "priority": rnd.randint(1, 100)},
            "request_id": f"req_audit_{n:08d}_{entity.value}",
        }
        for n in range(AUDIT_ENTRIES)
    ]


def byok_keys(user_id: str, encryption_key: str) -> list[Row]:
    fernet = Fernet(encryption_key.encode())
    return [
        {
            "user_id": user_id,
            "provider_id": provider_id,
            "key_name": f"my key {provider_id}",
            "encrypted_api_key": fernet.encrypt(f"sk-bench-byok-{provider_id}".encode()).decode(),
            "key_prefix": "sk-ben",
            "key_suffix": f"{provider_id:04d}",
            "is_validated": True,
        }
        for provider_id in (BYOK_PROVIDERS_EVERY, 2 * BYOK_PROVIDERS_EVERY)
    ]
