"""The OpenAI surface with the official SDK in front and a fake OpenAI-compatible upstream
behind: answers and streams are relayed exactly, the route is told in headers, and every
request is billed once from the provider's own usage report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from switchboard.vocabulary import Tier
from tests.e2e.catalog_rows import (
    Prices,
    client,
    streamed_with_usage,
    system_key,
    user_message,
)
from tests.e2e.stage import ServedWorld, Stage
from tests.e2e.waiting import usage_row, wait_for_usage_rows
from tests.fake_upstream import Reply, ToolCall

MODEL = "surface-chat"
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@dataclass(frozen=True)
class World(ServedWorld):
    prices: Prices
    rule_id: int


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    with stage.catalog() as rows:
        provider = rows.provider("fake")
        model = rows.model(
            provider,
            MODEL,
            input_price="0.25",
            output_price="1.25",
            cached_input_price="0.125",
        )
        rule = rows.rule(model)
        key = rows.user("surface-user", tier=Tier.STARTER)
    with stage.gateway() as gateway, client(gateway, key) as sdk:
        yield World(gateway, stage.fake, key, sdk, Prices.of(model), rule.id)


def row_values(row: object, *names: str) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def test_an_answer_is_relayed_exactly_told_in_headers_and_billed_once(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    world.fake.script(MODEL, Reply(text="Hello, Ada.", prompt_tokens=21, completion_tokens=4))
    messages: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Greet Ada"},
    ]
    raw = world.sdk.chat.completions.with_raw_response.create(
        model="balanced",
        messages=messages,
        temperature=0.2,
        max_completion_tokens=50,
        stop=["\n\n"],
        seed=7,
        user="end-user-1",
        extra_headers={"X-Request-ID": "client-request-1"},
    )
    completion = raw.parse()

    body = raw.http_response.json()
    assert isinstance(body.pop("created"), int)
    assert body == {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello, Ada."},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 21,
            "completion_tokens": 4,
            "total_tokens": 25,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }
    assert completion.choices[0].message.content == "Hello, Ada."
    headers = raw.headers
    request_id = headers["x-switchboard-request-id"]
    assert headers["x-request-id"] == "client-request-1"
    assert request_id.startswith("req_")
    assert headers["x-switchboard-model"] == MODEL
    assert headers["x-switchboard-provider"] == "fake"
    assert headers["x-switchboard-key-source"] == "system"
    assert headers["x-switchboard-attempts"] == "1"
    assert headers["x-switchboard-route-reason"] == f"rule {world.rule_id} (general, priority 1)"
    assert float(headers["x-switchboard-overhead-ms"]) >= 0

    sent = world.fake.received(MODEL)[-1]
    assert sent.authorization == f"Bearer {system_key('fake')}"
    assert sent.body == {
        "model": MODEL,
        "messages": messages,
        "temperature": 0.2,
        "max_completion_tokens": 50,
        "stop": ["\n\n"],
        "seed": 7,
        "user": "end-user-1",
    }

    (row,) = wait_for_usage_rows(e2e_sessions, [request_id])
    assert row_values(
        row,
        "user_id",
        "model_name",
        "power_level",
        "task_type",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "usage_estimated",
        "status_code",
        "error_type",
        "used_byok",
        "user_key_id",
        "attempts",
    ) == {
        "user_id": "surface-user",
        "model_name": MODEL,
        "power_level": "balanced",
        "task_type": "general",
        "prompt_tokens": 21,
        "completion_tokens": 4,
        "total_tokens": 25,
        "usage_estimated": False,
        "status_code": 200,
        "error_type": None,
        "used_byok": False,
        "user_key_id": None,
        "attempts": 1,
    }
    assert row.cost_total_usd == world.prices.cost(21, 4)
    assert row.cost_input_usd + row.cost_output_usd == row.cost_total_usd
    assert row.user_agent is not None and row.user_agent.startswith("OpenAI/Python")
    assert row.request_ip == "127.0.0.1"


def test_a_stream_with_include_usage_ends_with_the_usage_chunk(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    text = "One, two, three, four, five, six."
    world.fake.script(MODEL, Reply(text=text, chunks=6, prompt_tokens=9, completion_tokens=11))
    with streamed_with_usage(
        world.sdk,
        "balanced",
        user_message("Count"),
        extra_headers={"X-Request-ID": "client-stream-1"},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-request-id"] == "client-stream-1"
        assert response.headers["x-switchboard-model"] == MODEL
        request_id = response.headers["x-switchboard-request-id"]
        chunks = list(response.parse())

    pieces = [c.choices[0].delta.content for c in chunks if c.choices]
    assert "".join(p or "" for p in pieces) == text
    assert len([p for p in pieces if p]) == 6
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (9, 11)
    (row,) = wait_for_usage_rows(e2e_sessions, [request_id])
    assert (row.prompt_tokens, row.completion_tokens, row.usage_estimated) == (9, 11, False)
    assert (row.status_code, row.error_type) == (200, None)
    assert row.cost_total_usd == world.prices.cost(9, 11)
    assert row.time_to_first_token_ms is not None
    assert row.latency_ms is not None and row.time_to_first_token_ms <= row.latency_ms


def test_a_stream_without_include_usage_hides_the_usage_but_bills_exactly(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    world.fake.script(MODEL, Reply(text="Quietly billed.", prompt_tokens=30, completion_tokens=3))
    with world.sdk.chat.completions.with_streaming_response.create(
        model="balanced", messages=[{"role": "user", "content": "Hi"}], stream=True
    ) as response:
        request_id = response.headers["x-switchboard-request-id"]
        chunks = list(response.parse())

    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Quietly billed."
    assert all(c.usage is None and c.choices for c in chunks)
    sent = world.fake.received(MODEL)[-1].body
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    (row,) = wait_for_usage_rows(e2e_sessions, [request_id])
    assert (row.prompt_tokens, row.completion_tokens, row.usage_estimated) == (30, 3, False)
    assert row.cost_total_usd == world.prices.cost(30, 3)


def test_cached_prompt_tokens_are_billed_at_the_cached_price(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    world.fake.script(MODEL, Reply(prompt_tokens=1000, cached_tokens=400, completion_tokens=20))
    raw = world.sdk.chat.completions.with_raw_response.create(
        model="balanced", messages=[{"role": "user", "content": "Again"}]
    )

    row = usage_row(e2e_sessions, raw.headers)
    assert (row.prompt_tokens, row.cached_tokens, row.completion_tokens) == (1000, 400, 20)
    assert row.cost_cached_usd == Decimal("0.00005")  # 400 × $0.125 / 1M
    assert row.cost_input_usd == Decimal("0.00015")  # 600 × $0.25 / 1M
    assert row.cost_total_usd == world.prices.cost(1000, 20, cached_tokens=400)


def test_a_tool_call_comes_back_as_the_sdk_expects(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    call = ToolCall("get_weather", '{"city": "Paris"}', id="call_abc")
    world.fake.script(MODEL, Reply(tool_calls=(call,), prompt_tokens=40, completion_tokens=8))
    raw = world.sdk.chat.completions.with_raw_response.create(
        model="balanced",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice="auto",
    )
    completion = raw.parse()

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    (tool_call,) = choice.message.tool_calls
    assert tool_call.id == "call_abc"
    assert tool_call.function.name == "get_weather"  # type: ignore[union-attr]
    assert tool_call.function.arguments == '{"city": "Paris"}'  # type: ignore[union-attr]
    sent = world.fake.received(MODEL)[-1].body
    assert (sent["tools"], sent["tool_choice"]) == ([WEATHER_TOOL], "auto")
    row = usage_row(e2e_sessions, raw.headers)
    assert (row.prompt_tokens, row.completion_tokens, row.status_code) == (40, 8, 200)


def test_streamed_tool_calls_arrive_in_pieces_and_reassemble(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    calls = (
        ToolCall("get_weather", '{"city": "Paris"}', id="call_1"),
        ToolCall("get_weather", '{"city": "Oslo"}', id="call_2"),
    )
    world.fake.script(MODEL, Reply(tool_calls=calls, prompt_tokens=44, completion_tokens=16))
    with world.sdk.chat.completions.with_streaming_response.create(
        model="balanced",
        messages=[{"role": "user", "content": "Weather in Paris and Oslo?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        request_id = response.headers["x-switchboard-request-id"]
        chunks = list(response.parse())

    assembled: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or ():
                entry = assembled.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += delta.id or ""
                if delta.function is not None:
                    entry["name"] += delta.function.name or ""
                    entry["arguments"] += delta.function.arguments or ""
    assert assembled == {
        0: {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        1: {"id": "call_2", "name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    (row,) = wait_for_usage_rows(e2e_sessions, [request_id])
    assert (row.prompt_tokens, row.completion_tokens, row.usage_estimated) == (44, 16, False)


def test_unknown_fields_pass_through_and_metadata_task_type_stays_in_the_gateway(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    raw = world.sdk.chat.completions.with_raw_response.create(
        model="balanced",
        messages=[{"role": "user", "content": "Hi"}],
        response_format={"type": "json_object"},
        metadata={"task_type": "chat", "trace": "t-1"},
        extra_body={"reasoning_effort": "low", "vendor_option": {"depth": 2}},
    )
    sent = world.fake.received(MODEL)[-1].body
    assert sent["reasoning_effort"] == "low"
    assert sent["vendor_option"] == {"depth": 2}
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["metadata"] == {"trace": "t-1"}
    row = usage_row(e2e_sessions, raw.headers)
    assert row.task_type == "chat"


@pytest.mark.parametrize("stream", [False, True])
def test_a_provider_reporting_no_usage_is_billed_by_the_documented_estimate(
    world: World, e2e_sessions: sessionmaker[Session], stream: bool
) -> None:
    text = "Twenty characters!!!" * 2
    world.fake.script(MODEL, Reply(text=text, report_usage=False))
    raw = world.sdk.chat.completions.with_raw_response.create(
        model="balanced", messages=[{"role": "user", "content": "Twelve chars"}], stream=stream
    )
    if stream:
        assert "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices) == text
    else:
        assert raw.parse().usage is None

    row = usage_row(e2e_sessions, raw.headers)
    # 4 tokens a message + 12 characters / 4; 40 characters / 4
    assert (row.prompt_tokens, row.completion_tokens) == (7, 10)
    assert (row.usage_estimated, row.status_code) == (True, 200)
    assert row.cost_total_usd == world.prices.cost(7, 10)


def test_a_request_id_that_is_not_sane_is_replaced_by_the_gateways_own(world: World) -> None:
    raw = world.sdk.chat.completions.with_raw_response.create(
        model="balanced",
        messages=[{"role": "user", "content": "Hi"}],
        extra_headers={"X-Request-ID": "has spaces and $ymbols"},
    )
    assert raw.headers["x-request-id"] == raw.headers["x-switchboard-request-id"]
    assert raw.headers["x-request-id"].startswith("req_")


def test_models_lists_the_aliases_and_the_catalog(world: World) -> None:
    models = {m.id: m for m in world.sdk.models.list()}
    assert {"eco", "balanced", "precision", "auto", MODEL} <= set(models)
    assert models[MODEL].owned_by == "fake"
