"""The Anthropic surface (`POST /v1/messages`) with the official `anthropic` SDK in front: the
built-in mock behind it (demo catalog), then a fake Anthropic provider, so a request goes
Anthropic → gateway (OpenAI format) → Anthropic and back. Answers, streams, tool use and errors
arrive as the SDK's own types; each request is billed once, cache reads at the cached price."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import Message, TextBlock, ToolUseBlock
from sqlalchemy.orm import Session, sessionmaker

from tests.e2e.anthropic_world import (
    ANTHROPIC,
    BACKUP,
    BACKUP_COST,
    BYOK_SECRET,
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
    user,
)
from tests.e2e.catalog_rows import system_key
from tests.e2e.stage import Stage
from tests.e2e.waiting import usage_row
from tests.fake_upstream import AnthropicReply, ToolUse


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    with anthropic_world(stage) as world:
        yield world


def texts(message: Message) -> list[str]:
    return [block.text for block in message.content if isinstance(block, TextBlock)]


# The mock provider -------------------------------------------------------------------


def test_the_mock_answers_a_message_and_it_is_billed_at_the_models_prices(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    raw = world.claude.messages.with_raw_response.create(
        model="balanced", max_tokens=64, messages=[user("What is two and two?")]
    )
    message = raw.parse()

    assert isinstance(message, Message)
    assert (message.model, message.role, message.stop_reason) == (
        "mock-balanced",
        "assistant",
        "end_turn",
    )
    assert texts(message) == ["Mock answer from mock-balanced to: What is two and two?"]
    assert (raw.headers["x-switchboard-model"], raw.headers["x-switchboard-provider"]) == (
        "mock-balanced",
        "mock",
    )
    usage = message.usage
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (0, 0)
    row = usage_row(e2e_sessions, raw.headers)
    assert bill(row) == {
        "model_name": "mock-balanced",
        "status_code": 200,
        "prompt_tokens": usage.input_tokens,
        "cached_tokens": 0,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        # mock-balanced: $1.00 in, $4.00 out per 1M tokens
        "cost_total_usd": (usage.input_tokens + 4 * Decimal(usage.output_tokens)) / 10**6,
        "used_byok": False,
        "usage_estimated": False,
    }
    assert row.user_id == USERS[0]


def test_the_mock_streams_a_message_in_pieces_and_it_is_billed_once(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    with world.claude.messages.stream(
        model="eco", max_tokens=64, messages=[user("Stream please")]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
        headers = stream.response.headers

    assert "".join(pieces) == "Mock answer from mock-eco to: Stream please"
    assert len(pieces) > 10
    assert texts(final) == ["".join(pieces)]
    assert (final.model, final.stop_reason) == ("mock-eco", "end_turn")
    assert headers["x-switchboard-model"] == "mock-eco"
    row = usage_row(e2e_sessions, headers)
    assert (row.prompt_tokens, row.completion_tokens, row.status_code) == (
        final.usage.input_tokens,
        final.usage.output_tokens,
        200,
    )
    # mock-eco: $0.10 in, $0.40 out per 1M tokens
    expected = (row.prompt_tokens * Decimal("0.1") + row.completion_tokens * Decimal("0.4")) / 10**6
    assert row.cost_total_usd == expected


def test_the_mock_calls_the_first_tool_offered_then_answers_its_result(world: World) -> None:
    question = [user("What is the weather in Paris?")]
    first = world.claude.messages.create(
        model="balanced",
        max_tokens=64,
        system="You are a weather assistant; use the tools you are given.",
        tools=[WEATHER_TOOL],
        messages=question,
    )

    (call,) = first.content
    assert isinstance(call, ToolUseBlock)
    assert (call.name, call.input, first.stop_reason) == ("get_weather", {}, "tool_use")
    result: Any = {"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 22 °C"}
    second = world.claude.messages.create(
        model="balanced",
        max_tokens=64,
        system="You are a weather assistant; use the tools you are given.",
        tools=[WEATHER_TOOL],
        messages=[
            *question,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ],
    )
    assert texts(second) == ["Mock answer from mock-balanced to: What is the weather in Paris?"]
    assert second.stop_reason == "end_turn"


def test_a_wrong_key_is_an_authentication_error(world: World) -> None:
    with (
        claude_client(world.gateway, "sk-sb-wrong") as claude,
        pytest.raises(anthropic.AuthenticationError) as raised,
    ):
        claude.messages.create(model="balanced", max_tokens=8, messages=[user("x")])
    assert raised.value.status_code == 401
    assert raised.value.body == {
        "type": "error",
        "error": {
            "type": "authentication_error",
            "message": "Invalid, revoked or expired API key.",
        },
    }


@pytest.mark.parametrize(
    ("body", "error_class", "status", "error"),
    [
        pytest.param(
            {"model": "no-such-model", "max_tokens": 8},
            anthropic.NotFoundError,
            404,
            {"type": "not_found_error", "message": "model 'no-such-model' does not exist"},
            id="unknown-model",
        ),
        pytest.param(
            {"model": "balanced"},
            anthropic.BadRequestError,
            400,
            {
                "type": "invalid_request_error",
                "message": "max_tokens: Field required (a positive integer)",
            },
            id="missing-max-tokens",
        ),
        pytest.param(
            {"model": "balanced", "max_tokens": 8, "top_k": 5},
            anthropic.BadRequestError,
            400,
            {"type": "invalid_request_error", "message": "this gateway cannot honour `top_k`=5"},
            id="top-k",
        ),
    ],
)
def test_a_bad_request_is_the_sdks_error_and_billed_at_nothing(
    world: World,
    e2e_sessions: sessionmaker[Session],
    body: dict[str, Any],
    error_class: type[anthropic.APIStatusError],
    status: int,
    error: dict[str, str],
) -> None:
    # `post`, because `messages.create` itself refuses to send a request without max_tokens.
    with pytest.raises(error_class) as raised:
        world.claude.post("/v1/messages", cast_to=Message, body={**body, "messages": [user("x")]})

    assert raised.value.status_code == status
    assert raised.value.body == {"type": "error", "error": error}
    row = usage_row(e2e_sessions, raised.value.response.headers)
    assert (row.status_code, row.prompt_tokens, row.cost_total_usd) == (status, 0, Decimal(0))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("temperature", "hot", "temperature: must be a number"),
        ("temperature", 5, "temperature: must be between 0 and 1"),
        ("temperature", -1, "temperature: must be between 0 and 1"),
        ("temperature", True, "temperature: must be a number"),
        ("top_p", 1.5, "top_p: must be between 0 and 1"),
        ("top_k", -1, "top_k: must be at least 0"),
        ("top_k", 2.5, "top_k: must be an integer"),
        ("max_tokens", 0, "max_tokens: must be at least 1"),
        ("max_tokens", True, "max_tokens: must be an integer"),
        ("stop_sequences", "END", "stop_sequences: must be a list of strings"),
        ("stream", "yes", "stream: must be a boolean"),
        ("system", 7, "system: must be a string or a list of content blocks"),
        ("metadata", "m", "metadata: must be an object"),
        ("metadata", {"user_id": 7}, "metadata.user_id: must be a string"),
        ("messages", [{"role": "user"}], "messages.0.content: must be a string or a list of "
         "content blocks"),
    ],
)  # fmt: skip
def test_a_field_of_the_wrong_shape_is_a_400_naming_it(
    world: World, e2e_sessions: sessionmaker[Session], field: str, value: Any, message: str
) -> None:
    body = {"model": "balanced", "max_tokens": 8, "messages": [user("x")], field: value}
    with pytest.raises(anthropic.BadRequestError) as raised:
        world.claude.post("/v1/messages", cast_to=Message, body=body)

    assert raised.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
    }
    row = usage_row(e2e_sessions, raised.value.response.headers)
    assert (row.status_code, row.error_type, row.attempts) == (400, "invalid_value", 0)


def test_two_different_keys_are_a_400_and_nobody_is_billed(world: World) -> None:
    # The SDK sends its key as a bearer; something in between adds another user's x-api-key.
    other = {"x-api-key": world.keys[USERS[1]]}
    with pytest.raises(anthropic.BadRequestError) as raised:
        world.claude.messages.create(
            model="balanced", max_tokens=8, messages=[user("x")], extra_headers=other
        )

    assert raised.value.body == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "Conflicting API keys: the Authorization and x-api-key headers carry "
            "different keys. Send one key.",
        },
    }
    same = {"x-api-key": world.keys[USERS[0]]}
    message = world.claude.messages.create(
        model="balanced", max_tokens=8, messages=[user("x")], extra_headers=same
    )
    assert message.type == "message"


# A fake Anthropic provider -------------------------------------------------------------


def test_a_message_goes_to_anthropic_and_back_and_cache_reads_are_billed_cached(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    raw = world.claude.messages.with_raw_response.create(
        model=CLAUDE,
        max_tokens=100,
        system="Answer in French.",
        messages=[user("Bonjour ?")],
    )
    message = raw.parse()

    assert texts(message) == ["Hello from the fake Anthropic."]
    assert message.id.startswith("msg_fake_")
    assert (message.model, message.stop_reason) == (CLAUDE, "end_turn")
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (20, 30, 7)
    assert (raw.headers["x-switchboard-model"], raw.headers["x-switchboard-provider"]) == (
        CLAUDE,
        ANTHROPIC,
    )
    assert raw.headers["x-switchboard-key-source"] == "system"
    received = world.fake.received(CLAUDE)[-1]
    assert (received.method, received.path) == ("POST", "/v1/messages")
    assert received.headers["x-api-key"] == system_key(ANTHROPIC)
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in received.headers
    assert received.body == {
        "model": CLAUDE,
        "max_tokens": 100,
        "system": "Answer in French.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Bonjour ?"}]}],
    }
    row = usage_row(e2e_sessions, raw.headers)
    assert bill(row) == CLAUDE_BILL
    assert (row.cost_input_usd, row.cost_cached_usd, row.cost_output_usd) == (
        Decimal("0.00006"),
        Decimal("0.000009"),
        Decimal("0.000105"),
    )


def test_a_stream_from_anthropic_arrives_as_anthropic_events_with_the_real_usage(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    with world.claude.messages.stream(
        model=CLAUDE, max_tokens=100, messages=[user("Stream it")]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
        headers = stream.response.headers

    assert pieces == ["Hello from", " the fake ", "Anthropic."]
    assert final.id.startswith("msg_fake_")  # the provider's message id, kept
    assert (final.model, final.stop_reason, texts(final)) == (
        CLAUDE,
        "end_turn",
        ["Hello from the fake Anthropic."],
    )
    usage = final.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (20, 30, 7)
    received = world.fake.received(CLAUDE)[-1].body
    assert received["stream"] is True
    assert bill(usage_row(e2e_sessions, headers)) == CLAUDE_BILL


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_cache_writes_reach_the_client_and_are_billed_above_the_input_price(
    world: World, e2e_sessions: sessionmaker[Session], streamed: bool
) -> None:
    world.fake.script(CLAUDE, CACHE_WRITING)
    ask: Any = {"model": CLAUDE, "max_tokens": 100, "messages": [user("Cache this")]}
    if streamed:
        with world.claude.messages.stream(**ask) as stream:
            message = stream.get_final_message()
            headers = stream.response.headers
    else:
        raw = world.claude.messages.with_raw_response.create(**ask)
        message, headers = raw.parse(), raw.headers

    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (20, 30, 7)
    assert usage.cache_creation_input_tokens == 400
    if not streamed:  # a stream's counts come in message_delta, which has no room for the split
        assert usage.cache_creation is not None
        assert usage.cache_creation.ephemeral_5m_input_tokens == 300
        assert usage.cache_creation.ephemeral_1h_input_tokens == 100
    assert costs(usage_row(e2e_sessions, headers)) == CACHE_WRITING_BILL


def test_metadata_task_type_is_the_gateways_and_the_user_id_goes_to_anthropic(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    metadata: Any = {"user_id": "end-user-7", "task_type": "code"}
    raw = world.claude.messages.with_raw_response.create(
        model=CLAUDE, max_tokens=20, metadata=metadata, messages=[user("Refactor this")]
    )

    assert world.fake.received(CLAUDE)[-1].body["metadata"] == {"user_id": "end-user-7"}
    row = usage_row(e2e_sessions, raw.headers)
    assert (row.task_type, row.status_code) == ("code", 200)


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_tool_use_goes_round_trip_to_anthropic(world: World, streamed: bool) -> None:
    call = ToolUse("get_weather", {"city": "Paris"}, id=f"toolu_fake_{int(streamed)}")
    world.fake.script(
        TOOLS_MODEL,
        AnthropicReply(text="Let me look.", tool_uses=(call,)),
        AnthropicReply(text="It is sunny in Paris."),
    )
    question = [user("What is the weather in Paris?")]
    ask: Any = {"model": TOOLS_MODEL, "max_tokens": 200, "tools": [WEATHER_TOOL]}
    if streamed:
        with world.claude.messages.stream(**ask, messages=question) as stream:
            first = stream.get_final_message()
    else:
        first = world.claude.messages.create(**ask, messages=question)

    assert first.stop_reason == "tool_use"
    text, tool_use = first.content
    assert isinstance(text, TextBlock) and text.text == "Let me look."
    assert isinstance(tool_use, ToolUseBlock)
    assert (tool_use.id, tool_use.name, tool_use.input) == (call.id, call.name, call.input)
    result: Any = {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 22 °C"}
    answer = world.claude.messages.create(
        **ask,
        messages=[
            *question,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ],
    )
    assert texts(answer) == ["It is sunny in Paris."]
    sent = world.fake.received(TOOLS_MODEL)[-1].body
    assert sent["tools"] == [WEATHER_TOOL]
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What is the weather in Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input},
            ],
        },
        {"role": "user", "content": [result]},
    ]


def test_an_own_key_is_checked_by_listing_anthropics_models_then_used_and_billed_byok(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    owner = world.keys[USERS[1]]

    def add_own_key(secret: str) -> dict[str, Any]:
        response = httpx.post(
            f"{world.gateway.base_url}/api/v1/llm/byok/keys",
            headers={"authorization": f"Bearer {owner}"},
            json={"provider_slug": ANTHROPIC, "api_key": secret, "key_name": "mine"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        listing = world.fake.received()[-1]
        assert (listing.method, listing.path) == ("GET", "/v1/models")
        assert listing.headers["x-api-key"] == secret
        created: dict[str, Any] = response.json()
        return created

    refused = add_own_key("sk-ant-wrong-0123456789abcdef")
    assert (refused["is_validated"], refused["validation_error"]) == (
        False,
        "fake-anthropic answered 401: invalid x-api-key",
    )
    accepted = add_own_key(BYOK_SECRET)
    assert (accepted["is_validated"], accepted["validation_error"]) == (True, None)

    with claude_client(world.gateway, owner) as claude:
        raw = claude.messages.with_raw_response.create(
            model=CLAUDE, max_tokens=50, messages=[user("With my own key")]
        )
    assert texts(raw.parse()) == ["Hello from the fake Anthropic."]
    assert raw.headers["x-switchboard-key-source"] == "byok"
    assert world.fake.received(CLAUDE)[-1].headers["x-api-key"] == BYOK_SECRET
    row = usage_row(e2e_sessions, raw.headers)
    assert bill(row) == {**CLAUDE_BILL, "used_byok": True}
    assert (row.user_id, row.user_key_id) == (USERS[1], accepted["id"])


# Failures of the Anthropic provider -------------------------------------------------------


def test_an_overloaded_anthropic_falls_back_to_the_next_candidate(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    raw = world.claude.messages.with_raw_response.create(
        model="claude-overloaded",
        max_tokens=50,
        messages=[user("Anyone there?")],
        extra_body={"models": ["claude-overloaded", BACKUP]},
    )

    assert texts(raw.parse()) == ["Hello from the fake upstream."]
    assert raw.parse().model == BACKUP
    assert raw.headers["x-switchboard-model"] == BACKUP
    assert raw.headers["x-switchboard-attempts"] == "2"
    assert raw.headers["x-switchboard-route-reason"].endswith(
        "fallback after 1 failed: fake-anthropic/claude-overloaded (server_error)"
    )
    assert len(world.fake.received("claude-overloaded")) == 1
    assert outcome(usage_row(e2e_sessions, raw.headers)) == (BACKUP, 200, 2, BACKUP_COST)
    assert Decimal("0.0000135") == BACKUP_COST


def test_a_400_from_anthropic_is_the_clients_400_without_fallback(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    backup_calls = world.backup.calls(BACKUP)
    with pytest.raises(anthropic.BadRequestError) as raised:
        world.claude.messages.create(
            model="claude-rejects",
            max_tokens=50,
            messages=[user("x")],
            extra_body={"models": ["claude-rejects", BACKUP]},
        )

    assert raised.value.status_code == 400
    error = raised.value.body["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error"
    # The provider's own words, as OpenAI clients get them too.
    assert error["message"] == 'messages: roles must alternate between "user" and "assistant"'
    assert world.backup.calls(BACKUP) == backup_calls
    row = usage_row(e2e_sessions, raised.value.response.headers)
    assert (row.model_name, row.status_code, row.cost_total_usd) == (
        "claude-rejects",
        400,
        Decimal(0),
    )
