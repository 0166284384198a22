"""The starter catalog and its seeding: idempotent, and routing every tier at every power level."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, delete, func, select, text, update
from sqlalchemy.orm import Session

from switchboard.catalog.system_keys import system_key_variable
from switchboard.db import create_db_engine, migrate_to_head
from switchboard.engine import LLMRoutingEngine
from switchboard.models import LLMModel, LLMProvider, LLMRoutingRule
from switchboard.pricing import blended_price
from switchboard.services.seeding import (
    SeedReport,
    load_seed_catalog,
    parse_seed_catalog,
    seed_catalog,
)
from switchboard.settings import Settings
from switchboard.vocabulary import PowerLevel, Tier
from tests.conftest import POSTGRES_URL
from tests.databases import postgres_schema

HOSTED = ("openai", "anthropic", "gemini", "groq", "mistral", "deepseek")
ECO_CEILING = Decimal("0.50")


def row_counts(db: Session) -> tuple[int, int, int]:
    return (
        db.scalar(select(func.count()).select_from(LLMProvider)) or 0,
        db.scalar(select(func.count()).select_from(LLMModel)) or 0,
        db.scalar(select(func.count()).select_from(LLMRoutingRule)) or 0,
    )


def set_hosted_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for slug in HOSTED:
        monkeypatch.setenv(system_key_variable(slug), f"key-for-{slug}")


def choose(db: Session, tier: str, level: str, task: str = "general") -> tuple[str, str | None]:
    """(model_id, api_key) of the model a fresh engine selects."""
    model, api_key, _ = LLMRoutingEngine(db).select_model("u", tier, level, task_type=task)
    assert model is not None, f"nothing serves {tier} at {level} ({task})"
    return model.model_id, api_key


def test_seeding_creates_the_catalog_once(db: Session) -> None:
    catalog = load_seed_catalog()
    models = [model for provider in catalog.providers for model in provider.models]
    rules = [rule for model in models for rule in model.rules]

    first = seed_catalog(db, demo=True)
    counts = row_counts(db)
    second = seed_catalog(db, demo=True)

    assert counts == (len(catalog.providers), len(models), len(rules))
    assert first == SeedReport(
        providers_created=len(catalog.providers),
        models_created=len(models),
        rules_created=len(rules),
    )
    assert row_counts(db) == counts
    assert second == SeedReport()
    assert not second.changed


def test_the_catalog_has_the_vendors_and_enough_models(db: Session) -> None:
    seed_catalog(db)
    slugs = set(db.scalars(select(LLMProvider.provider_slug)))
    assert slugs == {*HOSTED, "local", "litellm", "mock"}
    assert (db.scalar(select(func.count()).select_from(LLMModel)) or 0) >= 25
    anthropic = db.scalars(
        select(LLMProvider).where(LLMProvider.provider_slug == "anthropic")
    ).one()
    assert (anthropic.base_url, anthropic.auth_type, anthropic.api_format) == (
        "https://api.anthropic.com/v1",
        "api_key",
        "anthropic",
    )
    mini = db.scalars(select(LLMModel).where(LLMModel.model_id == "gpt-4o-mini")).one()
    assert (
        mini.cost_per_1m_input_tokens,
        mini.cost_per_1m_cached_input_tokens,
        mini.cost_per_1m_output_tokens,
    ) == (Decimal("0.15"), Decimal("0.075"), Decimal("0.60"))


MOCK_CHOICE = {(tier, level): f"mock-{level}" for tier in Tier for level in PowerLevel} | {
    (Tier.FREE, PowerLevel.PRECISION): "mock-balanced"
}
"""mock-precision requires starter, so a free user's precision request gets mock-balanced."""


def test_with_demo_and_no_keys_the_mock_serves_every_tier_and_power_level(db: Session) -> None:
    seed_catalog(db, demo=True)
    chosen = {(tier, level): choose(db, tier, level) for tier in Tier for level in PowerLevel}
    assert chosen == {key: (model_id, None) for key, model_id in MOCK_CHOICE.items()}


def test_without_demo_the_mock_never_serves(db: Session) -> None:
    seed_catalog(db)
    for tier in Tier:
        for level in PowerLevel:
            model_id, api_key = choose(db, tier, level)
            assert not model_id.startswith("mock-")
            assert api_key is None


@pytest.mark.parametrize("demo", [False, True])
def test_a_free_user_at_eco_gets_openai_with_the_system_key(
    db: Session, monkeypatch: pytest.MonkeyPatch, demo: bool
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai-0123")
    seed_catalog(db, demo=demo)
    model, api_key, key_source = LLMRoutingEngine(db).select_model("u", "free", "eco")
    assert model is not None
    assert (model.provider.provider_slug, model.model_id) == ("openai", "gpt-6-luna")
    assert (api_key, key_source) == ("sk-test-openai-0123", "system")


def test_with_every_key_each_tier_gets_the_best_model_it_may_use(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_hosted_keys(monkeypatch)
    seed_catalog(db, demo=True)
    for tier in Tier:
        model, _, _ = LLMRoutingEngine(db).select_model("u", tier, "precision")
        assert model is not None
        assert model.min_tier_required == tier
    assert choose(db, "enterprise", "precision")[0] == "gpt-6-astra"


def test_code_requests_go_to_code_models(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    set_hosted_keys(monkeypatch)
    seed_catalog(db)
    assert choose(db, "professional", "precision", "code")[0] == "claude-opus-5-5"
    assert choose(db, "starter", "balanced", "code")[0] == "gpt-6.1-terra"
    assert choose(db, "free", "eco", "code")[0] == "codestral-latest"


def test_every_seeded_model_cites_a_source(db: Session) -> None:
    seed_catalog(db)
    descriptions = {row.model_id: row.description for row in db.scalars(select(LLMModel))}
    uncited = [
        model_id
        for model_id, text in descriptions.items()
        if not re.search(r"https://\S+", text or "")
    ]
    assert descriptions
    assert uncited == []


def test_eco_rules_and_choices_respect_the_price_ceiling(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().price_ceiling_eco == ECO_CEILING
    set_hosted_keys(monkeypatch)
    seed_catalog(db, demo=True, litellm_proxy_url="http://127.0.0.1:4000/v1")
    eco_models = db.scalars(
        select(LLMModel).join(LLMRoutingRule).where(LLMRoutingRule.power_level == "eco")
    ).all()
    over = [
        model.model_id
        for model in eco_models
        if blended_price(model.cost_per_1m_input_tokens, model.cost_per_1m_output_tokens)
        > ECO_CEILING
    ]
    assert eco_models
    assert over == []
    for tier in Tier:
        plan = LLMRoutingEngine(db).plan("u", tier, "eco")
        assert plan.candidates
        assert all(c.model.blended_price <= ECO_CEILING for c in plan.candidates)


@pytest.mark.parametrize("task", ["general", "code"])
def test_free_users_are_only_offered_free_models(
    db: Session, monkeypatch: pytest.MonkeyPatch, task: str
) -> None:
    set_hosted_keys(monkeypatch)
    seed_catalog(db, demo=True, litellm_proxy_url="http://127.0.0.1:4000/v1")
    db.execute(
        update(LLMProvider).where(LLMProvider.provider_slug == "local").values(is_active=True)
    )
    db.commit()
    for level in PowerLevel:
        plan = LLMRoutingEngine(db).plan("u", "free", level, task_type=task)
        assert plan.candidates
        above_free = [
            c.model.model_id
            for c in plan.candidates
            if c.model.min_tier is not Tier.FREE or c.provider.min_tier is not Tier.FREE
        ]
        assert above_free == []


def test_a_litellm_proxy_url_sets_and_activates_the_provider(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def litellm() -> LLMProvider:
        return db.scalars(select(LLMProvider).where(LLMProvider.provider_slug == "litellm")).one()

    seed_catalog(db)
    assert (litellm().base_url, litellm().is_active) == ("http://127.0.0.1:4000/v1", False)

    report = seed_catalog(db, litellm_proxy_url="https://proxy.internal:4000/v1/")
    assert report == SeedReport(providers_updated=1)
    assert (litellm().base_url, litellm().is_active) == ("https://proxy.internal:4000/v1", True)
    assert seed_catalog(db, litellm_proxy_url="https://proxy.internal:4000/v1") == SeedReport()

    monkeypatch.setenv("LITELLM_API_KEY", "sk-litellm-master")
    assert choose(db, "free", "eco") == ("litellm-eco", "sk-litellm-master")


def test_a_first_seed_with_a_proxy_url_creates_litellm_active(db: Session) -> None:
    seed_catalog(db, litellm_proxy_url="http://litellm:4000")
    row = db.scalars(select(LLMProvider).where(LLMProvider.provider_slug == "litellm")).one()
    assert (row.base_url, row.is_active) == ("http://litellm:4000", True)


def test_an_invalid_proxy_url_is_refused_before_anything_is_written(db: Session) -> None:
    with pytest.raises(ValueError, match="litellm_proxy_url"):
        seed_catalog(db, litellm_proxy_url="127.0.0.1:4000")
    assert row_counts(db) == (0, 0, 0)


def test_reseeding_keeps_what_an_admin_changed(db: Session) -> None:
    seed_catalog(db, demo=True)
    mini = db.scalars(select(LLMModel).where(LLMModel.model_id == "gpt-6-luna")).one()
    mini.cost_per_1m_input_tokens = Decimal("0.2")
    rule = db.scalars(select(LLMRoutingRule).where(LLMRoutingRule.model_id == mini.id)).first()
    assert rule is not None
    rule.is_active = False
    rule.task_type = " General "
    mock = db.scalars(select(LLMProvider).where(LLMProvider.provider_slug == "mock")).one()
    mock.is_active = False
    db.commit()
    counts = row_counts(db)

    assert seed_catalog(db) == SeedReport()
    db.expire_all()
    assert row_counts(db) == counts
    assert (mini.cost_per_1m_input_tokens, rule.is_active, mock.is_active) == (
        Decimal("0.2"),
        False,
        False,
    )
    assert mini.price_source == "manual"  # set by hand, whatever the means

    assert seed_catalog(db, demo=True) == SeedReport(providers_updated=1)
    db.refresh(mock)
    assert mock.is_active


def test_reseeding_recreates_a_deleted_model_and_its_rules(db: Session) -> None:
    seed_catalog(db)
    astra = db.scalars(select(LLMModel).where(LLMModel.model_id == "gpt-6-astra")).one()
    rules = len(db.scalars(select(LLMRoutingRule).where(LLMRoutingRule.model_id == astra.id)).all())
    assert rules
    db.delete(astra)
    db.commit()
    assert seed_catalog(db) == SeedReport(models_created=1, rules_created=rules)


@pytest.mark.postgres
def test_two_seeds_at_once_write_each_row_once() -> None:
    """Two `switchboard seed` processes on one PostgreSQL schema, each having read the catalog
    as missing before either writes: both succeed, and every row is there once. First from
    an empty catalog, then with only the rules missing (as after a catalog update)."""
    with postgres_schema(POSTGRES_URL, "seed") as url:
        engine = create_db_engine(url)
        try:
            migrate_to_head(engine)
            env = {**os.environ, "DATABASE_URL": url}
            run_two_seeds_blocked_on(engine, "llm_providers", env)
            with Session(engine) as session:
                assert_seeded_once(session)
                session.execute(delete(LLMRoutingRule))
                session.commit()
            run_two_seeds_blocked_on(engine, "llm_routing_rules", env)
            with Session(engine) as session:
                assert_seeded_once(session)
        finally:
            engine.dispose()


def run_two_seeds_blocked_on(engine: Engine, table: str, env: dict[str, str]) -> None:
    """Start two seeds while a lock keeps `table` from being written (reads go on), and
    release it once both wait for it: they then write the same rows at the same time."""
    command = [sys.executable, "-m", "switchboard", "seed"]
    with engine.connect() as holder:
        holder.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
        seeds = [
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for _ in range(2)
        ]
        try:
            deadline = time.monotonic() + 60
            while waiting_for(holder, table) < 2:
                assert time.monotonic() < deadline, "the seeds never reached the write"
                assert all(seed.poll() is None for seed in seeds), "a seed ended early"
                time.sleep(0.05)
        finally:
            holder.commit()
            outputs = [seed.communicate(timeout=120)[0] for seed in seeds]
    assert [seed.returncode for seed in seeds] == [0, 0], outputs


def waiting_for(connection: Connection, table: str) -> int:
    """How many other transactions wait for a lock on `table`."""
    waiting = text(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = to_regclass(:table)"
    )
    return int(connection.scalar(waiting, {"table": table}) or 0)


def assert_seeded_once(session: Session) -> None:
    catalog = load_seed_catalog()
    models = [model for provider in catalog.providers for model in provider.models]
    expected = (len(catalog.providers), len(models), sum(len(model.rules) for model in models))
    assert row_counts(session) == expected
    identities = session.execute(
        select(
            LLMRoutingRule.model_id,
            LLMRoutingRule.power_level,
            LLMRoutingRule.user_tier,
            LLMRoutingRule.task_type,
        )
    ).all()
    assert len(set(identities)) == len(identities)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"providers": [{"provider_slug": "x", "provider_name": "X", "colour": 1}]}, "colour"),
        (
            {"providers": [{"provider_slug": "x", "provider_name": "X", "auth_type": "oauth"}]},
            "auth_type is 'oauth'",
        ),
        (
            {
                "providers": [
                    {"provider_slug": "x", "provider_name": "X"},
                    {"provider_slug": "x", "provider_name": "Y"},
                ]
            },
            "duplicate provider slug",
        ),
        (
            {
                "providers": [
                    {
                        "provider_slug": "x",
                        "provider_name": "X",
                        "models": [
                            {
                                "model_id": "m",
                                "model_name": "M",
                                "power_level": "eco",
                                "cost_per_1m_input_tokens": 1,
                                "cost_per_1m_output_tokens": 1,
                                "rules": [{"power_level": "turbo"}],
                            }
                        ],
                    }
                ]
            },
            "model 'm' rule power_level is 'turbo'",
        ),
    ],
)
def test_a_malformed_catalog_is_refused_with_a_reason(document: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_seed_catalog(document)  # type: ignore[arg-type]
