"""`LLMRoutingEngine` over a real database: keys, candidates, explain and usage logging."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard import LLMRoutingEngine
from switchboard.errors import SecretDecryptionError
from switchboard.models import LLMModel, LLMProvider, LLMRoutingRule, LLMUsageLog, UserAPIKey
from switchboard.routing import HealthView
from switchboard.secrets import get_secret_manager


def add_route(
    db: Session,
    slug: str,
    model_id: str,
    *,
    priority: int = 1,
    auth_type: str = "bearer",
    byok: bool = False,
    requires_byok: bool = False,
    system_key: str | None = None,
) -> LLMModel:
    provider = db.scalars(select(LLMProvider).where(LLMProvider.provider_slug == slug)).first()
    if provider is None:
        provider = LLMProvider(
            provider_name=slug, provider_slug=slug, auth_type=auth_type, is_byok_supported=byok
        )
        if system_key is not None:
            encrypted = get_secret_manager().encrypt_secret(system_key, "provider_api_key")
            provider.encrypted_api_key = encrypted["encrypted_value"]
        db.add(provider)
        db.flush()
    model = LLMModel(
        provider_id=provider.id,
        model_name=model_id,
        model_id=model_id,
        power_level="balanced",
        cost_per_1m_input_tokens=Decimal("1"),
        cost_per_1m_output_tokens=Decimal("2"),
    )
    db.add(model)
    db.flush()
    db.add(
        LLMRoutingRule(
            model_id=model.id,
            power_level="balanced",
            task_type="general",
            priority=priority,
            requires_byok=requires_byok,
        )
    )
    db.commit()
    return model


def add_byok_key(db: Session, user_id: str, model: LLMModel, key: str) -> UserAPIKey:
    row = UserAPIKey(
        user_id=user_id,
        provider_id=model.provider_id,
        encrypted_api_key=get_secret_manager().encrypt_secret(key)["encrypted_value"],
        is_validated=True,
    )
    db.add(row)
    db.commit()
    return row


def test_stored_system_key_is_decrypted(db: Session) -> None:
    add_route(db, "openai", "gpt", system_key="sk-stored-system-key")
    model, api_key, key_source = LLMRoutingEngine(db).select_model("u", "free", "balanced")
    assert model is not None and model.model_id == "gpt"
    assert (api_key, key_source) == ("sk-stored-system-key", "system")


def test_stored_key_under_another_encryption_key_is_a_clear_error(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_route(db, "openai", "gpt", system_key="sk-stored-system-key")
    monkeypatch.setenv("ENCRYPTION_KEY", Fernet.generate_key().decode())
    with pytest.raises(SecretDecryptionError, match="ENCRYPTION_KEY"):
        LLMRoutingEngine(db).select_model("u", "free", "balanced")


def test_environment_key_is_named_after_the_slug(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_route(db, "together-ai", "llama")
    monkeypatch.setenv("TOGETHER_AI_API_KEY", "tg-env-key")
    _, api_key, key_source = LLMRoutingEngine(db).select_model("u", "free", "balanced")
    assert (api_key, key_source) == ("tg-env-key", "system")


def test_select_model_skips_a_candidate_without_a_key(db: Session) -> None:
    add_route(db, "openai", "keyless-first", priority=1)
    add_route(db, "local", "llama-local", priority=2, auth_type="none")
    engine = LLMRoutingEngine(db)

    model, api_key, key_source = engine.select_model("u", "free", "balanced")

    assert model is not None and model.model_id == "llama-local"
    assert (api_key, key_source) == (None, "system")
    assert [choice.model.model_id for choice in engine.candidates("u", "free", "balanced")] == [
        "keyless-first",
        "llama-local",
    ]
    verdicts = engine.explain("u", "free", "balanced")
    assert [(v.model_id, v.verdict, v.notes) for v in verdicts] == [
        ("keyless-first", "fallback", ("no usable key",)),
        ("llama-local", "chosen", ()),
    ]


def test_byok_key_wins_over_the_system_key_and_unlocks_byok_rules(db: Session) -> None:
    shared = add_route(db, "openai", "gpt", byok=True, system_key="sk-system")
    exclusive = add_route(db, "anthropic", "claude", byok=True, requires_byok=True, priority=0)
    engine = LLMRoutingEngine(db)
    assert engine.select_model("alice", "free", "balanced")[0] == shared

    add_byok_key(db, "alice", exclusive, "sk-ant-alice")
    add_byok_key(db, "alice", shared, "sk-openai-alice")

    choices = engine.candidates("alice", "free", "balanced")
    assert [(c.model.model_id, c.api_key, c.key_source) for c in choices] == [
        ("claude", "sk-ant-alice", "byok"),
        ("gpt", "sk-openai-alice", "byok"),
    ]
    # Bob has no keys of his own.
    assert [
        (c.model.model_id, c.key_source) for c in engine.candidates("bob", "free", "balanced")
    ] == [("gpt", "system")]


def test_cooling_provider_is_tried_last(db: Session) -> None:
    first = add_route(db, "a", "first", priority=1, auth_type="none")
    add_route(db, "b", "second", priority=2, auth_type="none")
    engine = LLMRoutingEngine(
        db, health=HealthView(cooling_providers=frozenset({first.provider_id}))
    )
    assert [c.model.model_id for c in engine.candidates("u", "free", "balanced")] == [
        "second",
        "first",
    ]


def test_refresh_sees_catalog_changes(db: Session) -> None:
    engine = LLMRoutingEngine(db)
    assert engine.select_model("u", "free", "balanced") == (None, None, None)
    add_route(db, "local", "llama", auth_type="none")
    assert engine.select_model("u", "free", "balanced") == (None, None, None)
    engine.refresh()
    model, _, _ = engine.select_model("u", "free", "balanced")
    assert model is not None and model.model_id == "llama"


def test_weights_are_honoured_through_the_engine(db: Session) -> None:
    heavy = add_route(db, "a", "heavy", auth_type="none")
    add_route(db, "b", "light", auth_type="none")
    db.execute(
        LLMRoutingRule.__table__.update()
        .where(LLMRoutingRule.model_id == heavy.id)
        .values(weight=900)
    )
    db.commit()
    engine = LLMRoutingEngine(db, rng=random.Random(7))
    picks = [engine.plan("u", "free", "balanced").candidates[0].model.model_id for _ in range(2000)]
    assert 0.85 < picks.count("heavy") / len(picks) < 0.95


TOKENS = {"prompt_tokens": 1_000, "completion_tokens": 500, "cached_tokens": 0}


def logged(db: Session, engine: LLMRoutingEngine, **fields: Any) -> LLMUsageLog:
    """The row `log_usage` wrote for user "u"."""
    row = db.get(LLMUsageLog, engine.log_usage(user_id="u", **fields))
    assert row is not None
    return row


@pytest.mark.parametrize(
    ("tier", "power", "message"),
    [("gold", "balanced", "unknown user_tier 'gold'"), ("free", "max", "unknown power_level")],
)
def test_unknown_tier_or_power_level_is_a_clear_error(
    db: Session, tier: str, power: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LLMRoutingEngine(db).select_model("u", tier, power)


def test_log_usage_prices_the_request_when_no_breakdown_is_given(db: Session) -> None:
    model = add_route(db, "openai", "gpt")
    engine = LLMRoutingEngine(db)
    row = logged(
        db, engine, model=model, request_id="req-1", time_to_first_token_ms=42, attempts=2, **TOKENS
    )
    assert row.cost_total_usd == Decimal("0.002")
    assert (row.time_to_first_token_ms, row.attempts, row.model_name) == (42, 2, "gpt")
    # Logged twice, kept once.
    assert engine.log_usage(user_id="u", model=model, request_id="req-1") == row.id
    assert db.scalar(select(func.count()).select_from(LLMUsageLog)) == 1


def test_log_usage_bills_cache_writes_at_a_quarter_above_the_input_price(db: Session) -> None:
    model = add_route(db, "anthropic", "claude")
    engine = LLMRoutingEngine(db)
    row = logged(db, engine, model=model, request_id="req-writes", cache_write_tokens=400, **TOKENS)
    assert (row.prompt_tokens, row.cache_write_tokens) == (1_000, 400)
    # 600 plain + 400 written (× 1.25) input tokens at $1, 500 output tokens at $2 per 1M
    assert (row.cost_input_usd, row.cost_total_usd) == (Decimal("0.0011"), Decimal("0.0021"))


def test_log_usage_of_a_failed_request_without_a_model(db: Session) -> None:
    engine = LLMRoutingEngine(db)
    row = logged(
        db,
        engine,
        model=None,
        request_id="req-failed",
        status_code=503,
        error_type="no_candidates",
    )
    assert (row.model_id, row.status_code, row.cost_total_usd) == (None, 503, Decimal(0))
