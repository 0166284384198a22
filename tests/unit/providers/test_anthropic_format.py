"""Provider direction, pure: OpenAI requests to Anthropic's, Anthropic answers and streams to
OpenAI's, checked against the recorded fixtures and against the official `openai` SDK's own
types and stream accumulator."""

from __future__ import annotations

from typing import Any

import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from switchboard.providers.anthropic_format import (
    DEFAULT_MAX_TOKENS,
    AnthropicErrorType,
    AnthropicStreamToOpenAI,
    FinishReason,
    StopReason,
    UnsupportedParameterError,
    anthropic_error_to_openai,
    anthropic_response_to_openai,
    openai_request_to_anthropic,
)
from switchboard.providers.base import ErrorKind, UpstreamError
from tests.unit.providers.recordings import CREATED, load, sse_events

MODEL = "claude-sonnet-4-20250514"
HELLO = [{"role": "user", "content": "Hello"}]


def translate(**body: Any) -> dict[str, Any]:
    return openai_request_to_anthropic({"messages": HELLO, **body}, MODEL)


def stream(recording: dict[str, Any]) -> list[dict[str, Any]]:
    translator = AnthropicStreamToOpenAI(MODEL, created=CREATED)
    return [
        chunk
        for event, data in sse_events(recording["sse"])
        for chunk in translator.feed(event, data)
    ]


@pytest.mark.parametrize("name", ["text", "tool_use", "vision", "stream_text", "stream_tool_use"])
def test_requests_translate_as_recorded(name: str) -> None:
    recording = load(name)
    assert (
        openai_request_to_anthropic(recording["openai_request"], MODEL)
        == recording["anthropic_request"]
    )


@pytest.mark.parametrize("name", ["text", "tool_use"])
def test_responses_translate_as_recorded(name: str) -> None:
    recording = load(name)
    answer = anthropic_response_to_openai(recording["anthropic_response"], created=CREATED)
    assert answer == recording["openai_response"]
    ChatCompletion.model_validate(answer)


@pytest.mark.parametrize("name", ["stream_text", "stream_tool_use"])
def test_streams_translate_as_recorded(name: str) -> None:
    recording = load(name)
    assert stream(recording) == recording["openai_chunks"]


def test_the_openai_sdk_accumulates_a_translated_stream_into_the_whole_answer() -> None:
    recording = load("stream_tool_use")
    state: ChatCompletionStreamState[object] = ChatCompletionStreamState()
    for chunk in stream(recording):
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    final = state.get_final_completion()

    [choice] = final.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Okay, let's check the weather for San Francisco, CA:"
    [call] = choice.message.tool_calls or []
    assert call.id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert call.function.name == "get_weather"
    assert call.function.arguments == '{"location": "San Francisco, CA"}'
    assert final.usage is not None and final.usage.prompt_tokens == 472 + 64


def test_stream_reports_usage_once_at_the_end_with_running_totals() -> None:
    translator = AnthropicStreamToOpenAI(MODEL, created=CREATED)
    start = {"id": "msg_1", "model": MODEL, "usage": {"input_tokens": 10, "output_tokens": 1}}
    assert len(translator.feed("message_start", {"message": start})) == 1
    translator.feed(
        "message_delta", {"delta": {"stop_reason": None}, "usage": {"output_tokens": 5}}
    )
    translator.feed(
        "message_delta",
        {"delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 9, "input_tokens": 12}},
    )
    finish, usage = translator.feed("message_stop", {"type": "message_stop"})

    assert finish["choices"][0]["finish_reason"] == "length"
    assert usage["choices"] == []
    assert usage["usage"]["prompt_tokens"] == 12 and usage["usage"]["completion_tokens"] == 9
    assert translator.finished


def test_stream_ignores_what_openai_has_no_place_for() -> None:
    translator = AnthropicStreamToOpenAI(MODEL, created=CREATED)
    translator.feed("message_start", {"message": {"id": "msg_1"}})
    ignored: list[tuple[str, dict[str, Any]]] = [
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {"index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        ),
        (
            "content_block_delta",
            {"index": 0, "delta": {"type": "thinking_delta", "thinking": "Hm"}},
        ),
        (
            "content_block_delta",
            {"index": 0, "delta": {"type": "signature_delta", "signature": "x"}},
        ),
        ("content_block_stop", {"index": 0}),
        ("", {"type": "a_future_event", "detail": 1}),
    ]
    assert [translator.feed(event, data) for event, data in ignored] == [[]] * len(ignored)
    assert not translator.finished


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("overloaded_error", ErrorKind.SERVER_ERROR),
        ("api_error", ErrorKind.SERVER_ERROR),
        ("rate_limit_error", ErrorKind.RATE_LIMITED),
        ("invalid_request_error", ErrorKind.BAD_REQUEST),
        ("authentication_error", ErrorKind.AUTHENTICATION),
        ("not_found_error", ErrorKind.NOT_FOUND),
        ("timeout_error", ErrorKind.TIMEOUT),
        ("a_new_error", ErrorKind.SERVER_ERROR),
    ],
)
def test_an_error_event_raises_by_its_type(error_type: str, kind: ErrorKind) -> None:
    translator = AnthropicStreamToOpenAI(MODEL, created=CREATED, source="anthropic-eu")
    data = {"type": "error", "error": {"type": error_type, "message": "Nope"}}
    with pytest.raises(UpstreamError) as raised:
        translator.feed("error", data)
    assert raised.value.kind is kind
    assert raised.value.message == f"anthropic-eu failed mid-stream: {error_type}: Nope"
    assert raised.value.body == anthropic_error_to_openai(data)


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("something_new", "stop"),
        (None, "stop"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop_reason: str | None, finish_reason: str) -> None:
    body: dict[str, Any] = {
        "id": "msg_1",
        "model": MODEL,
        "content": [],
        "stop_reason": stop_reason,
    }
    answer = anthropic_response_to_openai(body, created=CREATED)
    assert answer["choices"][0]["finish_reason"] == finish_reason
    assert finish_reason in set(FinishReason)


def test_every_stop_reason_is_mapped_explicitly_or_falls_back() -> None:
    assert {str(reason) for reason in StopReason} >= {"end_turn", "max_tokens", "tool_use"}
    assert "overloaded_error" in set(AnthropicErrorType)


def test_an_answer_of_only_tool_calls_has_null_content() -> None:
    body = {
        "id": "msg_1",
        "model": MODEL,
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}],
        "stop_reason": "tool_use",
    }
    message = anthropic_response_to_openai(body, created=CREATED)["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0]["function"]["arguments"] == "{}"


def test_an_empty_answer_has_empty_content() -> None:
    body = {"id": "msg_1", "model": MODEL, "content": [], "stop_reason": "end_turn"}
    answer = anthropic_response_to_openai(body, created=CREATED)
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": ""}
    assert answer["usage"]["total_tokens"] == 0


def test_anthropic_requires_max_tokens() -> None:
    assert translate()["max_tokens"] == DEFAULT_MAX_TOKENS
    assert translate(max_tokens=10)["max_tokens"] == 10
    assert translate(max_tokens=10, max_completion_tokens=20)["max_tokens"] == 20


def user_turn(*texts: str) -> dict[str, Any]:
    """One Anthropic user turn of text blocks, as consecutive user messages are joined."""
    return {"role": "user", "content": [{"type": "text", "text": text} for text in texts]}


def test_system_messages_anywhere_join_the_system_prompt() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "Again"},
    ]
    request = openai_request_to_anthropic({"messages": messages}, MODEL)
    assert request["system"] == "Be brief.\n\nAnswer in French."
    assert request["messages"] == [user_turn("Hi", "Again")]


def test_empty_turns_are_left_out() -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Hm"}]},
    ]
    request = openai_request_to_anthropic({"messages": messages}, MODEL)
    assert request["messages"] == [user_turn("Hi", "Hm")]


def test_a_refusal_in_history_is_kept_as_the_assistant_words() -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't help."}]},
    ]
    request = openai_request_to_anthropic({"messages": messages}, MODEL)
    assert request["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "I can't help."}],
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"tool_choice": "auto"}, {"type": "auto"}),
        ({"tool_choice": "none"}, {"type": "none"}),
        ({"tool_choice": "required"}, {"type": "any"}),
        (
            {"tool_choice": {"type": "function", "function": {"name": "f"}}},
            {"type": "tool", "name": "f"},
        ),
        ({"parallel_tool_calls": False}, {"type": "auto", "disable_parallel_tool_use": True}),
        ({"tool_choice": "none", "parallel_tool_calls": False}, {"type": "none"}),
        ({"parallel_tool_calls": True}, None),
    ],
)
def test_tool_choice(body: dict[str, Any], expected: dict[str, Any] | None) -> None:
    assert translate(**body).get("tool_choice") == expected


def test_strict_tools_stay_strict() -> None:
    tool = {"type": "function", "function": {"name": "f", "strict": True}}
    assert translate(tools=[tool])["tools"] == [
        {"name": "f", "input_schema": {"type": "object", "properties": {}}, "strict": True}
    ]


def test_user_and_safety_identifier_become_the_metadata_user_id() -> None:
    assert translate(user="u1")["metadata"] == {"user_id": "u1"}
    assert translate(user="u1", safety_identifier="s1")["metadata"] == {"user_id": "s1"}


def test_parameters_that_ask_for_nothing_are_accepted() -> None:
    request = translate(
        n=1, presence_penalty=0, frequency_penalty=0, logprobs=False, top_logprobs=0,
        logit_bias={}, seed=None, store=False, metadata={}, service_tier="auto",
        modalities=["text"], response_format={"type": "text"}, prompt_cache_key="k",
    )  # fmt: skip
    assert request == {
        "model": MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "max_tokens": DEFAULT_MAX_TOKENS,
    }


UNSUPPORTED = [
    ({"n": 2}, "n"),
    ({"seed": 7}, "seed"),
    ({"presence_penalty": 0.5}, "presence_penalty"),
    ({"frequency_penalty": -1}, "frequency_penalty"),
    ({"logprobs": True}, "logprobs"),
    ({"top_logprobs": 2}, "top_logprobs"),
    ({"logit_bias": {"50256": -100}}, "logit_bias"),
    ({"reasoning_effort": "low"}, "reasoning_effort"),
    ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
    ({"modalities": ["text", "audio"]}, "modalities"),
    ({"service_tier": "flex"}, "service_tier"),
    ({"store": True}, "store"),
    ({"a_parameter_from_the_future": 1}, "a_parameter_from_the_future"),
    ({"temperature": 1.5}, "temperature"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "response_format"),
    ({"tool_choice": "sometimes"}, "tool_choice"),
    ({"tools": [{"type": "custom", "custom": {"name": "grammar"}}]}, "tools[0]"),
    ({"messages": [{"role": "function", "name": "f", "content": "1"}]}, "messages[0].role"),
    (
        {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
        "messages[0].content[0]",
    ),
    (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}],
                }
            ]
        },
        "messages[0].content[0]",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}
            ]
        },
        "messages[0].content[0]",
    ),
    (
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{oops"},
                        }
                    ],
                }
            ]
        },
        "messages[0].tool_calls[0].function.arguments",
    ),
    ({"messages": "Hello"}, "messages"),
]


@pytest.mark.parametrize(("body", "param"), UNSUPPORTED, ids=[param for _, param in UNSUPPORTED])
def test_what_anthropic_cannot_honour_is_rejected_by_name(body: dict[str, Any], param: str) -> None:
    with pytest.raises(UnsupportedParameterError) as raised:
        translate(**body)
    error = raised.value
    assert error.param == param
    assert error.kind is ErrorKind.UNSUPPORTED and not error.retryable
    assert error.body == {
        "error": {
            "message": error.message,
            "type": "invalid_request_error",
            "param": param,
            "code": "unsupported_parameter",
        }
    }
    assert f"`{param}`" in error.message


def test_anthropic_error_bodies_become_openai_error_objects() -> None:
    body = {"type": "error", "error": {"type": "not_found_error", "message": "model: x"}}
    assert anthropic_error_to_openai(body) == {
        "error": {"message": "model: x", "type": "not_found_error", "param": None, "code": None}
    }
    assert anthropic_error_to_openai(None) is None
    assert anthropic_error_to_openai({"detail": "nope"}) is None
