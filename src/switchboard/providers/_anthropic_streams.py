"""Streams between Anthropic's Messages events and OpenAI's `chat.completion.chunk`s, both ways.

Both translators are small state machines fed one event (or chunk) at a time, so the caller
keeps the network loop and the translation stays pure. Re-exported by `anthropic_format`
(`AnthropicStreamToOpenAI`) and `anthropic_surface` (`OpenAIStreamToAnthropic`).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from switchboard.providers._anthropic_vocabulary import (
    anthropic_error_to_openai,
    error_kind_for,
    finish_reason_for,
    stop_reason_for,
    usage_from_anthropic,
    usage_to_anthropic,
)
from switchboard.providers.base import JSON, UpstreamError, Usage

Event = tuple[str, JSON]


class AnthropicStreamToOpenAI:
    """Anthropic's stream events as OpenAI chunks: a role chunk first, text and tool-call
    deltas, a chunk with the finish reason, then one with `choices: []` and the usage.

    Anthropic numbers content blocks across text and tool use; OpenAI numbers tool calls on
    their own, so each tool_use block takes the next tool-call index. Usage arrives in pieces
    (input at message_start, cumulative totals at message_delta) and is reported once, at the
    end, as OpenAI does with `stream_options.include_usage`."""

    def __init__(
        self, model: str, *, created: int | None = None, source: str = "anthropic"
    ) -> None:
        self._model = model
        self._created = int(time.time()) if created is None else created
        self._source = source
        self._id = ""
        self._tool_index: dict[int, int] = {}  # Anthropic block index → OpenAI tool-call index
        self._usage: dict[str, Any] = {}
        self._stop_reason: object = None
        # Set by message_stop: a stream that ends without one was cut off.
        self.finished = False

    @property
    def usage(self) -> Usage:
        return usage_from_anthropic(self._usage)

    def feed(self, event: str, data: JSON) -> list[JSON]:
        """The chunks for one event (`event` is the SSE event name, else `data["type"]`).
        Raises UpstreamError for an `error` event."""
        match event or data.get("type"):
            case "message_start":
                message = data.get("message") or {}
                self._id = str(message.get("id") or "")
                self._model = str(message.get("model") or self._model)
                self._count(message.get("usage"))
                return [self._chunk({"role": "assistant", "content": ""})]
            case "content_block_start":
                return self._block_start(int(data.get("index") or 0), data.get("content_block"))
            case "content_block_delta":
                return self._block_delta(int(data.get("index") or 0), data.get("delta"))
            case "message_delta":
                self._stop_reason = (data.get("delta") or {}).get("stop_reason")
                self._count(data.get("usage"))
                return []
            case "message_stop":
                self.finished = True
                finish = self._chunk({}, finish_reason=str(finish_reason_for(self._stop_reason)))
                return [finish, {**self._head(), "choices": [], "usage": self.usage.to_openai()}]
            case "error":
                raise self._error(data)
            case _:
                # ping, content_block_stop, and event types added later (Anthropic asks
                # clients to ignore those they do not know) carry nothing for OpenAI.
                return []

    def _block_start(self, index: int, block: Any) -> list[JSON]:
        if not isinstance(block, dict):
            return []
        if block.get("type") == "text":
            text = block.get("text")
            return [self._chunk({"content": text})] if text else []
        if block.get("type") != "tool_use":
            return []  # thinking and server-tool blocks answer parameters never sent
        position = len(self._tool_index)
        self._tool_index[index] = position
        head = {
            "index": position,
            "id": block.get("id"),
            "type": "function",
            "function": {"name": block.get("name"), "arguments": ""},
        }
        chunks = [self._chunk({"tool_calls": [head]})]
        if block.get("input"):
            chunks.append(self._arguments(position, orjson.dumps(block["input"]).decode()))
        return chunks

    def _block_delta(self, index: int, delta: Any) -> list[JSON]:
        if not isinstance(delta, dict):
            return []
        if delta.get("type") == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if delta.get("type") == "input_json_delta" and index in self._tool_index:
            partial = delta.get("partial_json")
            return [self._arguments(self._tool_index[index], partial)] if partial else []
        return []

    def _arguments(self, position: int, text: str) -> JSON:
        return self._chunk({"tool_calls": [{"index": position, "function": {"arguments": text}}]})

    def _count(self, usage: Any) -> None:
        # Every count Anthropic sends is a running total: the newest replaces the last (and
        # `cache_creation` holds the split of the cache writes).
        if isinstance(usage, dict):
            self._usage.update(
                {
                    k: v
                    for k, v in usage.items()
                    if isinstance(v, int) or (k == "cache_creation" and isinstance(v, dict))
                }
            )

    def _head(self) -> JSON:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
        }

    def _chunk(self, delta: JSON, *, finish_reason: str | None = None) -> JSON:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**self._head(), "choices": [choice]}

    def _error(self, data: JSON) -> UpstreamError:
        error = data.get("error") or {}
        return UpstreamError(
            error_kind_for(error.get("type")),
            f"{self._source} failed mid-stream: {error.get('type')}: {error.get('message')}",
            body=anthropic_error_to_openai(data),
        )


class OpenAIStreamToAnthropic:
    """OpenAI chunks as Anthropic stream events, in the order Anthropic's SDKs accumulate:
    message_start; per content block content_block_start, its deltas and content_block_stop;
    then, from `finish()`, message_delta (stop reason, usage) and message_stop.

    OpenAI reports usage only at the end of a stream, so message_start carries the
    `input_tokens` given (an estimate, or 0) and message_delta the real counts, which the SDKs
    take as totals that replace the earlier ones."""

    def __init__(self, model: str, *, message_id: str | None = None, input_tokens: int = 0) -> None:
        self._model = model
        self._id = message_id
        self._input_tokens = input_tokens
        self._started = False
        self._blocks = 0
        self._open: int | None = None  # the Anthropic index of the block still open
        self._open_text = False
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool-call index → Anthropic block index
        self._finish_reason: object = None
        self._usage = Usage()

    def feed(self, chunk: JSON) -> list[Event]:
        events = self._start(chunk)
        usage = Usage.from_openai(chunk.get("usage"))
        if usage is not None:
            self._usage = usage
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue  # requests from Anthropic clients never ask for more than one choice
            delta = choice.get("delta") or {}
            # A refusal is the model's own words: Anthropic has no separate channel for it.
            text = delta.get("content") or delta.get("refusal")
            if text:
                events += self._text(str(text))
            for call in delta.get("tool_calls") or []:
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return events

    def finish(self) -> list[Event]:
        """The closing events, once the OpenAI stream has ended."""
        events = self._start({}) + self._close()
        delta = {"stop_reason": str(stop_reason_for(self._finish_reason)), "stop_sequence": None}
        usage = usage_to_anthropic(self._usage)
        events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def _start(self, chunk: JSON) -> list[Event]:
        if self._started:
            return []
        self._started = True
        message: JSON = {
            "id": self._id or message_id_for(chunk.get("id")),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens, "output_tokens": 0},
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def _text(self, text: str) -> list[Event]:
        events: list[Event] = []
        if self._open is None or not self._open_text:
            events += self._open_block({"type": "text", "text": ""}, text=True)
        delta = {"type": "text_delta", "text": text}
        return [*events, _delta(self._open, delta)]

    def _tool_call(self, call: Any) -> list[Event]:
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        events: list[Event] = []
        if position not in self._tool_blocks:
            block: JSON = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}",
                "name": function.get("name") or "",
                "input": {},
            }
            events += self._open_block(block, text=False)
            self._tool_blocks[position] = self._blocks - 1
        if function.get("arguments"):
            # OpenAI sends one call's arguments before the next call starts; were a provider to
            # interleave them, a late piece still names its own block's index.
            delta = {"type": "input_json_delta", "partial_json": function["arguments"]}
            events.append(_delta(self._tool_blocks[position], delta))
        return events

    def _open_block(self, block: JSON, *, text: bool) -> list[Event]:
        events = self._close()
        self._open, self._open_text = self._blocks, text
        self._blocks += 1
        start = {"type": "content_block_start", "index": self._open, "content_block": block}
        return [*events, ("content_block_start", start)]

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        index, self._open = self._open, None
        return [("content_block_stop", {"type": "content_block_stop", "index": index})]


def _delta(index: int | None, delta: JSON) -> Event:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def message_id_for(openai_id: Any) -> str:
    """An Anthropic-style message id (`msg_…`) that keeps the OpenAI response's id, for
    tracing (an Anthropic provider's id comes back unchanged); a fresh one when there is none."""
    if not openai_id:
        return f"msg_{uuid.uuid4().hex[:24]}"
    text = str(openai_id)
    return text if text.startswith("msg_") else "msg_" + text.removeprefix("chatcmpl-")
