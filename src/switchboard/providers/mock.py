"""The built-in mock provider: deterministic answers with no network, for demos and tests.

Its behaviour comes from the provider's `config` (a JSON object in the catalog):
`reply` (the answer's text; default: a sentence naming the model and echoing the question),
`latency_ms` (before the answer), `chunks` (how many pieces a stream has, default 16),
`chunk_delay_ms` (between pieces), `fail_status` (answer with this HTTP status instead),
`fail_after_chunks` (a stream breaks after this many pieces), `retry_after_s` (sent with a
429), `tool_arguments` (JSON text of a tool call's arguments, default "{}"). When the request
offers tools and does not forbid them, the mock calls the first (or the required) tool.
It honours `n`: that many choices (the same answer, as it is deterministic), indexed from 0,
streamed side by side, with the usage counting every one of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from switchboard.providers import _http
from switchboard.providers.base import JSON, Completion, ErrorKind, Upstream, UpstreamError, Usage


class MockAdapter:
    async def complete(
        self, session: aiohttp.ClientSession, upstream: Upstream, body: JSON
    ) -> Completion:
        message, finish_reason = await _respond(upstream, body)
        choices = _choices(body)
        usage = _usage(body, message, choices)
        answer = {
            **_envelope(upstream, "chat.completion"),
            "choices": [
                {"index": index, "message": message, "finish_reason": finish_reason}
                for index in range(choices)
            ],
            "usage": usage.to_openai(),
        }
        return Completion(body=answer, usage=usage)

    async def stream(
        self, session: aiohttp.ClientSession, upstream: Upstream, body: JSON
    ) -> AsyncIterator[JSON]:
        config = upstream.config
        message, finish_reason = await _respond(upstream, body)
        base = _envelope(upstream, "chat.completion.chunk")
        fail_after = config.get("fail_after_chunks")
        choices = range(_choices(body))
        for sent, delta in enumerate(_deltas(message, int(config.get("chunks", 16)))):
            if fail_after is not None and sent >= int(fail_after):
                raise UpstreamError(ErrorKind.PROTOCOL, "mock stream broken on purpose")
            if sent:
                await _sleep_ms(config.get("chunk_delay_ms"))
            for index in choices:
                choice = {"index": index, "delta": delta, "finish_reason": None}
                yield {**base, "choices": [choice]}
        for index in choices:
            choice = {"index": index, "delta": {}, "finish_reason": finish_reason}
            yield {**base, "choices": [choice]}
        yield {**base, "choices": [], "usage": _usage(body, message, len(choices)).to_openai()}

    async def list_models(self, session: aiohttp.ClientSession, upstream: Upstream) -> list[str]:
        _maybe_fail(upstream)
        return list(upstream.config.get("models") or [upstream.model])


async def _respond(upstream: Upstream, body: JSON) -> tuple[JSON, str]:
    """The answer and its finish reason, after the configured latency; or the configured
    failure."""
    await _sleep_ms(upstream.config.get("latency_ms"))
    _maybe_fail(upstream)
    return _answer(upstream, body)


def _envelope(upstream: Upstream, kind: str) -> JSON:
    """The fields an answer and each of a stream's chunks begin with."""
    return {
        "id": f"chatcmpl-mock-{time.monotonic_ns()}",
        "object": kind,
        "created": int(time.time()),
        "model": upstream.model,
    }


async def _sleep_ms(value: Any) -> None:
    if value:
        await asyncio.sleep(float(value) / 1000)


def _maybe_fail(upstream: Upstream) -> None:
    status = upstream.config.get("fail_status")
    if status is None:
        return
    headers = {}
    if upstream.config.get("retry_after_s") is not None:
        headers["retry-after"] = str(upstream.config["retry_after_s"])
    raise _http.classify(
        int(status),
        b'{"error": {"message": "mock failure on purpose", "type": "mock_error"}}',
        headers,
        upstream,
    )


def _answer(upstream: Upstream, body: JSON) -> tuple[JSON, str]:
    tool = _tool_to_call(body)
    if tool is not None:
        call = {
            "id": "call_mock_0",
            "type": "function",
            "function": {"name": tool, "arguments": upstream.config.get("tool_arguments", "{}")},
        }
        return {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    reply = upstream.config.get("reply")
    if reply is None:
        question = _last_user_text(body.get("messages") or [])
        reply = f"Mock answer from {upstream.model} to: {question[:80]}"
    return {"role": "assistant", "content": str(reply)}, "stop"


def _tool_to_call(body: JSON) -> str | None:
    tools = body.get("tools") or []
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return None
    messages = body.get("messages") or []
    if messages and isinstance(messages[-1], Mapping) and messages[-1].get("role") == "tool":
        return None  # the tool answered: now the model replies in words
    if isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name")
        if name:
            return str(name)
    first = tools[0] if isinstance(tools[0], Mapping) else {}
    return str((first.get("function") or {}).get("name") or "tool")


def _deltas(message: JSON, pieces: int) -> list[JSON]:
    if message.get("tool_calls"):
        call = message["tool_calls"][0]
        head = {
            "index": 0,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        arguments = call["function"]["arguments"]
        return [
            {"role": "assistant", "content": None, "tool_calls": [head]},
            {"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]},
        ]
    text = str(message.get("content") or "")
    pieces = max(1, min(pieces, len(text) or 1))
    size = -(-len(text) // pieces) or 1
    parts = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    return [{"role": "assistant", "content": parts[0]}] + [{"content": p} for p in parts[1:]]


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def _choices(body: JSON) -> int:
    """How many choices the request asks for (`n`, checked by the API: 1 to 128)."""
    return int(body.get("n") or 1)


def _usage(body: JSON, message: JSON, choices: int) -> Usage:
    """Deterministic token counts: about four characters a token, as the estimator assumes;
    the prompt once, the answer once per choice."""
    prompt_chars = sum(
        len(_text_of(m.get("content"))) + 4
        for m in body.get("messages") or []
        if isinstance(m, Mapping)
    )
    answer_chars = len(str(message.get("content") or "")) + sum(
        len(call["function"]["arguments"]) + len(call["function"]["name"])
        for call in message.get("tool_calls") or []
    )
    return Usage(
        prompt_tokens=max(1, -(-prompt_chars // 4)),
        completion_tokens=max(1, -(-answer_chars // 4)) * choices,
    )
