"""`switchboard models list`, and tables printed into a file or a pipe: no id is ever cut to fit
80 columns. On a real database, in-process and as a separate process writing to a pipe."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import LLMModel, LLMProvider, User
from tests.integration.cli_runner import invoke, run_in_a_process

LONG_ID = "gpt-4.1-mini-2025-04-14-with-a-very-long-fine-tune-suffix-0123456789"


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """No COLUMNS: the width is what the CLI makes of output that is not a terminal."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("COLUMNS", raising=False)
    assert invoke("db", "upgrade")[0] == 0
    return database_url


@pytest.fixture
def catalog(cli_env: str, session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        openai = LLMProvider(provider_name="OpenAI", provider_slug="openai", auth_type="none")
        local = LLMProvider(provider_name="Local", provider_slug="local", auth_type="none")
        session.add_all([openai, local])
        session.flush()
        session.add_all(
            [
                priced(
                    openai,
                    LONG_ID,
                    "Mini",
                    "balanced",
                    ("0.4", "1.6"),
                    cost_per_1m_cached_input_tokens=Decimal("0.1"),
                    context_window=1_047_576,
                ),
                priced(
                    openai,
                    "gpt-4",
                    "GPT-4",
                    "precision",
                    ("30", "60"),
                    is_active=False,
                    is_deprecated=True,
                ),
                priced(local, "llama3.1:8b", "Llama", "eco", ("0.05", "0.08")),
            ]
        )
        session.add(User(id="a-user-whose-id-is-long-enough-to-be-cut-at-eighty-columns-x"))
        session.commit()


def priced(
    provider: LLMProvider,
    model_id: str,
    name: str,
    power_level: str,
    prices: tuple[str, str],
    **fields: Any,
) -> LLMModel:
    """A model of `provider` at `prices` ($ per 1M input and output tokens)."""
    return LLMModel(
        provider_id=provider.id,
        model_id=model_id,
        model_name=name,
        power_level=power_level,
        cost_per_1m_input_tokens=Decimal(prices[0]),
        cost_per_1m_output_tokens=Decimal(prices[1]),
        **fields,
    )


def listed(*filters: str) -> list[str]:
    code, out = invoke("models", "list", *filters)
    assert code == 0, out
    return [line.split("│")[2].strip() for line in out.splitlines() if line.startswith("│")]


def test_models_list_shows_every_column_and_filters_as_the_api(catalog: None) -> None:
    code, out = invoke("models", "list")
    assert code == 0, out
    header = next(line for line in out.splitlines() if "model id" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == [
        *("id", "model id", "provider", "power level", "input $/1M", "output $/1M"),
        *("cached input $/1M", "context window", "active", "deprecated"),
    ]
    row = next(line for line in out.splitlines() if LONG_ID in line)
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells == [
        *("1", LONG_ID, "openai", "balanced", "0.4", "1.6", "0.1", "1,047,576", "yes", "no")
    ]
    assert listed() == [LONG_ID, "gpt-4", "llama3.1:8b"]
    assert listed("--provider", "local") == ["llama3.1:8b"]
    assert listed("--provider", "1") == [LONG_ID, "gpt-4"]
    assert listed("--power-level", "eco") == ["llama3.1:8b"]
    assert listed("--inactive") == ["gpt-4"]
    assert listed("--active", "--not-deprecated") == [LONG_ID, "llama3.1:8b"]
    assert listed("--deprecated") == ["gpt-4"]
    code, out = invoke("models", "list", "--provider", "nope")
    assert code == 1 and "provider 'nope' does not exist" in out
    code, out = invoke("models", "list", "--power-level", "turbo")
    assert code == 2 and "turbo" in out


def test_tables_written_to_a_pipe_never_cut_ids(
    catalog: None, database_url: str, session_factory: sessionmaker[Session]
) -> None:
    """As `switchboard explain > file` does: a separate process whose stdout is a pipe."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"DATABASE_URL": database_url}
    with session_factory() as session:
        model_ids = session.scalars(select(LLMModel.model_id)).all()
        user_id = session.scalars(select(User.id)).one()
    for command in (["explain", "--tier", "enterprise"], ["models", "list"], ["users", "list"]):
        done = run_in_a_process(env, *command)
        assert done.returncode == 0, done.stderr
        assert command[0] == "explain" or "…" not in done.stdout, done.stdout
        for wanted in model_ids if command[0] != "users" else [user_id]:
            assert wanted in done.stdout, (command, done.stdout)
    code, out = invoke("explain", "--tier", "enterprise")  # in-process, captured: the same
    assert code == 0 and LONG_ID in out
