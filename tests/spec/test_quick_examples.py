"""The spec's "Quick Examples", "Common Tasks" and "Troubleshooting" code, run for real on
SQLite and PostgreSQL (the code itself is in `examples.py`, verbatim but for imports)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard import LLMRoutingEngine
from switchboard.models import LLMModel, LLMProvider, LLMRoutingRule, LLMUsageLog, UserAPIKey
from switchboard.secrets import get_secret_manager
from tests.spec import examples


def test_create_provider_model_and_rule_store_every_field(db: Session) -> None:
    provider = examples.create_openai_provider(db)
    model = examples.create_gpt4_model(db, provider.id)
    rule = examples.create_routing_rule(db, model.id)

    db.expire_all()
    stored = db.get(LLMModel, model.id)
    assert stored is not None
    assert stored.provider.provider_slug == "openai"
    assert stored.provider.api_key_format == "sk-*"
    assert stored.cost_per_1m_input_tokens == Decimal("10.000000")
    assert stored.cost_per_1m_output_tokens == Decimal("30.000000")
    assert stored.context_window == 128000
    assert stored.power_level_priority == 1
    stored_rule = db.get(LLMRoutingRule, rule.id)
    assert stored_rule is not None
    assert (stored_rule.power_level, stored_rule.user_tier, stored_rule.task_type) == (
        "precision",
        "professional",
        "code",
    )
    assert stored_rule.model.model_id == "gpt-4-turbo-preview"


def test_route_llm_request_finds_nothing_without_a_balanced_rule(
    db: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    provider = examples.create_openai_provider(db)
    model = examples.create_gpt4_model(db, provider.id)
    examples.create_routing_rule(db, model.id)

    assert examples.route_llm_request(db, "user-1") is None
    assert "No model available" in capsys.readouterr().out


def test_route_llm_request_after_seeding_uses_the_system_key(
    db: Session, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-system-123456")
    examples.seed_llm_data(db)

    model, api_key, key_source = examples.route_llm_request(db, "user-1")

    assert model.model_id == "gpt-4-turbo-preview"
    assert (api_key, key_source) == ("sk-system-123456", "system")
    out = capsys.readouterr().out
    assert "Selected: GPT-4 Turbo" in out
    assert "Provider: OpenAI" in out
    # 800 × $10/1M + 200 × $30/1M = $0.008 + $0.006
    assert "Estimated cost: $0.014000" in out


def test_route_without_any_key_still_returns_the_model(db: Session) -> None:
    examples.seed_llm_data(db)
    model, api_key, key_source = examples.route_llm_request(db, "user-1")
    assert model.model_id == "gpt-4-turbo-preview"
    assert (api_key, key_source) == (None, "system")


def test_byok_key_is_used_once_validated(db: Session) -> None:
    examples.seed_llm_data(db)
    provider = db.scalars(select(LLMProvider)).one()
    user_key = examples.add_user_api_key(db, "user-1", provider.id, "sk-user-abcdefgh1234")

    # Stored encrypted, with prefix and suffix for display only.
    assert "sk-user" not in user_key.encrypted_api_key
    assert (user_key.key_prefix, user_key.key_suffix) == ("sk-user-", "1234")
    secret = get_secret_manager().decrypt_secret(user_key.encrypted_api_key)
    assert secret == "sk-user-abcdefgh1234"

    # Not validated yet: the system key (none configured here) is what routing offers.
    _, api_key, key_source = examples.route_llm_request(db, "user-1")
    assert (api_key, key_source) == (None, "system")

    # The spec's "Re-validate key" troubleshooting step.
    from datetime import datetime

    user_key.is_validated = True
    user_key.last_validated_at = datetime.utcnow()  # noqa: DTZ003 - the spec's own code
    db.commit()

    _, api_key, key_source = examples.route_llm_request(db, "user-1")
    assert (api_key, key_source) == ("sk-user-abcdefgh1234", "byok")
    # Another user does not get this user's key.
    _, api_key, key_source = examples.route_llm_request(db, "user-2")
    assert (api_key, key_source) == (None, "system")


def test_log_llm_usage_writes_one_row_with_exact_costs(db: Session) -> None:
    provider = examples.create_openai_provider(db)
    model = examples.create_gpt4_model(db, provider.id)

    row_id = examples.log_llm_usage(db, "user-1", model, 1234, 567)

    db.expire_all()
    row = db.get(LLMUsageLog, row_id)
    assert row is not None
    assert (row.user_id, row.model_id, row.provider_id) == ("user-1", model.id, provider.id)
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (1234, 567, 1801)
    assert row.cost_input_usd == Decimal("0.01234")
    assert row.cost_output_usd == Decimal("0.01701")
    assert row.cost_total_usd == Decimal("0.02935")
    assert (row.power_level, row.task_type, row.status_code, row.latency_ms) == (
        "balanced",
        "chat",
        200,
        1500,
    )
    assert (row.request_ip, row.user_agent, row.used_byok) == ("192.168.1.1", "Mozilla/5.0", False)
    assert row.created_at.tzinfo is not None


def test_seed_llm_data_creates_a_rule_per_tier_and_power_level(
    db: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    examples.seed_llm_data(db)
    assert "Seeded LLM data" in capsys.readouterr().out
    assert db.scalar(select(func.count()).select_from(LLMRoutingRule)) == 12

    engine = LLMRoutingEngine(db)
    model, _, _ = engine.select_model("u", "enterprise", "precision")
    assert model is not None and model.model_id == "gpt-4-turbo-preview"
    # Below the model's min tier: nothing.
    assert engine.select_model("u", "starter", "precision") == (None, None, None)
    # The troubleshooting section: eco has a price ceiling ($0.50/1M) that GPT-4 Turbo is over…
    assert engine.select_model("u", "professional", "eco") == (None, None, None)
    verdict = engine.explain("u", "professional", "eco")[0]
    assert (verdict.verdict, verdict.reason) == ("rejected", "price ceiling")
    # …and 'balanced' is the suggested way out.
    model, _, _ = engine.select_model("u", "professional", "balanced")
    assert model is not None


def test_update_model_pricing_changes_the_cost(
    db: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    provider = examples.create_openai_provider(db)
    model = examples.create_gpt4_model(db, provider.id)

    examples.update_model_pricing(db, model.id, 2.5, 10.0)
    assert "Updated pricing for GPT-4 Turbo" in capsys.readouterr().out

    db.expire_all()
    stored = db.get(LLMModel, model.id)
    assert stored is not None
    cost = LLMRoutingEngine(db).calculate_cost(stored, 1_000_000, 100_000)
    assert cost["cost_total_usd"] == Decimal("3.5")

    examples.update_model_pricing(db, 99999, 1.0, 1.0)
    assert "Model 99999 not found" in capsys.readouterr().out


def test_deprecate_model_stops_routing_and_names_the_replacement(db: Session) -> None:
    examples.seed_llm_data(db)
    old = db.scalars(select(LLMModel)).one()
    new = LLMModel(
        provider_id=old.provider_id,
        model_name="GPT-4o",
        model_id="gpt-4o",
        cost_per_1m_input_tokens=2.5,
        cost_per_1m_output_tokens=10,
        power_level="precision",
        min_tier_required="professional",
    )
    db.add(new)
    db.commit()

    examples.deprecate_model(db, old.id, new.id)

    engine = LLMRoutingEngine(db)
    verdicts = {v.model_id: v for v in engine.explain("u", "professional", "precision")}
    assert verdicts["gpt-4-turbo-preview"].verdict == "rejected"
    assert verdicts["gpt-4-turbo-preview"].reason == "inactive"
    # A client asking for the old model by name is served by its replacement.
    snapshot = engine.snapshot
    (asked,) = snapshot.find_models("openai/gpt-4-turbo-preview")
    assert snapshot.serving_model(asked).model_id == "gpt-4o"
    stored = db.get(LLMModel, old.id)
    assert stored is not None and stored.replacement is not None
    assert stored.replacement.model_id == "gpt-4o"


def test_user_api_key_rows_are_found_by_the_troubleshooting_query(db: Session) -> None:
    examples.seed_llm_data(db)
    provider = db.scalars(select(LLMProvider)).one()
    examples.add_user_api_key(db, "user-uuid", provider.id, "sk-abcdefghijkl")
    rows = db.scalars(
        select(UserAPIKey).where(UserAPIKey.user_id == "user-uuid", UserAPIKey.is_validated)
    ).all()
    assert rows == []
