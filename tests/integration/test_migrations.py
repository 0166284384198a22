"""One Alembic history for both databases: up, down, up again, and no drift from the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
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


def test_upgrade_downgrade_upgrade_and_no_autogenerate_diff(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
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
    finally:
        engine.dispose()


def test_spec_query_columns_are_indexed(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        upgrade(engine)
        usage_indexes = {
            tuple(index["column_names"]) for index in inspect(engine).get_indexes("llm_usage_logs")
        }
        assert ("user_id", "created_at") in usage_indexes
        assert ("created_at",) in usage_indexes
        assert ("model_id", "created_at") in usage_indexes
    finally:
        engine.dispose()


def test_migration_0006_removes_duplicate_rules_keeping_the_first(database_url: str) -> None:
    """Rules doubled before the identity was unique: the one with the lowest id stays. A tier
    stored as "" (read as every tier, like NULL) becomes NULL first."""
    engine = create_db_engine(database_url)
    try:
        upgrade(engine, "0005")
        with Session(engine) as session:
            provider = LLMProvider(provider_name="P", provider_slug="p")
            session.add(provider)
            session.flush()
            one, two = (LLMModel(provider_id=provider.id, model_name=n, model_id=n) for n in "ab")
            session.add_all([one, two])
            session.flush()
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
    finally:
        engine.dispose()
