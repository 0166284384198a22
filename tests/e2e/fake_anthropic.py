"""A fake Anthropic Messages API for end-to-end tests: a real HTTP server on 127.0.0.1.

It serves `POST /v1/messages` — a whole `message`, or, when the request asks to stream, the
documented event sequence: message_start (input and cache-read usage), for each content block
content_block_start, its deltas (text_delta, or the tool input as input_json_delta pieces) and
content_block_stop, a ping, then message_delta (stop reason, output tokens) and message_stop —
and `GET /v1/models`. Like Anthropic it wants `anthropic-version` (else 400) and one of the keys
it was given in `x-api-key` (else 401), and it records every request it receives (headers and
JSON body, as `fake_openai.Received`). What it answers is scripted per model: a default
`Reply` and a queue for the next calls; a reply may be an error in Anthropic's format (429 with
`retry-after`, 500, 529 overloaded, 400).

The server runs its own event loop in a background thread, so the tests stay synchronous.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.e2e.fake_openai import Received

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


@dataclass(frozen=True, slots=True)
class Reply:
    """What the fake does with one call. The defaults answer `text` at once with 200."""

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
    status: int = 200
    """Anything else answers an Anthropic-style error with this status."""
    error_message: str = "scripted failure"
    retry_after: str | None = None


class FakeAnthropic:
    def __init__(self, api_keys: frozenset[str]) -> None:
        self.api_keys = api_keys
        self._lock = threading.Lock()
        self._defaults: dict[str, Reply] = {}
        self._queues: dict[str, deque[Reply]] = {}
        self._received: list[Received] = []
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def base_url(self) -> str:
        """What a provider row's `base_url` is, as for https://api.anthropic.com/v1."""
        return f"{self.url}/v1"

    # Scripting, from the test's thread -----------------------------------------------

    def set_default(self, model: str, reply: Reply) -> None:
        with self._lock:
            self._defaults[model] = reply

    def script(self, model: str, *replies: Reply) -> None:
        """The next calls for `model` get `replies`, in order."""
        with self._lock:
            self._queues.setdefault(model, deque()).extend(replies)

    def received(self, model: str | None = None) -> list[Received]:
        """The requests for `model`, or every request (model listings too) when None."""
        with self._lock:
            return [r for r in self._received if model is None or r.model == model]

    def _reply_for(self, model: str) -> Reply:
        with self._lock:
            queue = self._queues.get(model)
            return queue.popleft() if queue else self._defaults.get(model, Reply())

    # Serving, on the server's thread -------------------------------------------------

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        received = await self._record(request)
        refusal = self._refusal(received)
        if refusal is not None:
            return refusal
        body = received.body if isinstance(received.body, dict) else {}
        reply = self._reply_for(str(body.get("model")))
        if reply.status != 200:
            headers = {"retry-after": reply.retry_after} if reply.retry_after else {}
            return _error(reply.status, reply.error_message, headers)
        message_id = f"msg_fake_{next(self._ids)}"
        if body.get("stream"):
            return await _stream(request, _events(reply, str(body.get("model")), message_id))
        return web.json_response(_message(reply, str(body.get("model")), message_id))

    async def _models(self, request: web.Request) -> web.Response:
        received = await self._record(request)
        refusal = self._refusal(received)
        if refusal is not None:
            return refusal
        with self._lock:
            names = sorted({*self._defaults, *self._queues})
        data = [{"type": "model", "id": name, "display_name": name} for name in names]
        return web.json_response(
            {"data": data, "has_more": False, "first_id": None, "last_id": None}
        )

    def _refusal(self, received: Received) -> web.Response | None:
        if received.headers.get("anthropic-version") != API_VERSION:
            return _error(400, "anthropic-version: header is required")
        if received.headers.get("x-api-key") not in self.api_keys:
            return _error(401, "invalid x-api-key")
        return None

    async def _record(self, request: web.Request) -> Received:
        raw = await request.read()
        received = Received(
            method=request.method,
            path=request.path,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=orjson.loads(raw) if raw else None,
        )
        received.finished.set()
        with self._lock:
            self._received.append(received)
        return received

    # Life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except BaseException as error:
                failure.append(error)
                loop.close()
                return
            finally:
                started.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-anthropic", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]

    def stop(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@contextmanager
def running_fake_anthropic(*api_keys: str) -> Iterator[FakeAnthropic]:
    """A fake that accepts `api_keys` in `x-api-key`."""
    fake = FakeAnthropic(frozenset(api_keys))
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


# Answers -----------------------------------------------------------------------------


def _usage(reply: Reply, output_tokens: int) -> dict[str, Any]:
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


def _stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.tool_uses else "end_turn"


def _message(reply: Reply, model: str, message_id: str) -> dict[str, Any]:
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


def _events(reply: Reply, model: str, message_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
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


async def _stream(
    request: web.Request, events: Iterator[tuple[str, dict[str, Any]]]
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for name, data in events:
        await response.write(f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n")
    await response.write_eof()
    return response


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    error = {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}
    body = {"type": "error", "error": error, "request_id": "req_fake"}
    return web.json_response(body, status=status, headers=headers)
