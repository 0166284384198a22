"""What `switchboard serve` writes to its log: a start-up line, an access line per request, a
word when a provider fails, cools down or changes health — and never a secret.

A real gateway runs with an admin token, an encryption key, providers whose stored system keys
an upstream repeats in its error messages (once after `Bearer`, once bare, and not shaped like
a key, so that only scrubbing that very key could hide it), a user's own (BYOK) key that the
upstream repeats too, and a virtual key. After successful and failing requests, an admin call
and a cooldown, the process's whole log (stdout and stderr) is searched for every one of them.
"""

from __future__ import annotations

import re
import secrets as random_secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import make_url

from switchboard.vocabulary import Tier
from tests.e2e.catalog_rows import (
    post_chat,
    system_key,
    user_message,
)
from tests.e2e.harness import GatewayProcess, running_gateway
from tests.e2e.stage import Stage
from tests.fake_upstream import FakeUpstream, Reply, closed_port_url

ADMIN_TOKEN = "sb-admin-" + random_secrets.token_hex(16)
# Not shaped like a key (no vendor prefix, too short for a bare token): only scrubbing the key
# that was sent on the call can hide it.
REJECTED_KEY = "opensesame-" + random_secrets.token_hex(6)
LEAKY_KEY = "letmein-" + random_secrets.token_hex(6)
OWN_KEY = "mine-" + random_secrets.token_hex(8)
WRONG_VIRTUAL_KEY = "sk-sb-wrong-" + random_secrets.token_hex(8)


@dataclass(frozen=True)
class World:
    database_url: str
    encryption_key: str
    fake: FakeUpstream
    virtual_key: str
    gone_provider_id: int

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "ENCRYPTION_KEY": self.encryption_key,
            "COOLDOWN_FAILURES": "1",
            "COOLDOWN_S": "60",
            "HEALTH_CHECK_INTERVAL_S": "0",
            **extra,
        }

    def secrets(self) -> list[str]:
        """Everything that must never be logged."""
        found = [
            ADMIN_TOKEN,
            self.encryption_key,
            REJECTED_KEY,
            LEAKY_KEY,
            OWN_KEY,
            WRONG_VIRTUAL_KEY,
            self.virtual_key,
            system_key("logs-up"),
        ]
        password = make_url(self.database_url).password
        return found + ([str(password)] if password else [])


@pytest.fixture(scope="module")
def world(stage: Stage) -> World:
    fake = stage.fake
    fake.set_default(
        "logs-rejected",
        Reply(status=401, error_message=f"Incorrect API key provided: Bearer {REJECTED_KEY}"),
    )
    fake.set_default(
        "logs-leaky", Reply(status=500, error_message=f"Incorrect API key: {LEAKY_KEY}")
    )
    fake.set_default("logs-own-fails", Reply(status=500, error_message=f"bad key {OWN_KEY}"))
    with stage.catalog() as rows:
        up = rows.provider("logs-up")
        rows.model(up, "logs-ok")
        for slug, model, key in [
            ("logs-bad", "logs-rejected", REJECTED_KEY),
            ("logs-leak", "logs-leaky", LEAKY_KEY),
        ]:
            provider = rows.provider(slug, api_key=key)
            rows.model(provider, model)
        own = rows.provider("logs-own", byok=True)
        rows.model(own, "logs-own-ok")
        rows.model(own, "logs-own-fails")
        gone = rows.provider("logs-gone", base_url=closed_port_url())
        virtual_key = rows.user("logs-user", tier=Tier.PROFESSIONAL)
        rows.byok_key(user_id="logs-user", provider=own, secret=OWN_KEY)
    return World(stage.database_url, stage.encryption_key, fake, virtual_key, gone.id)


def ask(gateway: GatewayProcess, world: World, model: str) -> tuple[str, int]:
    """A chat completion for `model`: its request id and status."""
    response = post_chat(
        gateway, world.virtual_key, {"model": model, "messages": user_message("Hi")}
    )
    return response.headers["x-switchboard-request-id"], response.status_code


def exercise(gateway: GatewayProcess, world: World) -> dict[str, tuple[str, int]]:
    """Successful and failing requests, a cooldown, an admin call; the requests' ids and
    statuses by model."""
    asked = {
        model: ask(gateway, world, model)
        for model in ["logs-ok", "logs-rejected", "logs-leaky", "logs-own-ok", "logs-own-fails"]
    }
    assert world.fake.calls("logs-rejected") >= 1
    assert world.fake.calls("logs-leaky") >= 1
    assert world.fake.calls("logs-own-fails") >= 1
    admin = httpx.get(
        f"{gateway.base_url}/api/v1/admin/llm/providers/{world.gone_provider_id}/health",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert admin.status_code == 200
    assert admin.json()["health_status"] == "down"
    refused = post_chat(gateway, WRONG_VIRTUAL_KEY, {"model": "logs-ok"})
    assert refused.status_code == 401
    return asked


def fields_of(line: str) -> dict[str, str]:
    """`key=value` pairs of a text line (the values this test looks at are bare)."""
    return dict(part.split("=", 1) for part in line.split(" ") if "=" in part)


def event_lines(log: str, event: str) -> list[dict[str, str]]:
    return [fields_of(line) for line in log.splitlines() if f" {event} " in f"{line} "]


def assert_no_secret(log: str, world: World) -> None:
    for secret in world.secrets():
        assert secret not in log, f"a secret ({secret[:4]}…) is in the log"
        middle = secret[len(secret) // 3 : 2 * len(secret) // 3]  # no mask ever shows it
        assert len(middle) < 6 or middle not in log, f"part of a secret ({secret[:4]}…) is logged"


def test_the_log_tells_what_happened_and_no_secret(world: World, tmp_path: Path) -> None:
    with running_gateway(world.database_url, tmp_path, world.env()) as gateway:
        asked = exercise(gateway, world)
        gateway.stop()
        log = gateway.log()

    assert_no_secret(log, world)

    (start,) = event_lines(log, "switchboard_starting")
    dialect = make_url(world.database_url).get_backend_name()
    assert start["database"] == dialect
    assert start["listen"] == f"127.0.0.1:{gateway.port}"
    assert start["workers"] == "1"
    assert start["spool_dir"] == str((tmp_path / "spool").resolve())
    assert start["version"]
    assert event_lines(log, "gateway_started")
    assert event_lines(log, "gateway_stopped")

    access = {line["request_id"]: line for line in event_lines(log, "request")}
    assert len(access) == len(asked)
    request_id, status = asked["logs-ok"]
    served = access[request_id]
    assert status == 200
    assert served["status"] == "200"
    assert served["user"] == "logs-user"
    assert (served["model"], served["provider"]) == ("logs-ok", "logs-up")
    assert (served["key_source"], served["attempts"]) == ("system", "1")
    assert Decimal(served["cost_usd"]) == Decimal("0.00000925")  # 12 x $0.25 + 5 x $1.25 / 1M
    assert int(served["latency_ms"]) >= 0
    own = access[asked["logs-own-ok"][0]]
    assert (own["provider"], own["key_source"]) == ("logs-own", "byok")
    for model in ["logs-rejected", "logs-leaky", "logs-own-fails"]:
        request_id, status = asked[model]
        assert status >= 500
        assert access[request_id]["status"] == str(status)
        assert access[request_id]["error"] != "-"

    cooldowns = {
        (line["scope"], line["provider"], line["model"]): line
        for line in event_lines(log, "cooldown_started")
    }
    rejected = cooldowns[("provider", "logs-bad", "-")]  # a rejected key: the whole provider
    assert (rejected["cooldown_s"], rejected["failures"]) == ("60.0", "1")
    leaky = cooldowns[("model", "logs-leak", "logs-leaky")]
    assert leaky["cause"] == "consecutive_failures"

    failed = {
        (line["provider"], line["model"]): line for line in event_lines(log, "provider_call_failed")
    }
    bad_key = failed[("logs-bad", "logs-rejected")]
    assert (bad_key["status"], bad_key["kind"]) == ("401", "upstream_authentication")
    assert bad_key["key_source"] == "system"

    (health,) = event_lines(log, "provider_health_changed")
    assert (health["provider"], health["old"], health["new"]) == ("logs-gone", "unknown", "down")
    (line,) = [line for line in log.splitlines() if " provider_health_changed " in line]
    assert " WARNING " in line


def test_json_logs_are_one_object_a_line(world: World, tmp_path: Path) -> None:
    with running_gateway(world.database_url, tmp_path, world.env(LOG_FORMAT="json")) as gateway:
        asked = exercise(gateway, world)
        gateway.stop()
        log = gateway.log()

    assert_no_secret(log, world)
    lines = [orjson.loads(line) for line in log.splitlines() if line.strip()]
    for line in lines:
        assert {"time", "level", "pid", "logger", "message"} <= line.keys(), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
        assert line["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    events: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        if "event" in line:
            events.setdefault(line["event"], []).append(line)
    (start,) = events["switchboard_starting"]
    assert start["workers"] == 1
    assert start["database"] == make_url(world.database_url).get_backend_name()
    assert start["log_format"] == "json"
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's in our form

    access = {line["request_id"]: line for line in events["request"]}
    served = access[asked["logs-ok"][0]]
    assert served["logger"] == "switchboard.access"
    assert (served["status"], served["model"], served["provider"]) == (200, "logs-ok", "logs-up")
    assert (served["key_source"], served["attempts"]) == ("system", 1)
    failed = access[asked["logs-leaky"][0]]
    assert failed["status"] == asked["logs-leaky"][1]
    assert failed["provider"] is None or failed["provider"] == "logs-leak"
    # Cooled down in the first test's process: this one starts with a clean slate.
    assert {line["provider"] for line in events["cooldown_started"]} >= {"logs-bad", "logs-leak"}


def test_access_log_off(world: World, tmp_path: Path) -> None:
    env = world.env(ACCESS_LOG="false", LOG_LEVEL="warning")
    with running_gateway(world.database_url, tmp_path, env) as gateway:
        ask(gateway, world, "logs-ok")
        ask(gateway, world, "logs-leaky")
        gateway.stop()
        log = gateway.log()

    assert " request request_id=" not in log
    assert "switchboard_starting" not in log  # INFO is below LOG_LEVEL
    assert event_lines(log, "cooldown_started")  # a warning is not


def test_every_worker_logs_in_the_same_form(world: World, tmp_path: Path) -> None:
    """`--workers 2`: uvicorn starts the workers as new processes, and each configures its
    logging as the parent did."""
    env = world.env(LOG_FORMAT="json")
    with running_gateway(world.database_url, tmp_path, env, workers=2) as gateway:
        ids = {ask(gateway, world, "logs-ok")[0] for _ in range(8)}
        deadline = time.monotonic() + 10
        while gateway.log().count('"gateway_started"') < 2 and time.monotonic() < deadline:
            time.sleep(0.05)

    log = gateway.log()
    assert_no_secret(log, world)
    lines = [orjson.loads(line) for line in log.splitlines() if line.strip()]
    (start,) = [line for line in lines if line.get("event") == "switchboard_starting"]
    assert start["workers"] == 2
    workers = {line["pid"] for line in lines if line.get("event") == "gateway_started"}
    assert len(workers) == 2 and start["pid"] not in workers
    access = [line for line in lines if line.get("event") == "request"]
    assert {line["request_id"] for line in access} == ids
    assert {line["pid"] for line in access} <= workers
