"""`switchboard catalog sync`: a dry run by default, `--apply`, `--force`, `--json`, and a
source that cannot be read fails fast with a message naming it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from switchboard.db import open_database
from switchboard.models import LLMModel
from tests.integration.cli_runner import invoke
from tests.price_maps import price_map_with


@pytest.fixture
def seeded_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert invoke("seed")[0] == 0
    return database_url


def changed_map(tmp_path: Path) -> Path:
    return price_map_with(tmp_path, "gpt-6-luna", "output_cost_per_token", 6e-07)


def luna_output_price(database_url: str) -> Decimal:
    sessions = open_database(database_url, migrate=False)
    try:
        with sessions() as session:
            row = session.scalars(select(LLMModel).where(LLMModel.model_id == "gpt-6-luna")).one()
            return row.cost_per_1m_output_tokens
    finally:
        sessions.kw["bind"].dispose()


def test_a_dry_run_prints_the_difference_and_writes_nothing(
    seeded_env: str, tmp_path: Path
) -> None:
    code, out = invoke("catalog", "sync", "--source", str(changed_map(tmp_path)))
    assert code == 0, out
    assert "openai/gpt-6-luna (map: gpt-6-luna)" in out
    assert "cost_per_1m_output_tokens: 0.5 → 0.6" in out
    assert "mistral-large-latest is an alias" in out
    assert "New in the map" in out and "gpt-5.4-mini" in out
    assert "Dry run: nothing written; --apply writes the 1 changes." in out
    assert luna_output_price(seeded_env) == Decimal("0.5")


def test_apply_writes_and_a_second_run_has_nothing_to_change(
    seeded_env: str, tmp_path: Path
) -> None:
    source = str(changed_map(tmp_path))
    code, out = invoke("catalog", "sync", "--source", source, "--apply")
    assert code == 0, out
    assert "Applied: 1 changes written." in out
    assert luna_output_price(seeded_env) == Decimal("0.6")
    code, out = invoke("catalog", "sync", "--source", source, "--apply")
    assert code == 0 and "Nothing to change." in out


def test_json_report(seeded_env: str, tmp_path: Path) -> None:
    code, out = invoke("catalog", "sync", "--source", str(changed_map(tmp_path)), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["applied"] is False
    [change] = report["changes"]
    assert change["changes"] == [
        {"column": "cost_per_1m_output_tokens", "old": "0.5", "new": "0.6"}
    ]


def test_a_malformed_map_is_an_error_naming_the_entry(seeded_env: str, tmp_path: Path) -> None:
    path = price_map_with(tmp_path, "gpt-6-luna", "input_cost_per_token", "free")
    code, out = invoke("catalog", "sync", "--source", str(path), "--apply")
    assert code == 1
    assert "price map entry 'gpt-6-luna': input_cost_per_token is 'free', not a number" in out


def test_a_missing_file_is_an_error_naming_it(seeded_env: str, tmp_path: Path) -> None:
    code, out = invoke("catalog", "sync", "--source", str(tmp_path / "nowhere.json"))
    assert code == 1
    assert "could not read the price map" in out and "nowhere.json" in out


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers: a network that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/model_prices.json"


def test_a_url_that_does_not_answer_fails_within_the_timeout(
    seeded_env: str, silent_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRICE_MAP_TIMEOUT_S", "0.5")
    started = time.monotonic()
    code, out = invoke("catalog", "sync", "--source", silent_server)
    assert time.monotonic() - started < 5
    assert code == 1
    assert "no answer within 0.5 s" in out and "PRICE_MAP_SOURCE" in out


def test_a_refused_connection_fails_with_a_message(
    seeded_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("PRICE_MAP_SOURCE", f"http://127.0.0.1:{port}/map.json")
    code, out = invoke("catalog", "sync")
    assert code == 1
    assert f"could not read the price map from http://127.0.0.1:{port}/map.json" in out
