"""Anthropic's wire format (the Messages API): a whole `message`, or the documented event
sequence — message_start (input and cache-read usage), for each content block
content_block_start, its deltas (text_delta, or the tool input as input_json_delta pieces) and
content_block_stop, a ping, then message_delta (stop reason, output tokens) and message_stop —
errors in Anthropic's format, the models list, and Anthropic's refusals: no
`anthropic-version` is a 400, an `x-api-key` it was not given a 401."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tests.fake_upstream._scripted import Scripted

API_VERSION = "2023-06-01"
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True, slots=True)
class ToolUse:
    name: str
    input: dict[str, Any]
    id: str = "toolu_fake_0"


@dataclass(frozen=True, slots=True, kw_only=True)
class AnthropicReply(Scripted):
    """What an Anthropic fake does with one call. The defaults answer `text` at once with 200."""

    text: str = "Hello from the fake Anthropic."
    tool_uses: tuple[ToolUse, ...] = ()
    """Blocks after the text (if any); the message then stops for `tool_use`."""
    input_tokens: int = 20
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    """The part of `cache_creation_input_tokens` kept for an hour."""
    output_tokens: int = 7
    chunks: int = 3
    """How many text_delta events a streamed text comes in."""


def _reply(scripted: Scripted) -> AnthropicReply:
    return scripted if isinstance(scripted, AnthropicReply) else AnthropicReply()


def _usage(reply: AnthropicReply, output_tokens: int) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": reply.input_tokens,
        "cache_creation_input_tokens": reply.cache_creation_input_tokens,
        "cache_read_input_tokens": reply.cache_read_input_tokens,
        "output_tokens": output_tokens,
    }
    if reply.cache_creation_input_tokens:
        one_hour = reply.cache_creation_1h_input_tokens
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": reply.cache_creation_input_tokens - one_hour,
            "ephemeral_1h_input_tokens": one_hour,
        }
    return usage


def _stop_reason(reply: AnthropicReply) -> str:
    return "tool_use" if reply.tool_uses else "end_turn"


def _message(reply: AnthropicReply, model: str, message_id: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    content += [
        {"type": "tool_use", "id": tool.id, "name": tool.name, "input": tool.input}
        for tool in reply.tool_uses
    ]
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(reply),
        "stop_sequence": None,
        "usage": _usage(reply, reply.output_tokens),
    }


def _event(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return kind, {"type": kind, **fields}


def _events(
    reply: AnthropicReply, model: str, message_id: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    start = {**_message(reply, model, message_id), "content": [], "stop_reason": None}
    yield _event("message_start", message={**start, "usage": _usage(reply, 1)})
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if reply.text:
        size = -(-len(reply.text) // max(1, reply.chunks))
        pieces = [reply.text[i : i + size] for i in range(0, len(reply.text), size)]
        deltas = [{"type": "text_delta", "text": piece} for piece in pieces]
        blocks.append(({"type": "text", "text": ""}, deltas))
    for tool in reply.tool_uses:
        arguments = orjson.dumps(tool.input).decode()
        half = len(arguments) // 2
        deltas = [
            {"type": "input_json_delta", "partial_json": part}
            for part in ("", arguments[:half], arguments[half:])
        ]
        blocks.append(({"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}}, deltas))
    for index, (block, deltas) in enumerate(blocks):
        yield _event("content_block_start", index=index, content_block=block)
        if index == 0:
            yield _event("ping")
        for delta in deltas:
            yield _event("content_block_delta", index=index, delta=delta)
        yield _event("content_block_stop", index=index)
    stop = {"stop_reason": _stop_reason(reply), "stop_sequence": None}
    yield _event("message_delta", delta=stop, usage={"output_tokens": reply.output_tokens})
    yield _event("message_stop")


def _encoded(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


class AnthropicFormat:
    def default_reply(self) -> Scripted:
        return AnthropicReply()

    def refusal(
        self, headers: Mapping[str, str], api_keys: frozenset[str] | None
    ) -> tuple[int, str, str | None] | None:
        if headers.get("anthropic-version") != API_VERSION:
            return 400, "anthropic-version: header is required", None
        if api_keys is not None and headers.get("x-api-key") not in api_keys:
            return 401, "invalid x-api-key", None
        return None

    def answer(self, scripted: Scripted, body: dict[str, Any], answer_id: int) -> dict[str, Any]:
        return _message(_reply(scripted), str(body.get("model")), f"msg_fake_{answer_id}")

    def events(self, scripted: Scripted, body: dict[str, Any], answer_id: int) -> list[bytes]:
        events = _events(_reply(scripted), str(body.get("model")), f"msg_fake_{answer_id}")
        return [_encoded(name, data) for name, data in events]

    def closing(self, scripted: Scripted) -> bytes:
        return b""

    def error(self, status: int, message: str, code: str | None) -> dict[str, Any]:
        error = {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}
        return {"type": "error", "error": error, "request_id": "req_fake"}

    def error_event(self, error: dict[str, Any]) -> bytes:
        return _encoded("error", error)

    def listing(self, models: list[str]) -> dict[str, Any]:
        data = [{"type": "model", "id": name, "display_name": name} for name in models]
        return {"data": data, "has_more": False, "first_id": None, "last_id": None}
