"""The seeded catalog's long-context tiers, billed through the spec's `calculate_cost` and
checked by routing's price ceilings: golden figures at both sides of each boundary."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.engine import LLMRoutingEngine
from switchboard.models import LLMModel
from switchboard.services.seeding import seed_catalog


def model(db: Session, model_id: str) -> LLMModel:
    return db.scalars(select(LLMModel).where(LLMModel.model_id == model_id)).one()


@pytest.mark.parametrize(
    ("model_id", "prompt", "expected"),
    [
        # Gemini 3.1 Pro: $2 / $12 per 1M; above 200k prompt tokens $4 / $18.
        ("gemini-3.1-pro-preview", 200_000, Decimal("0.412")),  # 0.4 + 1,000 × 12 / 1M
        ("gemini-3.1-pro-preview", 200_001, Decimal("0.818004")),  # 0.800004 + 0.018
        # GPT-6.1 Sol: $2 / $10; above 272k $4 / $15.
        ("gpt-6.1-sol", 272_000, Decimal("0.554")),
        ("gpt-6.1-sol", 272_001, Decimal("1.103004")),
        # Claude Haiku 5.5: $0.10 / $0.50; above 100k $0.50 / $2.50.
        ("claude-haiku-5-5", 100_000, Decimal("0.0105")),
        ("claude-haiku-5-5", 100_001, Decimal("0.0525005")),
    ],
)
def test_a_request_is_billed_at_the_tier_its_prompt_falls_in(
    db: Session, model_id: str, prompt: int, expected: Decimal
) -> None:
    seed_catalog(db)
    cost = LLMRoutingEngine(db).calculate_cost(model(db, model_id), prompt, 1_000)
    assert cost["cost_total_usd"] == expected


def test_claude_writes_pay_its_cache_write_price(db: Session) -> None:
    seed_catalog(db)
    haiku = model(db, "claude-haiku-5-5")
    cost = LLMRoutingEngine(db).calculate_cost(haiku, 10_000, 0, cache_write_tokens=8_000)
    # 2,000 × $0.10 + 8,000 × $0.125 (its own write price, which is 1.25× here too).
    assert cost["cost_input_usd"] == Decimal("0.0012")


def test_eco_routing_leaves_haiku_out_above_its_boundary(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123")
    seed_catalog(db)
    engine = LLMRoutingEngine(db)

    def anthropic_at_eco(tokens: int) -> list[str]:
        plan = engine.plan("u", "free", "eco", estimated_tokens=tokens)
        return [c.model.model_id for c in plan.candidates if c.provider.slug == "anthropic"]

    assert anthropic_at_eco(100_000) == ["claude-haiku-5-5"]
    assert anthropic_at_eco(100_001) == []
    verdicts = {v.model_id: v for v in engine.explain("u", "free", "eco", estimated_tokens=150_000)}
    assert verdicts["claude-haiku-5-5"].reason == "price ceiling"
