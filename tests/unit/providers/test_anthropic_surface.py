"""Client direction, pure: Anthropic SDK clients served by any provider. Translations are
checked against the recorded fixtures and the SDK's own event types, and round trips keep a
request's meaning. `test_anthropic_sdk` runs the official SDK itself against the output."""

from __future__ import annotations

from typing import Any

import pytest
from anthropic.types import Message, MessageParam, RawMessageStreamEvent
from pydantic import TypeAdapter

from switchboard.providers.anthropic_format import (
    UnsupportedParameterError,
    anthropic_response_to_openai,
    openai_request_to_anthropic,
)
from switchboard.providers.anthropic_surface import (
    anthropic_error_body,
    anthropic_request_to_openai,
    openai_error_to_anthropic,
    openai_response_to_anthropic,
)
from switchboard.providers.base import ErrorKind, UpstreamError
from tests.unit.providers.recordings import (
    CREATED,
    PARALLEL_CALLS,
    load,
    openai_chunk,
    to_anthropic_events,
)

STREAM_EVENT: TypeAdapter[RawMessageStreamEvent] = TypeAdapter(RawMessageStreamEvent)
HELLO: list[MessageParam] = [{"role": "user", "content": "Hello"}]


def test_requests_translate_as_recorded() -> None:
    recording = load("surface_tool_use")
    assert (
        anthropic_request_to_openai(recording["anthropic_request"]) == recording["openai_request"]
    )


def test_responses_translate_as_recorded() -> None:
    recording = load("surface_tool_use")
    message = openai_response_to_anthropic(recording["openai_response"], recording["served_model"])
    assert message == recording["anthropic_response"]
    Message.model_validate(message)


def test_streams_translate_as_recorded_into_valid_events() -> None:
    recording = load("surface_stream")
    events = to_anthropic_events(recording["openai_chunks"], recording["served_model"])
    assert [list(event) for event in events] == recording["anthropic_events"]
    for name, data in events:
        assert STREAM_EVENT.validate_python(data).type == name


ROUND_TRIPS = [
    {
        "model": "claude-sonnet-4-20250514",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_tokens": 100,
    },
    {
        "model": "balanced",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this, and what's the weather there?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/a.jpg"},
                    },
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": "JVBE",
                        },
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Paris. Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "weather",
                        "input": {"city": "Paris", "days": [1, 2]},
                    },
                    {"type": "tool_use", "id": "toolu_2", "name": "time", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18 degrees"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "Error: no clock"},
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        "max_tokens": 512,
        "system": "Be brief.",
        "temperature": 0.3,
        "top_p": 0.8,
        "stop_sequences": ["END", "###"],
        "tools": [
            {
                "name": "weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                "description": "Weather by city",
                "strict": True,
            },
            {"name": "time", "input_schema": {"type": "object", "properties": {}}},
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "metadata": {"user_id": "u-1"},
        "stream": True,
    },
    {
        "model": "balanced",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_tokens": 1,
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "f"},
    },
]


@pytest.mark.parametrize("request_body", ROUND_TRIPS, ids=["minimal", "full", "forced_tool"])
def test_an_anthropic_request_survives_the_round_trip_through_openai(
    request_body: dict[str, Any],
) -> None:
    openai = anthropic_request_to_openai(request_body)
    assert openai_request_to_anthropic(openai, request_body["model"]) == request_body


@pytest.mark.parametrize("name", ["text", "tool_use"])
def test_an_anthropic_answer_survives_the_round_trip_through_openai(name: str) -> None:
    original = load(name)["anthropic_response"]
    openai = anthropic_response_to_openai(original, created=CREATED)
    again = openai_response_to_anthropic(openai, original["model"])

    assert again["content"] == original["content"]
    assert again["stop_reason"] == original["stop_reason"]
    assert again["id"] == original["id"]

    def total_input(usage: dict[str, int]) -> int:
        return sum(
            usage[k]
            for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        )

    assert total_input(again["usage"]) == total_input(original["usage"])
    assert again["usage"]["cache_read_input_tokens"] == original["usage"]["cache_read_input_tokens"]
    assert again["usage"]["output_tokens"] == original["usage"]["output_tokens"]


def test_user_blocks_keep_their_order_around_tool_results() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Before"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "is_error": True,
                        "content": [{"type": "text", "text": "boom"}],
                    },
                    {"type": "text", "text": "After"},
                    {"type": "text", "text": "And more", "cache_control": {"type": "ephemeral"}},
                ],
            }
        ]
    }
    assert anthropic_request_to_openai(body)["messages"] == [
        {"role": "user", "content": "Before"},
        {"role": "tool", "tool_call_id": "t1", "content": "Error: boom"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "After"}, {"type": "text", "text": "And more"}],
        },
    ]


def test_parameters_that_ask_for_nothing_are_accepted() -> None:
    body = {
        "model": "m",
        "messages": HELLO,
        "top_k": None,
        "thinking": {"type": "disabled"},
        "service_tier": "standard_only",
        "cache_control": {"type": "ephemeral"},
        "stream": False,
    }
    assert anthropic_request_to_openai(body) == {"model": "m", "messages": HELLO}


UNSUPPORTED = [
    ({"top_k": 40}, "top_k"),
    ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "thinking"),
    ({"output_config": {"format": {"type": "json_schema", "schema": {}}}}, "output_config"),
    ({"container": "container_1"}, "container"),
    ({"mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]}, "mcp_servers"),
    ({"a_parameter_from_the_future": True}, "a_parameter_from_the_future"),
    ({"metadata": {"user_id": "u", "team": "t"}}, "metadata"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0]"),
    ({"tools": [{"name": "f", "input_schema": {}, "input_examples": [{}]}]}, "tools[0]"),
    ({"tool_choice": {"type": "sometimes"}}, "tool_choice"),
    ({"system": [{"type": "image", "source": {}}]}, "system[0]"),
    ({"messages": [{"role": "system", "content": "Hi"}]}, "messages[0].role"),
    (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                }
            ]
        },
        "messages[0].content[0]",
    ),
    (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "document", "source": {"type": "url", "url": "https://x"}}
                    ],
                }
            ]
        },
        "messages[0].content[0]",
    ),
    (
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [{"type": "thinking", "thinking": "Hm", "signature": "s"}],
                }
            ]
        },
        "messages[0].content[0]",
    ),
    (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t",
                            "content": [{"type": "image", "source": {}}],
                        }
                    ],
                }
            ]
        },
        "messages[0].content[0].content[0]",
    ),
    ({"messages": None}, "messages"),
]


@pytest.mark.parametrize(("body", "param"), UNSUPPORTED, ids=[param for _, param in UNSUPPORTED])
def test_what_the_openai_format_cannot_carry_is_rejected_by_name(
    body: dict[str, Any], param: str
) -> None:
    with pytest.raises(UnsupportedParameterError) as raised:
        anthropic_request_to_openai({"model": "m", "messages": HELLO, "max_tokens": 5, **body})
    assert raised.value.param == param
    assert f"`{param}`" in raised.value.message
    assert raised.value.body is not None and raised.value.body["error"]["param"] == param


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        ("something_new", "end_turn"),
        (None, "end_turn"),
    ],
)
def test_finish_reasons_map_to_stop_reasons(finish_reason: str | None, stop_reason: str) -> None:
    body = {
        "id": "chatcmpl-1",
        "choices": [{"message": {"content": "Hi"}, "finish_reason": finish_reason}],
    }
    assert openai_response_to_anthropic(body, "m")["stop_reason"] == stop_reason
    events = to_anthropic_events([openai_chunk({"content": "Hi"}, finish_reason)], "m")
    assert events[-2][1]["delta"]["stop_reason"] == stop_reason


def test_usage_splits_cached_input_out_of_input_tokens() -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 30},
    }
    answer = openai_response_to_anthropic({"id": "x", "choices": [], "usage": usage}, "m")
    assert answer["usage"] == {
        "input_tokens": 70,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 30,
        "output_tokens": 7,
    }
    assert answer["content"] == [] and answer["id"] == "msg_x"


def test_an_answer_without_an_id_gets_a_fresh_message_id() -> None:
    first = openai_response_to_anthropic({"choices": []}, "m")["id"]
    second = openai_response_to_anthropic({"choices": []}, "m")["id"]
    assert first.startswith("msg_") and second.startswith("msg_") and first != second


def test_a_refusal_and_content_parts_become_text() -> None:
    refusal = {
        "choices": [{"message": {"content": None, "refusal": "No."}, "finish_reason": "stop"}]
    }
    parts = {
        "choices": [
            {"message": {"content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]}}
        ]
    }
    assert openai_response_to_anthropic(refusal, "m")["content"] == [
        {"type": "text", "text": "No."}
    ]
    assert openai_response_to_anthropic(parts, "m")["content"] == [{"type": "text", "text": "AB"}]


def test_tool_arguments_that_are_not_an_object_are_the_providers_error() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1,"}}
    body = {
        "choices": [
            {"message": {"content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}
        ]
    }
    with pytest.raises(UpstreamError) as raised:
        openai_response_to_anthropic(body, "m")
    assert raised.value.kind is ErrorKind.PROTOCOL


def test_parallel_tool_calls_stream_as_separate_blocks() -> None:
    events = to_anthropic_events(PARALLEL_CALLS, "m", message_id="msg_given", input_tokens=4)
    for name, data in events:
        assert STREAM_EVENT.validate_python(data).type == name
    assert [(name, data.get("index")) for name, data in events] == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("message_delta", None),
        ("message_stop", None),
    ]
    start = events[0][1]["message"]
    assert (start["id"], start["usage"]["input_tokens"]) == ("msg_given", 4)
    assert events[-2][1]["usage"]["input_tokens"] == 5


def test_a_streamed_refusal_is_text() -> None:
    events = to_anthropic_events([openai_chunk({"refusal": "I can't."}, "stop")], "m")
    assert events[2][1]["delta"] == {"type": "text_delta", "text": "I can't."}


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (418, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (503, "api_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
    ],
)
def test_error_bodies_take_their_type_from_the_status(status: int, error_type: str) -> None:
    assert anthropic_error_body(status, "Why") == {
        "type": "error",
        "error": {"type": error_type, "message": "Why"},
    }


def test_openai_errors_become_anthropic_errors() -> None:
    body = {"error": {"message": "Rate limited", "type": "rate_limit_error", "code": None}}
    assert openai_error_to_anthropic(body, 429) == anthropic_error_body(429, "Rate limited")
    assert openai_error_to_anthropic({"detail": "?"}, 502) == anthropic_error_body(502, "HTTP 502")
