"""A provider's system key in the `.env` file of the working directory counts as the README
promises: a gateway started there calls the provider with it (the fake upstream sees it as the
bearer), `switchboard explain` run there finds it, and a variable of the environment wins over
the file's."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from switchboard.vocabulary import PowerLevel
from tests.e2e.catalog_rows import client, user_message
from tests.e2e.harness import gateway_environment
from tests.e2e.stage import Stage

SLUG = "dotenv-co"
VARIABLE = "DOTENV_CO_API_KEY"
MODEL = "dotenv-model"
FILE_KEY = "sk-from-the-env-file-0001"
ENVIRONMENT_KEY = "sk-from-the-environment-0002"


@dataclass(frozen=True)
class World:
    stage: Stage
    key: str


@pytest.fixture(scope="module")
def world(stage: Stage) -> World:
    with stage.catalog() as rows:
        provider = rows.provider(SLUG, with_system_key=False)
        rows.rule(rows.model(provider, MODEL, power_level=PowerLevel.BALANCED))
        key = rows.user("dotenv-user")
    return World(stage, key)


def with_env_file(stage: Stage, name: str) -> str:
    """The folder `name` of the module's, holding a `.env` with the provider's key."""
    folder = stage.workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".env").write_text(f"{VARIABLE}={FILE_KEY}\n")
    return name


def bearer_seen(world: World, name: str, env: dict[str, str] | None = None) -> str | None:
    """The credential the provider is sent by a gateway started in the folder `name`."""
    with world.stage.gateway(env, name=name) as gateway:
        sdk = client(gateway, world.key)
        sdk.chat.completions.create(model="balanced", messages=user_message("hi"))
    return world.stage.fake.received(MODEL)[-1].authorization


def test_a_gateway_calls_the_provider_with_the_key_in_its_env_file(world: World) -> None:
    name = with_env_file(world.stage, "file-only")
    assert bearer_seen(world, name) == f"Bearer {FILE_KEY}"


def test_the_environment_wins_over_the_env_file(world: World) -> None:
    name = with_env_file(world.stage, "both")
    assert bearer_seen(world, name, {VARIABLE: ENVIRONMENT_KEY}) == f"Bearer {ENVIRONMENT_KEY}"


def explain_in(world: World, folder: Path) -> str:
    """`switchboard explain` run in `folder`, as a user would, on the module's database."""
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "explain", "--tier", "free"],
        cwd=folder,
        env=gateway_environment(world.stage.database_url, folder),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return next(line for line in result.stdout.splitlines() if MODEL in line)


def test_explain_finds_the_key_in_the_env_file(world: World) -> None:
    assert "no usable key" in explain_in(world, world.stage.workdir / "explain-without")
    folder = world.stage.workdir / with_env_file(world.stage, "explain-with")
    line = explain_in(world, folder)
    assert "chosen" in line and "no usable key" not in line
