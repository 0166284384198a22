"""One Alembic history for both databases: up, down, up again, and no drift from the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from switchboard.db import create_db_engine, current_revision, downgrade, head_revision, upgrade
from switchboard.models import Base

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
