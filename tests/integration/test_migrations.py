"""One Alembic history for both databases: up, down, up again, and no drift from the models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, insert, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.db import create_db_engine, current_revision, downgrade, head_revision, upgrade
from switchboard.models import Base, LLMModel, LLMProvider, LLMRoutingRule

SPEC_TABLES = {
    "llm_providers",
    "llm_models",
    "llm_routing_rules",
    "user_api_keys",
    "llm_usage_logs",
    "llm_users",
    "llm_virtual_keys",
}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the empty database, which each test migrates as far as it needs."""
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def _old_provider(session: Session, name: str, slug: str) -> LLMProvider:
    provider = LLMProvider(provider_name=name, provider_slug=slug)
    session.add(provider)
    session.flush()
    return provider


def test_upgrade_downgrade_upgrade_and_no_autogenerate_diff(engine: Engine) -> None:
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= SPEC_TABLES
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert not SPEC_TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_spec_query_columns_are_indexed(engine: Engine) -> None:
    upgrade(engine)
    usage_indexes = {
        tuple(index["column_names"]) for index in inspect(engine).get_indexes("llm_usage_logs")
    }
    assert ("user_id", "created_at") in usage_indexes
    assert ("created_at",) in usage_indexes
    assert ("model_id", "created_at") in usage_indexes


def test_migration_0006_removes_duplicate_rules_keeping_the_first(engine: Engine) -> None:
    """Rules doubled before the identity was unique: the one with the lowest id stays. A tier
    stored as "" (read as every tier, like NULL) becomes NULL first."""
    upgrade(engine, "0005")
    with Session(engine) as session:
        provider = _old_provider(session, "P", "p")
        one, two = (_old_model(session, provider.id, name) for name in "ab")
        model_id = one.id
        rules = [
            (one, "balanced", "free", "general"),
            (one, "balanced", "free", "general"),  # a duplicate of the first
            (one, "balanced", None, "general"),
            (one, "balanced", None, "general"),  # a duplicate of the third
            (one, "balanced", "", "general"),  # so is this
            (one, "eco", "free", "general"),
            (two, "balanced", "free", "general"),
            (one, "balanced", "free", "code"),
        ]
        for priority, (model, power_level, tier, task) in enumerate(rules, start=1):
            session.add(
                LLMRoutingRule(
                    model_id=model.id,
                    power_level=power_level,
                    user_tier=tier,
                    task_type=task,
                    priority=priority,
                )
            )
            session.flush()
        session.commit()
    upgrade(engine)
    with Session(engine) as session:
        kept = session.execute(
            select(LLMRoutingRule.priority, LLMRoutingRule.user_tier).order_by("priority")
        ).all()
        assert [tuple(row) for row in kept] == [
            (1, "free"),
            (3, None),
            (6, "free"),
            (7, "free"),
            (8, "free"),
        ]
        session.add(LLMRoutingRule(model_id=model_id, power_level="balanced"))
        with pytest.raises(IntegrityError):
            session.commit()
    downgrade(engine, "0005")
    with Session(engine) as session:
        session.add(LLMRoutingRule(model_id=model_id, power_level="balanced"))
        session.commit()


def test_migration_0008_marks_prices_the_old_seed_set_as_seeded(engine: Engine) -> None:
    """Seeded in June 2025 and never repriced: `seed`. Repriced (a price history, or other
    prices), or never seeded: `manual`."""
    upgrade(engine, "0007")
    with Session(engine) as session:
        openai = _old_provider(session, "OpenAI", "openai")
        seeded = _old_model(session, openai.id, "gpt-4o-mini", ("0.15", "0.075", "0.6"))
        edited = _old_model(session, openai.id, "gpt-4.1", ("2.5", "0.5", "8.0"))
        reverted = _old_model(session, openai.id, "gpt-4o", ("2.5", "1.25", "10.0"))
        own = _old_model(session, openai.id, "my-model", ("0.15", "0.075", "0.6"))
        history = Table("llm_model_price_history", MetaData(), autoload_with=engine)
        session.execute(
            insert(history).values(
                model_id=reverted.id,
                cost_per_1m_input_tokens=Decimal("2.5"),
                cost_per_1m_output_tokens=Decimal("10"),
                effective_from=datetime.now(UTC),
                changed_by="admin",
            )
        )
        session.commit()
    upgrade(engine)
    with Session(engine) as session:
        sources = dict(session.execute(select(LLMModel.id, LLMModel.price_source)).all())
    assert sources == {
        seeded.id: "seed",
        edited.id: "manual",
        reverted.id: "manual",
        own.id: "manual",
    }


def _old_model(
    session: Session,
    provider_id: int,
    name: str,
    prices: tuple[str, str | None, str] = ("0", None, "0"),
) -> SimpleNamespace:
    """A model row in a schema older than the models, inserted through the table as it was
    then; `prices` are input, cached input and output."""
    table = Table("llm_models", MetaData(), autoload_with=session.connection())
    now = datetime.now(UTC)
    row_id = session.execute(
        insert(table).values(
            provider_id=provider_id,
            model_name=name,
            model_id=name,
            cost_per_1m_input_tokens=Decimal(prices[0]),
            cost_per_1m_cached_input_tokens=None if prices[1] is None else Decimal(prices[1]),
            cost_per_1m_output_tokens=Decimal(prices[2]),
            power_level="balanced",
            power_level_priority=100,
            min_tier_required="free",
            created_at=now,
            updated_at=now,
        )
    ).inserted_primary_key
    return SimpleNamespace(id=row_id[0])
