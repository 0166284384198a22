"""Changes reach every replica through Redis pub/sub, not only through the catalog poll: two
real `switchboard serve` processes share the database and Redis, and poll the database only
every 30 s, so only a change notice can make a change reach the other one within the
deadline. Changes made by A's admin API, and by a command-line process that runs no gateway
at all; and with Redis unreachable, a change still commits and the poll still finds it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.catalog_rows import post_chat, user_message
from tests.e2e.harness import GatewayProcess, gateway_environment
from tests.e2e.stage import Stage
from tests.integration.cli_runner import run_in_a_process
from tests.redis_support import REDIS_URL, redis_prefix

ADMIN_TOKEN = "sb-admin-e2e-notices-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
USERS = "/api/v1/admin/llm/users"
OLD, NEW = "notices-old", "notices-new"
POLL_INTERVAL_S = 30.0
DEADLINE_S = 1.0


@dataclass(frozen=True)
class World:
    a: GatewayProcess
    b: GatewayProcess
    env: dict[str, str]
    keys: dict[str, str]
    key_ids: dict[str, int]


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    with stage.catalog() as rows:
        provider = rows.provider("notices")
        rows.rule(rows.model(provider, OLD))
        rows.rule(rows.model(provider, NEW))
        rows.session.commit()
        keys, key_ids = rows.users("revoked", "kept", "model-user")
    with redis_prefix("notices") as prefix:
        env = {
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "KEY_CACHE_TTL_S": "60",
            "CATALOG_POLL_INTERVAL_S": str(POLL_INTERVAL_S),
            "REDIS_URL": REDIS_URL,
            "REDIS_KEY_PREFIX": prefix,
        }
        with stage.gateway(env, name="a") as a, stage.gateway(env, name="b") as b:
            yield World(a, b, env, keys, key_ids)


def status(gateway: GatewayProcess, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{gateway.openai_base_url}/models", headers=headers, timeout=10).status_code


def served_model(gateway: GatewayProcess, key: str) -> str:
    response = post_chat(gateway, key, {"model": OLD, "messages": user_message()})
    assert response.status_code == 200, response.text
    return response.headers["x-switchboard-model"]


def within(deadline_s: float, check: Callable[[], bool], since: float) -> float:
    while not check():
        assert time.monotonic() - since < deadline_s, f"not so after {deadline_s} s"
        time.sleep(0.02)
    return time.monotonic() - since


def cli(stage: Stage, env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    environment = gateway_environment(stage.database_url, stage.workdir / "cli", env)
    environment["ENCRYPTION_KEY"] = stage.encryption_key
    done = run_in_a_process(environment, *command)
    assert done.returncode == 0, done.stderr
    return done


def test_a_key_revoked_through_one_replica_is_refused_by_the_other_at_once(world: World) -> None:
    revoked, kept = world.keys["revoked"], world.keys["kept"]
    assert [status(g, k) for g in (world.a, world.b) for k in (revoked, kept)] == [200] * 4

    response = httpx.post(
        f"{world.a.base_url}{USERS}/revoked/keys/{world.key_ids['revoked']}/revoke",
        headers=ADMIN,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    done = time.monotonic()

    within(DEADLINE_S, lambda: status(world.b, revoked) == 401, done)
    assert status(world.b, kept) == 200


def test_a_model_deprecated_by_a_command_line_process_leaves_both_replicas_routing(
    stage: Stage, world: World
) -> None:
    key = world.keys["model-user"]
    assert served_model(world.a, key) == served_model(world.b, key) == OLD

    cli(stage, world.env, "models", "deprecate", OLD, "--replacement", NEW)
    done = time.monotonic()

    within(DEADLINE_S, lambda: served_model(world.b, key) == NEW, done)
    within(DEADLINE_S, lambda: served_model(world.a, key) == NEW, done)


def test_a_change_commits_when_redis_cannot_be_reached(stage: Stage, world: World) -> None:
    away = world.env | {"REDIS_URL": "redis://127.0.0.1:9/0", "REDIS_TIMEOUT_S": "0.2"}
    done = cli(stage, away, "users", "create", "notices-made-without-redis")
    assert "change_notice_not_sent" in done.stderr
    listed = cli(stage, world.env, "users", "list")
    assert "notices-made-without-redis" in listed.stdout
