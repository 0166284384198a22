"""A request too large for the models that could serve it: a `max_tokens` over a model's own
output limit falls through to a model that allows it; over every such model's limit, or a
request over every context window, it is a 400 naming the parameter and the limit, in OpenAI's
words (and in Anthropic's format on `/v1/messages`), never a 503 — and no provider is called.
A value no API takes (over 2^31 - 1) is refused before routing, as any other bad field."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import openai
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.e2e.anthropic_world import claude_client, user
from tests.e2e.catalog_rows import (
    client,
    user_message,
)
from tests.e2e.stage import ServedWorld, Stage
from tests.e2e.waiting import refusal_row

SMALL, BIG = "small-output", "big-output"
"""Balanced models, SMALL first: (context window, output limit) 2000/1000 and 4000/2000."""


@dataclass(frozen=True)
class World(ServedWorld):
    claude: anthropic.Anthropic

    def calls(self) -> int:
        return self.fake.calls(SMALL) + self.fake.calls(BIG)


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    with stage.catalog() as rows:
        provider = rows.provider("limits")
        for priority, (name, context, output) in enumerate(
            [(SMALL, 2000, 1000), (BIG, 4000, 2000)], start=1
        ):
            model = rows.model(provider, name)
            model.context_window, model.max_tokens = context, output
            rows.rule(model, priority=priority)
        key = rows.user("limits-user")
    with (
        stage.gateway() as gateway,
        client(gateway, key) as sdk,
        claude_client(gateway, key) as claude,
    ):
        yield World(gateway, stage.fake, key, sdk, claude)


def too_large(value: int, limit: int) -> str:
    return (
        f"max_tokens is too large: {value}. The models available for this request support "
        f"at most {limit} completion tokens, whereas you provided {value}."
    )


def test_a_max_tokens_over_the_first_models_output_limit_falls_through_to_one_that_allows_it(
    world: World,
) -> None:
    before = world.fake.calls(SMALL)
    raw = world.sdk.chat.completions.with_raw_response.create(
        model="balanced", messages=user_message(), max_tokens=1500
    )

    assert raw.headers["x-switchboard-model"] == BIG
    assert world.fake.received(BIG)[-1].body["max_tokens"] == 1500
    assert world.fake.calls(SMALL) == before


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_a_max_tokens_over_every_models_output_limit_is_a_400_naming_it(
    world: World, e2e_sessions: sessionmaker[Session], field: str
) -> None:
    before = world.calls()
    with pytest.raises(openai.BadRequestError) as raised:
        world.sdk.chat.completions.create(
            model="balanced", messages=user_message(), **{field: 1_000_000}
        )

    assert raised.value.response.json() == {
        "error": {
            "message": too_large(1_000_000, 2000),
            "type": "invalid_request_error",
            "param": field,
            "code": "invalid_value",
        }
    }
    assert world.calls() == before
    row = refusal_row(e2e_sessions, raised.value)
    assert (row.status_code, row.error_type, row.attempts) == (400, "invalid_value", 0)


def test_a_named_model_names_its_own_output_limit(world: World) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        world.sdk.chat.completions.create(model=SMALL, messages=user_message(), max_tokens=1500)

    assert raised.value.response.json()["error"] == {
        "message": too_large(1500, 1000),
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "invalid_value",
    }


def test_a_request_over_every_context_window_is_a_400_context_length_exceeded(
    world: World,
) -> None:
    before = world.calls()
    with pytest.raises(openai.BadRequestError) as raised:
        # 8000 characters: 2000 tokens and 4 for the message, by the gateway's estimate.
        world.sdk.chat.completions.create(
            model="balanced", messages=user_message("x" * 8000), max_tokens=2000
        )

    assert raised.value.response.json() == {
        "error": {
            "message": "The largest context available for this request is 4000 tokens. "
            "However, you requested about 4004 tokens (2004 in the messages, 2000 in the "
            "completion). Please reduce the length of the messages or completion.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
    assert world.calls() == before


def test_on_the_anthropic_surface_it_is_an_anthropic_400(world: World) -> None:
    before = world.calls()
    with pytest.raises(anthropic.BadRequestError) as raised:
        world.claude.messages.create(model="balanced", max_tokens=1_000_000, messages=[user("x")])

    assert raised.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": too_large(1_000_000, 2000)},
    }
    assert world.calls() == before


def test_a_value_no_api_takes_is_refused_before_routing(world: World) -> None:
    request: Any = {"model": "balanced", "messages": user_message(), "max_tokens": 10**12}
    with pytest.raises(openai.BadRequestError) as raised:
        world.sdk.post("/chat/completions", body=request, cast_to=httpx.Response)
    assert raised.value.response.json()["error"] == {
        "message": "max_tokens is too large: 1000000000000. "
        "No model supports more than 2147483647 completion tokens.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "invalid_value",
    }

    with pytest.raises(anthropic.BadRequestError) as anthropic_raised:
        world.claude.messages.create(model="balanced", max_tokens=10**12, messages=[user("x")])
    assert anthropic_raised.value.body == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "max_tokens: must be at most 2147483647",
        },
    }


def test_a_power_level_nothing_serves_is_still_a_503(world: World) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        world.sdk.chat.completions.create(model="eco", messages=user_message(), max_tokens=10)

    assert raised.value.status_code == 503
    assert raised.value.response.json()["error"]["code"] == "no_route"
