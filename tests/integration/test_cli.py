"""The `switchboard` command line, run in-process against a real database."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from switchboard.db import head_revision, open_database
from switchboard.models import LLMProvider, User, VirtualKey
from switchboard.secrets import SecretManager, get_secret_manager
from switchboard.services.users import find_valid_key
from tests.integration.cli_runner import invoke


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")
    return database_url


def test_init_env_writes_a_private_file_once(tmp_path: Path) -> None:
    code, out = invoke("init-env")
    assert code == 0, out
    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    SecretManager.from_value(values["ENCRYPTION_KEY"])  # a valid Fernet key
    assert values["ADMIN_TOKEN"].startswith("sb-admin-") and len(values["ADMIN_TOKEN"]) > 30
    before = env_file.read_text()
    code, out = invoke("init-env")
    assert code == 0 and "left as it is" in out
    assert env_file.read_text() == before


def test_db_upgrade_current_downgrade(cli_env: str) -> None:
    assert invoke("db", "current") == (0, "base (empty database)\n")
    code, out = invoke("db", "upgrade")
    assert code == 0 and head_revision() in out
    assert invoke("db", "current") == (0, f"{head_revision()}\n")
    code, out = invoke("db", "downgrade", "base")
    assert code == 0 and "base" in out
    assert invoke("db", "current")[1] == "base (empty database)\n"


def test_users_and_keys(cli_env: str) -> None:
    invoke("db", "upgrade")
    code, out = invoke(
        "users",
        "create",
        "alice",
        "--tier",
        "professional",
        "--email",
        "a@example.com",
        "--budget",
        "25.50",
    )
    assert code == 0, out
    code, out = invoke("users", "create", "alice")
    assert code == 1 and "already exists" in out
    code, out = invoke("users", "create", "bob", "--tier", "gold")
    assert code == 2 and "gold" in out

    code, out = invoke("keys", "create", "--user", "alice", "--name", "laptop")
    assert code == 0, out
    key = out.strip()
    assert key.startswith("sk-sb-") and len(key) > 40

    factory = open_database(cli_env, migrate=False)
    with factory() as session:
        user = session.get(User, "alice")
        assert user is not None and user.tier == "professional"
        assert str(user.monthly_budget_usd) == "25.5000000000"
        stored = session.scalars(select(VirtualKey)).one()
        assert key not in (stored.key_hash, stored.key_prefix)
        assert key.startswith(stored.key_prefix)
        found = find_valid_key(session, key)
        assert found is not None and found.user_id == "alice" and found.name == "laptop"
        assert find_valid_key(session, key + "x") is None
    factory.kw["bind"].dispose()

    code, out = invoke("keys", "create", "--user", "nobody")
    assert code == 1 and "does not exist" in out
    code, out = invoke("users", "list")
    assert code == 0 and "alice" in out and "$25.50" in out


def test_secrets_generate_key_and_rotate(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke("db", "upgrade")
    old = os.environ["ENCRYPTION_KEY"]
    factory = open_database(cli_env, migrate=False)
    with factory() as session:
        session.add(
            LLMProvider(
                provider_name="OpenAI",
                provider_slug="openai",
                encrypted_api_key=get_secret_manager().encrypt_secret("sk-sys")["encrypted_value"],
            )
        )
        session.commit()

    code, new = invoke("secrets", "generate-key")
    assert code == 0
    new = new.strip()
    monkeypatch.setenv("ENCRYPTION_KEY", f"{new},{old}")
    code, out = invoke("secrets", "rotate")
    assert code == 0 and "1 provider key(s) and 0 user key(s)" in out

    with factory() as session:
        stored = session.scalars(select(LLMProvider.encrypted_api_key)).one()
    assert stored is not None
    assert SecretManager([new]).decrypt_secret(stored) == "sk-sys"

    monkeypatch.setenv("ENCRYPTION_KEY", old)
    code, out = invoke("secrets", "rotate")
    assert code == 1 and "cannot rotate" in out
    with factory() as session:
        assert session.scalars(select(LLMProvider.encrypted_api_key)).one() == stored
    factory.kw["bind"].dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (['=HYPERLINK("http://x")'], "user id '=HYPERLINK"),
        (["+1"], "user id '+1' is not allowed"),
        (["--", "-2-3"], "user id '-2-3' is not allowed"),
        (["@me"], "user id '@me' is not allowed"),
        (["has space"], "user id 'has space' is not allowed"),
        (["x" * 256], "user id"),
        (["ada", "--email", "not-an-email"], "email 'not-an-email'"),
        (["ada", "--name", "tab\there"], "display name"),
        (["ada", "--name", ""], "display name"),
        (["ada", "--budget", "-1"], "budget"),
        (["ada", "--budget", "1e12"], "budget"),
        (["ada", "--budget", "NaN"], "budget"),
    ],
)
def test_users_create_applies_the_admin_api_rules(
    cli_env: str, args: list[str], message: str
) -> None:
    """What the admin API refuses with a 422, the command line refuses too: one set of
    rules (`services.user_rules`), so no user id reaches a CSV export as a formula."""
    invoke("db", "upgrade")
    code, out = invoke("users", "create", *args)
    assert code == 1, out
    assert message in out
    factory = open_database(cli_env, migrate=False)
    with factory() as session:
        assert session.scalars(select(User)).all() == []
    factory.kw["bind"].dispose()


def test_explain_rejects_an_unknown_tier(cli_env: str) -> None:
    invoke("db", "upgrade")
    code, out = invoke("explain", "--tier", "gold")
    assert code == 1 and "unknown user_tier 'gold'" in out


def test_seed_twice_then_explain(cli_env: str) -> None:
    code, out = invoke("seed", "--demo")
    assert code == 0, out
    assert "9 providers created" in out
    code, again = invoke("seed", "--demo")
    assert code == 0
    assert "0 providers created, 0 updated; 0 models created, 0 updated; 0 rules created" in again

    code, out = invoke(
        "explain", "--tier", "professional", "--power", "eco", "--task", "code", "--tokens", "1000"
    )
    assert code == 0, out
    assert "chosen" in out
    assert "mock-eco" in out
    assert "no usable key" in out  # the real providers, with no keys in this environment
    assert "price ceiling" in out  # e.g. claude-opus at eco


def test_demo_keeps_one_key_in_the_env_file(cli_env: str, tmp_path: Path) -> None:
    invoke("db", "upgrade")
    code, out = invoke("demo")
    assert code == 0, out
    lines = [line for line in (tmp_path / ".env").read_text().splitlines() if "DEMO_KEY" in line]
    assert len(lines) == 1
    key = lines[0].split("=", 1)[1]
    assert key in out
    assert "curl" in out and "/v1/chat/completions" in out
    assert "starting" not in out and "does not start it: `switchboard serve` does" in out
    code, out = invoke("demo")
    assert code == 0
    assert (tmp_path / ".env").read_text().count("DEMO_KEY") == 1
    factory = open_database(cli_env, migrate=False)
    with factory() as session:
        found = find_valid_key(session, key)
        assert found is not None and found.user_id == "demo"
    factory.kw["bind"].dispose()
