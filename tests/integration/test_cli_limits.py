"""`switchboard limits …`: set a user's, a key's and a tier's limits, refuse bad values with
the field's name and change nothing, and read spend from the database's sums."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import TierLimit, User, VirtualKey
from switchboard.services.users import create_user, issue_virtual_key
from switchboard.usage.record import UsageRecord
from switchboard.usage.store import write_records
from tests.integration.cli_runner import invoke


@pytest.fixture
def cli_env(
    database_url: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> int:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with session_factory() as session:
        create_user(session, user_id="alice")
        key_id = issue_virtual_key(session, user_id="alice").record.id
        write_records(
            session,
            [
                UsageRecord(
                    request_id="req_cli_1",
                    user_id="alice",
                    virtual_key_id=key_id,
                    cost_total_usd=Decimal("0.25"),
                    status_code=200,
                )
            ],
        )
        session.commit()
    return key_id


def test_set_limits_on_a_user_a_key_and_a_tier(
    cli_env: int, session_factory: sessionmaker[Session]
) -> None:
    assert invoke("limits", "user", "alice", "--rpm", "60", "--budget", "10")[0] == 0
    code, out = invoke("limits", "key", "alice", str(cli_env), "--budget", "1", "--period", "daily")
    assert code == 0, out
    assert invoke("limits", "tier", "free", "--rpm", "5")[0] == 0
    with session_factory() as session:
        user = session.get(User, "alice")
        key = session.get(VirtualKey, cli_env)
        tier = session.get(TierLimit, "free")
        assert user is not None and key is not None and tier is not None
        assert (user.requests_per_minute, user.monthly_budget_usd) == (60, Decimal(10))
        assert (key.budget_usd, key.budget_period) == (Decimal(1), "daily")
        assert tier.requests_per_minute == 5
    assert invoke("limits", "user", "alice", "--rpm", "none")[0] == 0
    assert invoke("limits", "tier", "free", "--reset")[0] == 0
    with session_factory() as session:
        assert session.get(User, "alice").requests_per_minute is None  # type: ignore[union-attr]
        assert session.get(TierLimit, "free") is None


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("user", "alice", "--budget", "-1"), "budget_usd"),
        (("user", "alice", "--rpm", "0"), "requests_per_minute"),
        (("key", "alice", "999999", "--rpm", "5"), "999999"),
        (("user", "nobody", "--rpm", "5"), "nobody"),
    ],
)
def test_bad_values_name_the_field_and_change_nothing(
    cli_env: int, session_factory: sessionmaker[Session], args: tuple[str, ...], field: str
) -> None:
    code, out = invoke("limits", *args)
    assert code == 1 and field in out
    with session_factory() as session:
        user = session.get(User, "alice")
        assert user is not None and user.monthly_budget_usd is None


def test_spend_reads_the_period_from_the_database(cli_env: int) -> None:
    assert invoke("limits", "user", "alice", "--budget", "1")[0] == 0
    code, out = invoke("limits", "spend", "alice")
    assert code == 0, out
    assert "spent_usd: $0.25" in out and "remaining_usd: $0.75" in out
    code, out = invoke("limits", "spend", "alice", "--key", str(cli_env))
    assert code == 0 and "spent_usd: $0.25" in out
