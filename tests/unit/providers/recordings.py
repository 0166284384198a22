"""The recorded Anthropic exchanges in `tests/fixtures/providers/anthropic/`, and builders
for the small made-up streams that tests state inline.

Each fixture is one JSON file: the client's request, the request the provider must receive,
the provider's answer (a JSON body, or an SSE stream as its recorded lines) and the answer
the client must get. `CREATED` is the timestamp the expected OpenAI answers carry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from switchboard.providers.anthropic_surface import OpenAIStreamToAnthropic

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers" / "anthropic"
CREATED = 1718000000

Event = tuple[str, dict[str, Any]]


def load(name: str) -> dict[str, Any]:
    value = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    assert isinstance(value, dict)
    return value


def sse_body(lines: list[str]) -> bytes:
    """The stream's bytes, as the provider sent them."""
    return ("\n".join(lines) + "\n").encode()


def sse_events(lines: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """`(event, data)` for each recorded event: what `_sse.iter_events` yields, decoded."""
    events: list[tuple[str, dict[str, Any]]] = []
    event = ""
    for line in lines:
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            events.append((event, orjson.loads(line.removeprefix("data:").strip())))
            event = ""
    return events


def with_created(chunks: list[dict[str, Any]], created: int) -> list[dict[str, Any]]:
    """The expected chunks, stamped with the time the adapter actually reported."""
    return [{**chunk, "created": created} for chunk in chunks]


def openai_chunk(
    delta: dict[str, Any], finish_reason: str | None = None, **extra: Any
) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return {"id": "chatcmpl-9", "object": "chat.completion.chunk", "choices": [choice], **extra}


def tool_call_chunk(index: int, **fields: Any) -> dict[str, Any]:
    return openai_chunk({"tool_calls": [{"index": index, **fields}]})


PARALLEL_CALLS = [
    tool_call_chunk(0, id="call_a", type="function", function={"name": "a", "arguments": '{"x":'}),
    tool_call_chunk(0, function={"arguments": "1}"}),
    tool_call_chunk(1, id="call_b", type="function", function={"name": "b", "arguments": "{}"}),
    openai_chunk({}, "tool_calls", usage={"prompt_tokens": 5, "completion_tokens": 3}),
]
"""Two tool calls, one after the other, as OpenAI streams them."""


def to_anthropic_events(chunks: list[dict[str, Any]], model: str, **options: Any) -> list[Event]:
    """Everything `OpenAIStreamToAnthropic` emits for `chunks`, `finish()` included."""
    translator = OpenAIStreamToAnthropic(model, **options)
    events = [event for chunk in chunks for event in translator.feed(chunk)]
    return events + translator.finish()
