"""The official `anthropic` SDK reading what the gateway's `/v1/messages` would send it: the
translated answers, streams and errors served by a real local HTTP server to a real
`AsyncAnthropic` client, whose own parsing and stream accumulation must accept them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anthropic
import orjson
import pytest
from anthropic.types import Message, MessageParam

from switchboard.providers._sse import encode_event
from switchboard.providers.anthropic_surface import (
    anthropic_error_body,
    openai_response_to_anthropic,
)
from tests.fake_upstream import FakeUpstream, Scripted, json_reply, stream_reply
from tests.unit.providers.recordings import (
    PARALLEL_CALLS,
    Event,
    load,
    openai_chunk,
    to_anthropic_events,
)

HELLO: list[MessageParam] = [{"role": "user", "content": "Hello"}]


def sse_reply(events: list[Event]) -> Scripted:
    return stream_reply(b"".join(encode_event(orjson.dumps(data), name) for name, data in events))


def with_sdk(reply: Scripted, use: Callable[[anthropic.AsyncAnthropic], Any]) -> Any:
    """What `use` gets from the official SDK client talking to a server answering `reply`."""

    async def main() -> Any:
        async with FakeUpstream(default=reply).serving() as fake:
            client = anthropic.AsyncAnthropic(base_url=fake.url, api_key="sk-sb-t", max_retries=0)
            async with client:
                return await use(client)

    return asyncio.run(main())


async def final_message(client: anthropic.AsyncAnthropic) -> Message:
    async with client.messages.stream(model="balanced", max_tokens=64, messages=HELLO) as stream:
        return await stream.get_final_message()


def test_the_anthropic_sdk_accumulates_a_translated_stream() -> None:
    recording = load("surface_stream")
    events = to_anthropic_events(recording["openai_chunks"], recording["served_model"])

    message: Message = with_sdk(sse_reply(events), final_message)

    assert [block.to_dict() for block in message.content] == [
        {"type": "text", "text": "It is 18°C."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"location": "Paris"}},
    ]
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (82, 17)
    assert message.id == "msg_C1x" and message.model == "gpt-4o-mini"


def test_the_anthropic_sdk_accepts_a_stream_with_no_content() -> None:
    message: Message = with_sdk(sse_reply(to_anthropic_events([], "gpt-4o-mini")), final_message)
    assert message.content == [] and message.stop_reason == "end_turn"


def test_the_anthropic_sdk_reads_a_translated_answer() -> None:
    recording = load("surface_tool_use")
    answer = openai_response_to_anthropic(recording["openai_response"], recording["served_model"])

    async def create(client: anthropic.AsyncAnthropic) -> Message:
        return await client.messages.create(model="balanced", max_tokens=64, messages=HELLO)

    message: Message = with_sdk(json_reply(answer), create)

    assert message.to_dict() == recording["anthropic_response"]


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, anthropic.BadRequestError),
        (401, anthropic.AuthenticationError),
        (403, anthropic.PermissionDeniedError),
        (404, anthropic.NotFoundError),
        (413, anthropic.RequestTooLargeError),
        (429, anthropic.RateLimitError),
        (500, anthropic.InternalServerError),
        (529, anthropic.OverloadedError),
    ],
)
def test_the_anthropic_sdk_raises_its_own_error_for_each_status(
    status: int, error_class: type[anthropic.APIStatusError]
) -> None:
    body = anthropic_error_body(status, "It went wrong.")

    async def create(client: anthropic.AsyncAnthropic) -> Message:
        return await client.messages.create(model="balanced", max_tokens=64, messages=HELLO)

    with pytest.raises(error_class) as raised:
        with_sdk(json_reply(body, status=status), create)

    assert raised.value.status_code == status
    assert raised.value.body == body


def test_an_error_event_mid_stream_reaches_the_sdk_as_an_error() -> None:
    head = to_anthropic_events(
        [openai_chunk({"role": "assistant", "content": "Hel"})], "gpt-4o-mini"
    )[:3]
    events = [*head, ("error", anthropic_error_body(529, "Overloaded"))]

    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        with_sdk(sse_reply(events), final_message)


def test_the_anthropic_sdk_accumulates_parallel_tool_calls() -> None:
    events = to_anthropic_events(PARALLEL_CALLS, "m")

    message: Message = with_sdk(sse_reply(events), final_message)

    assert [block.to_dict() for block in message.content] == [
        {"type": "tool_use", "id": "call_a", "name": "a", "input": {"x": 1}},
        {"type": "tool_use", "id": "call_b", "name": "b", "input": {}},
    ]
    assert message.stop_reason == "tool_use"
