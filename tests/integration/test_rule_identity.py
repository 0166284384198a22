"""Two admins adding the same routing rule at once, on PostgreSQL: the database refuses the
second copy, and the conflict names the rule that was stored first."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from switchboard.db import open_database
from switchboard.errors import ConflictError
from switchboard.models import LLMModel, LLMProvider, LLMRoutingRule
from switchboard.services import routing_admin
from tests.conftest import POSTGRES_URL
from tests.databases import postgres_schema

pytestmark = pytest.mark.postgres


@pytest.fixture
def sessions() -> Iterator[sessionmaker[Session]]:
    with postgres_schema(POSTGRES_URL, "rules") as url:
        factory = open_database(url)
        yield factory
        factory.kw["bind"].dispose()


def test_a_rule_added_meanwhile_is_named_by_the_conflict(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        provider = LLMProvider(provider_name="P", provider_slug="p")
        session.add(provider)
        session.flush()
        model = LLMModel(provider_id=provider.id, model_name="m", model_id="m")
        session.add(model)
        session.commit()
        model_id = model.id
    fields = {"model_id": model_id, "power_level": "eco", "user_tier": None}
    with sessions() as first, sessions() as second, ThreadPoolExecutor(1) as pool:
        stored = LLMRoutingRule(**fields, priority=1)
        first.add(stored)
        first.flush()  # not committed: the second admin's check cannot see it
        backend = second.scalar(text("SELECT pg_backend_pid()"))

        def add_the_same() -> None:
            routing_admin.create_rule(second, actor="admin-2", fields={**fields, "priority": 2})

        adding = pool.submit(add_the_same)
        deadline = time.monotonic() + 30
        waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = :pid")
        while not first.scalar(waiting, {"pid": backend}):  # the insert waits for the first
            assert not adding.done(), adding.exception()
            assert time.monotonic() < deadline, "the second insert never waited"
            time.sleep(0.02)
        first.commit()
        with pytest.raises(ConflictError, match=f"^routing rule {stored.id} already routes eco"):
            adding.result(timeout=30)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(LLMRoutingRule)) == 1
