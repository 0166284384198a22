"""The official `openai` SDK served by a fake Anthropic provider: requests are translated to the
Messages API and answers, streams and tool calls back to Chat Completions. What Anthropic cannot
honour (`n` > 1) is refused with a 400 naming it, unless another candidate can; a 429 or 529
falls back to the next candidate; every request, whatever its fate, is billed exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import LLMUsageLog
from tests.e2e.anthropic_world import (
    ANTHROPIC,
    BACKUP,
    BACKUP_COST,
    CACHE_WRITING,
    CACHE_WRITING_BILL,
    CLAUDE,
    CLAUDE_BILL,
    TOOLS_MODEL,
    USERS,
    WEATHER_TOOL,
    World,
    anthropic_world,
    bill,
    claude_client,
    costs,
    outcome,
    request_id,
    user,
)
from tests.e2e.catalog_rows import client, streamed_with_usage, system_key
from tests.e2e.stage import Stage
from tests.e2e.waiting import usage_row, wait_for_usage_rows
from tests.fake_upstream import AnthropicReply, ToolUse

OPENAI_WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": WEATHER_TOOL["name"],
        "description": WEATHER_TOOL["description"],
        "parameters": WEATHER_TOOL["input_schema"],
    },
}


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    with anthropic_world(stage) as world:
        yield world


def test_a_chat_completion_is_served_by_anthropic_and_billed_at_the_cached_price(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    raw = world.sdk.chat.completions.with_raw_response.create(
        model=CLAUDE,
        max_tokens=50,
        messages=[{"role": "system", "content": "Be brief."}, user("Hello?")],
    )
    completion = raw.parse()

    (choice,) = completion.choices
    assert (choice.message.content, choice.finish_reason) == (
        "Hello from the fake Anthropic.",
        "stop",
    )
    assert completion.model == CLAUDE
    assert completion.id.startswith("msg_fake_")
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (50, 7, 57)
    assert usage.prompt_tokens_details.cached_tokens == 30
    assert (raw.headers["x-switchboard-model"], raw.headers["x-switchboard-provider"]) == (
        CLAUDE,
        ANTHROPIC,
    )
    received = world.fake.received(CLAUDE)[-1]
    assert (received.headers["x-api-key"], received.headers["anthropic-version"]) == (
        system_key(ANTHROPIC),
        "2023-06-01",
    )
    assert received.body == {
        "model": CLAUDE,
        "max_tokens": 50,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello?"}]}],
    }
    assert bill(usage_row(e2e_sessions, raw.headers)) == CLAUDE_BILL


def test_a_stream_from_anthropic_arrives_as_chunks_with_the_usage_last(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    with streamed_with_usage(world.sdk, CLAUDE, [user("Stream?")]) as response:
        headers = response.headers
        chunks = list(response.parse())

    pieces = [c.choices[0].delta.content for c in chunks if c.choices]
    assert pieces == ["", "Hello from", " the fake ", "Anthropic.", None]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (50, 7)
    assert usage.prompt_tokens_details.cached_tokens == 30
    body = world.fake.received(CLAUDE)[-1].body
    # Anthropic needs max_tokens: the adapter's default when the client sent none.
    assert (body["stream"], body["max_tokens"], "stream_options" in body) == (True, 4096, False)
    assert bill(usage_row(e2e_sessions, headers)) == CLAUDE_BILL


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_cache_writes_are_part_of_the_prompt_and_billed_above_the_input_price(
    world: World, e2e_sessions: sessionmaker[Session], streamed: bool
) -> None:
    world.fake.script(CLAUDE, CACHE_WRITING)
    ask: Any = {"model": CLAUDE, "messages": [user("Cache this")]}
    if streamed:
        with world.sdk.chat.completions.with_streaming_response.create(
            **ask, stream=True, stream_options={"include_usage": True}
        ) as response:
            headers = response.headers
            usage = list(response.parse())[-1].usage
    else:
        raw = world.sdk.chat.completions.with_raw_response.create(**ask)
        headers, usage = raw.headers, raw.parse().usage

    assert usage is not None and usage.prompt_tokens_details is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (450, 7)
    assert usage.prompt_tokens_details.cached_tokens == 30
    # Not OpenAI's own fields: where LiteLLM's proxy reports a Claude model's cache writes.
    assert usage.prompt_tokens_details.model_dump()["cache_creation_tokens"] == 400
    assert usage.prompt_tokens_details.model_dump()["cache_creation_token_details"] == {
        "ephemeral_5m_input_tokens": 300,
        "ephemeral_1h_input_tokens": 100,
    }
    assert costs(usage_row(e2e_sessions, headers)) == CACHE_WRITING_BILL


def ask_for_tools(world: World, messages: list[Any], streamed: bool) -> tuple[Any, str | None]:
    """(the assistant's message as a dict, the finish reason), whole or from a stream."""
    ask: Any = {"model": TOOLS_MODEL, "tools": [OPENAI_WEATHER_TOOL], "messages": messages}
    if not streamed:
        choice = world.sdk.chat.completions.create(**ask).choices[0]
        return choice.message.model_dump(exclude_none=True), choice.finish_reason
    calls: dict[int, dict[str, Any]] = {}
    text, finish_reason = "", None
    for chunk in world.sdk.chat.completions.create(**ask, stream=True):
        for streamed_choice in chunk.choices:
            text += streamed_choice.delta.content or ""
            finish_reason = streamed_choice.finish_reason or finish_reason
            for part in streamed_choice.delta.tool_calls or []:
                call = calls.setdefault(part.index, {"function": {"arguments": ""}})
                if part.id:
                    call.update(id=part.id, type=part.type)
                function = part.function
                if function and function.name:
                    call["function"]["name"] = function.name
                call["function"]["arguments"] += (function and function.arguments) or ""
    message = {"role": "assistant", "content": text or None, "tool_calls": list(calls.values())}
    return {k: v for k, v in message.items() if v}, finish_reason


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_tool_calls_are_translated_both_ways(world: World, streamed: bool) -> None:
    tool_use = ToolUse("get_weather", {"city": "Paris"}, id=f"toolu_openai_{int(streamed)}")
    world.fake.script(
        TOOLS_MODEL,
        AnthropicReply(text="", tool_uses=(tool_use,)),
        AnthropicReply(text="Sunny in Paris."),
    )
    question = [user("Weather in Paris?")]

    message, finish_reason = ask_for_tools(world, question, streamed)

    assert finish_reason == "tool_calls"
    function = {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert message == {
        "role": "assistant",
        "tool_calls": [{"id": tool_use.id, "type": "function", "function": function}],
    }
    result = {"role": "tool", "tool_call_id": tool_use.id, "content": "sunny, 22 °C"}
    answer, finish_reason = ask_for_tools(world, [*question, message, result], streamed)
    assert (answer["content"], finish_reason) == ("Sunny in Paris.", "stop")
    sent = world.fake.received(TOOLS_MODEL)[-1].body
    assert sent["tools"] == [WEATHER_TOOL]
    assert sent["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", **tool_use_fields(tool_use)}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny, 22 °C"}
            ],
        },
    ]


def tool_use_fields(tool_use: ToolUse) -> dict[str, Any]:
    return {"id": tool_use.id, "name": tool_use.name, "input": tool_use.input}


def test_n_2_to_anthropic_alone_is_a_400_naming_n(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    calls = len(world.fake.received(CLAUDE))
    with pytest.raises(openai.BadRequestError) as raised:
        world.sdk.chat.completions.create(model=CLAUDE, n=2, messages=[user("Two answers?")])

    error = raised.value
    assert (error.status_code, error.param, error.code) == (400, "n", "unsupported_parameter")
    assert error.body == {
        "message": "Anthropic models cannot honour `n`=2",
        "type": "invalid_request_error",
        "param": "n",
        "code": "unsupported_parameter",
    }
    assert len(world.fake.received(CLAUDE)) == calls  # refused before any call
    row = usage_row(e2e_sessions, error.response.headers)
    assert (row.status_code, row.cost_total_usd) == (400, Decimal(0))


def ask_then_backup(world: World, model: str, text: str, **options: Any) -> Any:
    """A chat completion (the raw response) of `model`, or of BACKUP when `model` cannot
    answer."""
    return world.sdk.chat.completions.with_raw_response.create(
        model=model, messages=[user(text)], extra_body={"models": [model, BACKUP]}, **options
    )


def test_n_2_is_served_by_a_fallback_that_can_honour_it(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    calls = len(world.fake.received(CLAUDE))
    raw = ask_then_backup(world, CLAUDE, "Two answers?", n=2)

    assert raw.parse().choices[0].message.content == "Hello from the fake upstream."
    assert raw.headers["x-switchboard-model"] == BACKUP
    assert world.backup.received(BACKUP)[-1].body["n"] == 2
    assert len(world.fake.received(CLAUDE)) == calls
    assert outcome(usage_row(e2e_sessions, raw.headers)) == (BACKUP, 200, 1, BACKUP_COST)


def test_a_rate_limited_anthropic_falls_back_to_the_next_candidate(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    raw = ask_then_backup(world, "claude-limited", "Busy?")

    assert raw.parse().model == BACKUP
    assert raw.headers["x-switchboard-attempts"] == "2"
    assert raw.headers["x-switchboard-route-reason"].endswith(
        "fallback after 1 failed: fake-anthropic/claude-limited (rate_limited)"
    )
    assert len(world.fake.received("claude-limited")) == 1
    assert outcome(usage_row(e2e_sessions, raw.headers)) == (BACKUP, 200, 2, BACKUP_COST)


def test_a_400_from_anthropic_is_passed_on_as_it_is(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    backup_calls = world.backup.calls(BACKUP)
    with pytest.raises(openai.BadRequestError) as raised:
        ask_then_backup(world, "claude-rejects", "x")

    assert raised.value.status_code == 400
    assert raised.value.body == {
        "message": 'messages: roles must alternate between "user" and "assistant"',
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert world.backup.calls(BACKUP) == backup_calls
    row = usage_row(e2e_sessions, raised.value.response.headers)
    assert (row.status_code, row.cost_total_usd) == (400, Decimal(0))


def test_every_request_whatever_its_fate_is_billed_exactly_once(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    counted = USERS[2]
    refused: list[dict[str, Any]] = [
        {"model": CLAUDE, "n": 3},  # nobody can honour it: 400
        {"model": "claude-rejects"},  # Anthropic's own 400
        {"model": "claude-nonexistent"},  # 404
    ]
    with (
        client(world.gateway, world.keys[counted]) as sdk,
        claude_client(world.gateway, world.keys[counted]) as claude,
    ):
        answered: list[Any] = [
            sdk.chat.completions.with_raw_response.create(model=CLAUDE, messages=[user("1")]),
            claude.messages.with_raw_response.create(
                model="claude-overloaded",
                max_tokens=9,
                messages=[user("2")],
                extra_body={"models": ["claude-overloaded", BACKUP]},
            ),
        ]
        ids = [request_id(raw.headers) for raw in answered]
        with claude.messages.stream(model=CLAUDE, max_tokens=9, messages=[user("3")]) as stream:
            stream.until_done()
            ids.append(request_id(stream.response.headers))
        for asked in refused:
            with pytest.raises(openai.APIStatusError) as raised:
                sdk.chat.completions.create(**asked, messages=[user("4")])
            ids.append(request_id(raised.value.response.headers))

    rows = wait_for_usage_rows(e2e_sessions, ids)
    assert [row.status_code for row in rows] == [200, 200, 200, 400, 400, 404]
    time.sleep(0.5)  # several flushes of the usage writer: nothing more may arrive
    with e2e_sessions() as session:
        stored = session.scalar(
            select(func.count()).select_from(LLMUsageLog).where(LLMUsageLog.user_id == counted)
        )
    assert stored == len(set(ids)) == 6
