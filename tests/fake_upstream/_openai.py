"""OpenAI's wire format: Chat Completions answers, chunks with the usage in a last chunk when
`stream_options.include_usage` asks for it, `[DONE]`, errors and the models list."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tests.fake_upstream._scripted import Scripted


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: str
    id: str = "call_fake_0"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply(Scripted):
    """What an OpenAI-compatible fake does with one call. The defaults answer `text` at once
    with 200."""

    text: str = "Hello from the fake upstream."
    tool_calls: tuple[ToolCall, ...] = ()
    prompt_tokens: int = 12
    completion_tokens: int = 5
    cached_tokens: int = 0
    report_usage: bool = True
    chunks: int = 4
    """How many pieces a streamed text answer comes in."""
    send_done: bool = True
    """False: a stream ends after its finish reason (and usage) without `[DONE]`, as older
    vLLM and Ollama versions do."""


def _reply(scripted: Scripted) -> Reply:
    return scripted if isinstance(scripted, Reply) else Reply()


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
    }


def _deltas(reply: Reply) -> list[dict[str, Any]]:
    if reply.tool_calls:
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": None}]
        for index, call in enumerate(reply.tool_calls):
            head = {"index": index, "id": call.id, "type": "function"}
            deltas.append(
                {"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]}
            )
            half = len(call.arguments) // 2
            for part in (call.arguments[:half], call.arguments[half:]):
                deltas.append({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
        return deltas
    size = max(1, -(-len(reply.text) // max(1, reply.chunks)))
    parts = [reply.text[i : i + size] for i in range(0, len(reply.text), size)] or [""]
    return [{"role": "assistant", "content": parts[0]}] + [{"content": p} for p in parts[1:]]


def _data(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class OpenAIFormat:
    def default_reply(self) -> Scripted:
        return Reply()

    def refusal(
        self, headers: Mapping[str, str], api_keys: frozenset[str] | None
    ) -> tuple[int, str, str | None] | None:
        key = headers.get("authorization", "").removeprefix("Bearer ")
        if api_keys is None or key in api_keys:
            return None
        return 401, f"Incorrect API key provided: {key}.", "invalid_api_key"

    def answer(self, scripted: Scripted, body: dict[str, Any], answer_id: int) -> dict[str, Any]:
        reply = _reply(scripted)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        finish_reason = "stop"
        if reply.tool_calls:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for call in reply.tool_calls
                ],
            }
            finish_reason = "tool_calls"
        answer: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        }
        if reply.report_usage:
            answer["usage"] = _usage(reply)
        return answer

    def events(self, scripted: Scripted, body: dict[str, Any], answer_id: int) -> list[bytes]:
        reply = _reply(scripted)
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model"),
        }
        chunks = [
            {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            for delta in _deltas(reply)
        ]
        finish_reason = "tool_calls" if reply.tool_calls else "stop"
        last = {"index": 0, "delta": {}, "finish_reason": finish_reason}
        chunks.append({**base, "choices": [last]})
        options = body.get("stream_options") or {}
        if reply.report_usage and options.get("include_usage"):
            chunks.append({**base, "choices": [], "usage": _usage(reply)})
        return [_data(chunk) for chunk in chunks]

    def closing(self, scripted: Scripted) -> bytes:
        return b"data: [DONE]\n\n" if _reply(scripted).send_done else b""

    def error(self, status: int, message: str, code: str | None) -> dict[str, Any]:
        return {
            "error": {
                "message": message,
                "type": "invalid_request_error" if status < 500 else "server_error",
                "param": None,
                "code": code,
            }
        }

    def error_event(self, error: dict[str, Any]) -> bytes:
        return _data(error)

    def listing(self, models: list[str]) -> dict[str, Any]:
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "fake"} for name in models
        ]
        return {"object": "list", "data": data}
