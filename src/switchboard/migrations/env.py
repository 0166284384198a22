"""Alembic environment: runs on the engine that `switchboard.db` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from switchboard.db import create_db_engine
from switchboard.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):  # run by the `alembic` command: DATABASE_URL decides
        engine = create_db_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
