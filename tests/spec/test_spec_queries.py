"""The spec's SQL ("Database Queries" and "Troubleshooting") against the real schema.

PostgreSQL runs them exactly as written. SQLite runs the same text with only the date
arithmetic in SQLite's syntax (`NOW() - INTERVAL '30 days'` → `datetime('now', '-30 days')`).
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from switchboard import LLMRoutingEngine
from switchboard._types import utcnow
from switchboard.models import LLMModel, LLMProvider, LLMRoutingRule
from switchboard.usage import UsageRecord, write_records

FIND_MODELS_BY_POWER_LEVEL = """
SELECT m.model_name, m.power_level, p.provider_name
FROM llm_models m
JOIN llm_providers p ON m.provider_id = p.id
WHERE m.power_level = 'balanced'
  AND m.is_active = true
ORDER BY m.power_level_priority;
"""

USER_USAGE_STATISTICS = """
SELECT
    user_id,
    COUNT(*) as total_requests,
    SUM(total_tokens) as total_tokens,
    SUM(cost_total_usd) as total_cost,
    AVG(latency_ms) as avg_latency,
    SUM(CASE WHEN used_byok THEN 1 ELSE 0 END) as byok_requests
FROM llm_usage_logs
WHERE user_id = 'user-uuid'
  AND created_at >= NOW() - INTERVAL '30 days'
GROUP BY user_id;
"""

TOP_COST_MODELS = """
SELECT
    m.model_name,
    p.provider_name,
    COUNT(*) as request_count,
    SUM(l.cost_total_usd) as total_cost,
    AVG(l.cost_total_usd) as avg_cost_per_request
FROM llm_usage_logs l
JOIN llm_models m ON l.model_id = m.id
JOIN llm_providers p ON m.provider_id = p.id
WHERE l.created_at >= NOW() - INTERVAL '7 days'
GROUP BY m.model_name, p.provider_name
ORDER BY total_cost DESC
LIMIT 10;
"""

ROUTING_RULES_FOR_TIER = """
SELECT
    r.power_level,
    r.user_tier,
    r.task_type,
    r.priority,
    m.model_name,
    p.provider_name
FROM llm_routing_rules r
JOIN llm_models m ON r.model_id = m.id
JOIN llm_providers p ON m.provider_id = p.id
WHERE r.user_tier = 'professional'
  AND r.is_active = true
ORDER BY r.power_level, r.priority;
"""

ACTIVE_RULES = "SELECT * FROM llm_routing_rules WHERE is_active = true;"
ACTIVE_MODELS = "SELECT * FROM llm_models WHERE is_active = true;"
VALIDATED_KEYS = "SELECT * FROM user_api_keys WHERE user_id = 'user-uuid' AND is_validated = true;"
COST_BY_MODEL = """
SELECT model_id, SUM(cost_total_usd) as total_cost
FROM llm_usage_logs
WHERE created_at >= NOW() - INTERVAL '7 days'
GROUP BY model_id
ORDER BY total_cost DESC;
"""


def run(db: Session, sql: str) -> list[tuple[object, ...]]:
    if db.get_bind().dialect.name == "sqlite":
        sql = re.sub(r"NOW\(\) - INTERVAL '(\d+) days'", r"datetime('now', '-\1 days')", sql)
    return [tuple(row) for row in db.execute(text(sql))]


def balanced(
    provider: LLMProvider,
    name: str,
    model_id: str,
    priority: int,
    prices: tuple[str, str],
    *,
    is_active: bool = True,
) -> LLMModel:
    """A balanced model of `provider` at `prices` ($ per 1M input and output tokens)."""
    return LLMModel(
        provider_id=provider.id,
        model_name=name,
        model_id=model_id,
        power_level="balanced",
        power_level_priority=priority,
        cost_per_1m_input_tokens=Decimal(prices[0]),
        cost_per_1m_output_tokens=Decimal(prices[1]),
        is_active=is_active,
    )


@pytest.fixture
def catalog(db: Session) -> dict[str, LLMModel]:
    openai = LLMProvider(provider_name="OpenAI", provider_slug="openai")
    anthropic = LLMProvider(provider_name="Anthropic", provider_slug="anthropic")
    db.add_all([openai, anthropic])
    db.flush()
    models = {
        "mini": balanced(openai, "GPT-4o mini", "gpt-4o-mini", 2, ("0.15", "0.60")),
        "sonnet": balanced(anthropic, "Claude Sonnet", "claude-sonnet", 1, ("3", "15")),
        "retired": balanced(openai, "Old", "old", 100, ("0", "0"), is_active=False),
    }
    db.add_all(models.values())
    db.flush()
    db.add_all(
        [
            LLMRoutingRule(
                model_id=models["sonnet"].id,
                power_level="precision",
                user_tier="professional",
                task_type="code",
                priority=1,
            ),
            LLMRoutingRule(
                model_id=models["mini"].id,
                power_level="balanced",
                user_tier="professional",
                priority=2,
            ),
            LLMRoutingRule(
                model_id=models["mini"].id, power_level="eco", user_tier="free", priority=1
            ),
            LLMRoutingRule(  # inactive: not listed (one rule per model, level, tier, task)
                model_id=models["mini"].id,
                power_level="balanced",
                user_tier="professional",
                task_type="chat",
                priority=3,
                is_active=False,
            ),
        ]
    )
    db.commit()
    return models


def log(
    db: Session,
    model: LLMModel,
    *,
    days_ago: float,
    user: str = "user-uuid",
    prompt: int = 1000,
    completion: int = 500,
    latency_ms: int | None = None,
    used_byok: bool = False,
) -> None:
    cost = LLMRoutingEngine(db).calculate_cost(model, prompt, completion)
    record = UsageRecord.with_costs(
        cost,
        request_id=str(uuid.uuid4()),
        user_id=user,
        model_id=model.id,
        provider_id=model.provider_id,
        prompt_tokens=prompt,
        completion_tokens=completion,
        latency_ms=latency_ms,
        used_byok=used_byok,
        created_at=utcnow() - timedelta(days=days_ago),
    )
    write_records(db, [record])
    db.commit()


def test_find_models_by_power_level(db: Session, catalog: dict[str, LLMModel]) -> None:
    assert run(db, FIND_MODELS_BY_POWER_LEVEL) == [
        ("Claude Sonnet", "balanced", "Anthropic"),
        ("GPT-4o mini", "balanced", "OpenAI"),
    ]


def test_user_usage_statistics_counts_the_last_30_days(
    db: Session, catalog: dict[str, LLMModel]
) -> None:
    log(db, catalog["mini"], days_ago=1, latency_ms=100, used_byok=True)
    log(db, catalog["sonnet"], days_ago=29, latency_ms=300, prompt=2000, completion=1000)
    log(db, catalog["sonnet"], days_ago=31, latency_ms=900)  # too old
    log(db, catalog["mini"], days_ago=1, latency_ms=900, user="someone-else")

    ((user_id, requests, tokens, cost, avg_latency, byok),) = run(db, USER_USAGE_STATISTICS)

    assert (user_id, requests, tokens, byok) == ("user-uuid", 2, 4500, 1)
    # 1000×0.15 + 500×0.60 = 450 µ$ ; 2000×3 + 1000×15 = 21000 µ$
    assert Decimal(str(cost)) == Decimal("0.02145")
    assert float(avg_latency) == pytest.approx(200)


def test_top_cost_models_over_7_days(db: Session, catalog: dict[str, LLMModel]) -> None:
    log(db, catalog["mini"], days_ago=1)
    log(db, catalog["mini"], days_ago=2)
    log(db, catalog["sonnet"], days_ago=3)
    log(db, catalog["sonnet"], days_ago=8)  # outside the window

    rows = run(db, TOP_COST_MODELS)

    assert [(name, provider, count) for name, provider, count, _, _ in rows] == [
        ("Claude Sonnet", "Anthropic", 1),
        ("GPT-4o mini", "OpenAI", 2),
    ]
    assert Decimal(str(rows[0][3])) == Decimal("0.0105")
    assert Decimal(str(rows[1][3])) == Decimal("0.0009")
    assert Decimal(str(rows[1][4])) == Decimal("0.00045")


def test_routing_rules_for_user_tier(db: Session, catalog: dict[str, LLMModel]) -> None:
    assert run(db, ROUTING_RULES_FOR_TIER) == [
        ("balanced", "professional", "general", 2, "GPT-4o mini", "OpenAI"),
        ("precision", "professional", "code", 1, "Claude Sonnet", "Anthropic"),
    ]


def test_troubleshooting_queries(db: Session, catalog: dict[str, LLMModel]) -> None:
    assert len(run(db, ACTIVE_RULES)) == 3
    assert len(run(db, ACTIVE_MODELS)) == 2
    assert run(db, VALIDATED_KEYS) == []
    log(db, catalog["mini"], days_ago=1)
    log(db, catalog["sonnet"], days_ago=1)
    rows = run(db, COST_BY_MODEL)
    assert [model_id for model_id, _ in rows] == [catalog["sonnet"].id, catalog["mini"].id]
