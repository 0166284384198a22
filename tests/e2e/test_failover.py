"""Failure handling against a fake upstream that fails on cue: what moves on to the next
candidate (500, 429, timeout, connection refused, a rejected key), what does not (a 400),
cooldowns, the attempt limit, and the bill of every outcome. Streams: `test_stream_failures`.

Explicit fallback orders come from OpenRouter-style `models` lists; the cooldown test uses
routing rules, so it shows the routing engine seeing the gateway's health."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import openai
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import LLMUsageLog
from switchboard.vocabulary import PowerLevel, Tier
from tests.e2e.catalog_rows import (
    Prices,
    client,
    user_message,
)
from tests.e2e.stage import ServedWorld, Stage
from tests.e2e.waiting import refusal_row, usage_row, wait_for_usage_rows
from tests.fake_upstream import Reply, closed_port_url

TIMEOUT_S = 0.8
FAILING: dict[str, Reply] = {
    "fails-500": Reply(status=500, error_message="upstream exploded"),
    "limited-429": Reply(status=429, retry_after="30", error_message="slow down"),
    "limited-only": Reply(status=429, retry_after="7", error_message="slow down"),
    "slow": Reply(delay_s=5),
    "bad-key": Reply(status=401, error_message="invalid api key"),
    "rejects-400": Reply(
        status=400, error_message="'max_tokens' is too large", error_code="invalid_value"
    ),
    "flaky-rule": Reply(status=503, error_message="overloaded"),
    "dead-1": Reply(status=500),
    "dead-2": Reply(status=502),
    "dead-3": Reply(status=500),
    "dead-4": Reply(status=500),
    "dead-5": Reply(status=500),
    "dead-6": Reply(status=500),
}
BACKUPS = [
    "backup-500",
    "backup-429",
    "backup-timeout",
    "backup-refused",
    "backup-auth",
    "backup-400",
    "backup-max",
    "steady-rule",
]


@dataclass(frozen=True)
class World(ServedWorld):
    prices: dict[str, Prices]
    rules: dict[str, int]
    counted_key: str
    """The key of a user whose rows are counted."""


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    stage.script(FAILING)
    with stage.catalog() as rows:
        fo = rows.provider("fo")
        refused = rows.provider("fo-refused", base_url=closed_port_url())
        rejected = rows.provider("fo-auth")
        models = {
            name: rows.model(fo, name, input_price="0.5", output_price="1.5")
            for name in [*FAILING, *BACKUPS]
            if name != "bad-key"
        }
        models["refused"] = rows.model(refused, "refused")
        models["bad-key"] = rows.model(rejected, "bad-key")
        precision = PowerLevel.PRECISION
        rules = {
            "flaky-rule": rows.rule(models["flaky-rule"], power_level=precision).id,
            "steady-rule": rows.rule(models["steady-rule"], power_level=precision, priority=2).id,
        }
        key = rows.user("failover-user", tier=Tier.PROFESSIONAL)
        counted_key = rows.user("counted-user", tier=Tier.PROFESSIONAL)
    prices = {name: Prices.of(model) for name, model in models.items()}
    env = {
        "REQUEST_TIMEOUT_S": str(TIMEOUT_S),
        "CONNECT_TIMEOUT_S": "0.3",
        "COOLDOWN_FAILURES": "2",
        "COOLDOWN_S": "60",
        "MAX_ATTEMPTS": "3",
    }
    with stage.gateway(env) as gateway, client(gateway, key) as sdk:
        yield World(gateway, stage.fake, key, sdk, prices, rules, counted_key)


def ask(world: World, *names: str, **options: Any) -> Any:
    """A chat completion asking for `names` in that order; the raw response."""
    return world.sdk.chat.completions.with_raw_response.create(
        model=names[0],
        messages=[{"role": "user", "content": "Hello there"}],
        extra_body={"models": list(names)},
        **options,
    )


def test_a_500_falls_back_to_the_next_candidate(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    raw = ask(world, "fails-500", "backup-500")

    assert raw.parse().model == "backup-500"
    assert raw.headers["x-switchboard-model"] == "backup-500"
    assert raw.headers["x-switchboard-attempts"] == "2"
    assert raw.headers["x-switchboard-route-reason"] == (
        "requested as backup-500; fallback after 1 failed: fo/fails-500 (server_error)"
    )
    assert world.fake.calls("fails-500") == 1
    row = usage_row(e2e_sessions, raw.headers)
    assert (row.model_name, row.status_code, row.attempts) == ("backup-500", 200, 2)
    assert (row.prompt_tokens, row.completion_tokens) == (12, 5)
    assert row.cost_total_usd == world.prices["backup-500"].cost(12, 5) == Decimal("0.0000135")


def test_a_429_falls_back_and_its_retry_after_sends_it_last(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    first = ask(world, "limited-429", "backup-429")
    second = ask(world, "limited-429", "backup-429")

    assert first.headers["x-switchboard-attempts"] == "2"
    assert second.headers["x-switchboard-model"] == "backup-429"
    assert second.headers["x-switchboard-attempts"] == "1"
    assert world.fake.calls("limited-429") == 1
    rows = wait_for_usage_rows(
        e2e_sessions, [r.headers["x-switchboard-request-id"] for r in (first, second)]
    )
    assert [(row.model_name, row.attempts) for row in rows] == [
        ("backup-429", 2),
        ("backup-429", 1),
    ]


def test_when_every_candidate_is_rate_limited_the_client_gets_429_and_retry_after(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(openai.RateLimitError) as raised:
        ask(world, "limited-only")

    assert raised.value.status_code == 429
    assert raised.value.code == "rate_limited"
    assert raised.value.response.headers["retry-after"] == "7"
    row = refusal_row(e2e_sessions, raised.value)
    assert (row.status_code, row.error_type, row.attempts) == (429, "rate_limited", 1)
    assert row.cost_total_usd == 0


def test_a_timeout_falls_back_and_the_slow_upstream_is_hung_up_on(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    started = time.monotonic()
    raw = ask(world, "slow", "backup-timeout")
    elapsed = time.monotonic() - started

    assert raw.headers["x-switchboard-model"] == "backup-timeout"
    assert raw.headers["x-switchboard-attempts"] == "2"
    assert raw.headers["x-switchboard-route-reason"].endswith("failed: fo/slow (timeout)")
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + 2
    (slow,) = world.fake.received("slow")
    world.fake.wait_finished(slow)
    assert slow.disconnected
    row = usage_row(e2e_sessions, raw.headers)
    assert (row.model_name, row.status_code, row.attempts) == ("backup-timeout", 200, 2)


def test_connection_refused_falls_back(world: World, e2e_sessions: sessionmaker[Session]) -> None:
    raw = ask(world, "refused", "backup-refused")

    assert raw.headers["x-switchboard-model"] == "backup-refused"
    assert raw.headers["x-switchboard-attempts"] == "2"
    reason = raw.headers["x-switchboard-route-reason"]
    assert reason.endswith("fallback after 1 failed: fo-refused/refused (connection_error)")
    row = usage_row(e2e_sessions, raw.headers)
    assert (row.model_name, row.attempts) == ("backup-refused", 2)


def test_a_provider_rejecting_its_own_key_falls_back(world: World) -> None:
    raw = ask(world, "bad-key", "backup-auth")

    assert raw.headers["x-switchboard-model"] == "backup-auth"
    assert raw.headers["x-switchboard-route-reason"].endswith(
        "fallback after 1 failed: fo-auth/bad-key (upstream_authentication)"
    )
    assert world.fake.received("bad-key")[-1].authorization == "Bearer sk-system-fo-auth"


def test_a_400_is_the_callers_fault_returned_as_it_is_without_fallback(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        ask(world, "rejects-400", "backup-400")

    assert raised.value.status_code == 400
    assert raised.value.response.json() == {
        "error": {
            "message": "'max_tokens' is too large",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_value",
        }
    }
    assert world.fake.calls("backup-400") == 0
    row = refusal_row(e2e_sessions, raised.value)
    assert (row.status_code, row.error_type, row.attempts) == (400, "upstream_rejected_request", 1)
    assert (row.model_name, row.used_byok) == ("rejects-400", False)
    assert row.error_message == "fo answered 400: 'max_tokens' is too large"
    assert row.cost_total_usd == 0


def test_a_deployment_that_keeps_failing_cools_down_and_is_tried_last(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    responses = [ask(world, "precision") for _ in range(4)]

    assert [r.headers["x-switchboard-model"] for r in responses] == ["steady-rule"] * 4
    assert [r.headers["x-switchboard-attempts"] for r in responses] == ["2", "2", "1", "1"]
    assert world.fake.calls("flaky-rule") == 2  # COOLDOWN_FAILURES
    assert responses[3].headers["x-switchboard-route-reason"] == (
        f"rule {world.rules['steady-rule']} (general, priority 2)"
    )
    rows = wait_for_usage_rows(
        e2e_sessions, [r.headers["x-switchboard-request-id"] for r in responses]
    )
    assert [row.attempts for row in rows] == [2, 2, 1, 1]
    assert {row.power_level for row in rows} == {"precision"}


def test_when_every_candidate_fails_the_error_lists_what_was_tried(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        ask(world, "dead-1", "dead-2")

    assert raised.value.status_code == 502
    assert raised.value.code == "upstream_error"
    assert raised.value.response.json()["error"]["message"] == (
        "Every candidate failed. Tried: fo/dead-1 (server_error), fo/dead-2 (server_error)"
    )
    row = refusal_row(e2e_sessions, raised.value)
    assert (row.status_code, row.error_type, row.attempts) == (502, "upstream_error", 2)
    # The operator's record keeps what each provider said.
    assert row.error_message == (
        "fo/dead-1: fo answered 500: scripted failure; fo/dead-2: fo answered 502: scripted failure"
    )
    assert (row.prompt_tokens, row.completion_tokens, row.cost_total_usd) == (0, 0, 0)


def test_attempts_stop_at_max_attempts(world: World) -> None:
    with pytest.raises(openai.InternalServerError):
        ask(world, "dead-3", "dead-4", "dead-5", "backup-max")

    assert [world.fake.calls(name) for name in ("dead-3", "dead-4", "dead-5")] == [1, 1, 1]
    assert world.fake.calls("backup-max") == 0


def test_every_request_is_one_row_however_many_attempts_it_took(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    request_ids = []
    with client(world.gateway, world.counted_key) as sdk:
        for names in (["fails-500", "backup-500"], ["dead-1", "dead-2"], ["rejects-400"]):
            try:
                raw = sdk.chat.completions.with_raw_response.create(
                    model=names[0], messages=user_message(), extra_body={"models": names}
                )
                request_ids.append(raw.headers["x-switchboard-request-id"])
            except openai.APIStatusError as error:
                request_ids.append(error.response.headers["x-switchboard-request-id"])
        with sdk.chat.completions.with_streaming_response.create(
            model="limited-429",
            messages=user_message(),
            stream=True,
            extra_body={"models": ["limited-429", "dead-6", "backup-429"]},
        ) as response:
            request_ids.append(response.headers["x-switchboard-request-id"])
            assert len(list(response.parse())) > 1

    rows = wait_for_usage_rows(e2e_sessions, request_ids)
    assert [(row.status_code, row.attempts) for row in rows] == [
        (200, 2),
        (502, 2),
        (400, 1),
        (200, 2),  # limited-429 is cooling down (Retry-After): tried last, never reached
    ]
    time.sleep(0.5)  # several writer cycles: nothing else may arrive
    with e2e_sessions() as session:
        stored = session.scalars(
            select(LLMUsageLog.request_id).where(LLMUsageLog.user_id == "counted-user")
        ).all()
    assert sorted(stored) == sorted(request_ids)
