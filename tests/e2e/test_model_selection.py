"""What a client may ask for besides a power level: a model by name, `provider/model` to pin
a provider, a deprecated model (served by its replacement), an OpenRouter-style `models` list
as an explicit fallback order, and a task type (`X-Task-Type` or `metadata.task_type`) that
selects the rules written for it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from sqlalchemy.orm import Session, sessionmaker

from switchboard.vocabulary import PowerLevel, Tier
from tests.e2e.catalog_rows import (
    Prices,
    client,
    system_key,
    user_message,
)
from tests.e2e.stage import ServedWorld, Stage
from tests.e2e.waiting import refusal_row, usage_row, wait_for_usage_rows
from tests.fake_upstream import Reply


@dataclass(frozen=True)
class World(ServedWorld):
    prices: dict[str, Prices]
    rules: dict[str, int]


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    with stage.catalog() as rows:
        one = rows.provider("sel-one")
        two = rows.provider("sel-two")
        models = {
            "named-a": rows.model(one, "named-a", input_price="1", output_price="2"),
            "named-b": rows.model(one, "named-b", power_level=PowerLevel.ECO, input_price="0.1"),
            "shared-model": rows.model(one, "shared-model"),
            "new-model": rows.model(one, "new-model", input_price="3"),
            "code-model": rows.model(one, "code-model"),
            "general-model": rows.model(one, "general-model"),
        }
        rows.model(two, "shared-model", input_price="9")
        rows.model(one, "old-model", deprecated=True, replacement=models["new-model"])
        rules = {
            name: rows.rule(models[name], task_type=task).id
            for name, task in (("code-model", "code"), ("general-model", "general"))
        }
        key = rows.user("selector", tier=Tier.STARTER)
    prices = {name: Prices.of(model) for name, model in models.items()}
    with stage.gateway() as gateway, client(gateway, key) as sdk:
        yield World(gateway, stage.fake, key, sdk, prices, rules)


def ask(world: World, model: str, **options: Any) -> Any:
    return world.sdk.chat.completions.with_raw_response.create(
        model=model, messages=user_message(), **options
    )


def test_a_model_asked_for_by_name_is_served_and_billed_at_its_price(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    raw = ask(world, "named-a")

    assert raw.parse().model == "named-a"
    assert raw.headers["x-switchboard-route-reason"] == "requested as named-a"
    row = usage_row(e2e_sessions, raw.headers)
    assert (row.model_name, row.power_level, row.status_code) == ("named-a", "balanced", 200)
    assert row.cost_total_usd == world.prices["named-a"].cost(12, 5)


def test_provider_slash_model_pins_the_provider(world: World) -> None:
    unpinned = ask(world, "shared-model")
    unpinned_key = world.fake.received("shared-model")[-1].authorization
    pinned = ask(world, "sel-two/shared-model")
    pinned_key = world.fake.received("shared-model")[-1].authorization

    assert unpinned.headers["x-switchboard-provider"] == "sel-one"
    assert unpinned_key == f"Bearer {system_key('sel-one')}"
    assert pinned.headers["x-switchboard-provider"] == "sel-two"
    assert pinned.headers["x-switchboard-model"] == "shared-model"
    assert pinned.headers["x-switchboard-route-reason"] == "requested as sel-two/shared-model"
    assert pinned_key == f"Bearer {system_key('sel-two')}"


def test_a_deprecated_model_is_served_by_its_replacement(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    raw = ask(world, "old-model")

    assert raw.parse().model == "new-model"
    assert raw.headers["x-switchboard-model"] == "new-model"
    assert raw.headers["x-switchboard-route-reason"] == "requested as old-model"
    assert world.fake.calls("old-model") == 0
    row = usage_row(e2e_sessions, raw.headers)
    assert row.model_name == "new-model"
    assert row.cost_total_usd == world.prices["new-model"].cost(12, 5)


def test_an_unknown_model_is_not_found(world: World, e2e_sessions: sessionmaker[Session]) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        ask(world, "no-such-model")

    assert raised.value.status_code == 404
    assert (raised.value.code, raised.value.param) == ("model_not_found", "model")
    assert raised.value.response.json()["error"]["message"] == (
        "model 'no-such-model' does not exist"
    )
    row = refusal_row(e2e_sessions, raised.value)
    assert (row.status_code, row.error_type) == (404, "model_not_found")


def test_a_models_list_is_an_explicit_fallback_order(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    world.fake.script("named-b", Reply(status=500))
    order = ["no-such-model", "named-b", "named-a"]
    failed_over = ask(world, "named-b", extra_body={"models": order})
    first_choice = ask(world, "named-b", extra_body={"models": order})

    assert failed_over.headers["x-switchboard-model"] == "named-a"
    assert failed_over.headers["x-switchboard-attempts"] == "2"
    assert first_choice.headers["x-switchboard-model"] == "named-b"
    assert first_choice.headers["x-switchboard-attempts"] == "1"
    assert "models" not in world.fake.received("named-b")[-1].body
    rows = wait_for_usage_rows(
        e2e_sessions,
        [r.headers["x-switchboard-request-id"] for r in (failed_over, first_choice)],
    )
    assert [(row.model_name, row.power_level, row.attempts) for row in rows] == [
        ("named-a", "balanced", 2),
        ("named-b", "eco", 1),
    ]


@pytest.mark.parametrize(
    ("header", "metadata", "served_by", "task"),
    [
        (None, None, "general-model", "general"),
        ("code", None, "code-model", "code"),
        ("Code", None, "code-model", "code"),
        (None, {"task_type": "code"}, "code-model", "code"),
        (None, {"task_type": "poetry"}, "general-model", "poetry"),
        ("code", {"task_type": "chat", "team": "a"}, "code-model", "code"),
    ],
)
def test_the_task_type_selects_its_rules(
    world: World,
    e2e_sessions: sessionmaker[Session],
    header: str | None,
    metadata: dict[str, str] | None,
    served_by: str,
    task: str,
) -> None:
    options: dict[str, Any] = {}
    if header is not None:
        options["extra_headers"] = {"X-Task-Type": header}
    if metadata is not None:
        options["metadata"] = metadata
    raw = ask(world, "balanced", **options)

    assert raw.headers["x-switchboard-model"] == served_by
    rule_task = "code" if served_by == "code-model" else "general"
    assert raw.headers["x-switchboard-route-reason"] == (
        f"rule {world.rules[served_by]} ({rule_task}, priority 1)"
    )
    sent = world.fake.received(served_by)[-1].body
    assert "task_type" not in sent.get("metadata", {})  # for the gateway, not the provider
    row = usage_row(e2e_sessions, raw.headers)
    assert (row.task_type, row.model_name) == (task, served_by)
