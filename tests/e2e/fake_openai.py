"""A fake OpenAI-compatible upstream for end-to-end tests: a real HTTP server on 127.0.0.1.

It serves `POST /chat/completions` (whole answers, and Server-Sent Events with the usage in a
last chunk when `stream_options.include_usage` asks for it) and `GET /models`, and records
every request it receives (headers, JSON body, and whether the caller hung up). What it answers
is scripted per model name — a default `Reply`, and a queue of replies for the next calls — so
a test can make one deployment fail with a 500, a 429 and `Retry-After`, a 400 or a 401, answer
later than the gateway waits, close the connection, break a stream after some chunks, end
one early without a finish reason, leave out `[DONE]`, or stream slowly enough for a client
to hang up halfway.

The server runs its own event loop in a background thread, so the tests stay synchronous.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

# How a handler learns that the caller hung up: it is cancelled (see `handler_cancellation`),
# or writing to the gone peer fails.
_PEER_GONE = (ConnectionError, asyncio.CancelledError)


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: str
    id: str = "call_fake_0"


@dataclass(frozen=True, slots=True)
class Reply:
    """What the fake does with one call. The defaults answer `text` at once with 200."""

    text: str = "Hello from the fake upstream."
    tool_calls: tuple[ToolCall, ...] = ()
    prompt_tokens: int = 12
    completion_tokens: int = 5
    cached_tokens: int = 0
    report_usage: bool = True
    status: int = 200
    """Anything else answers an OpenAI-style error with this status."""
    error_message: str = "scripted failure"
    """`{authorization}` in it is replaced by the Authorization header received: a provider
    that repeats the credential it was sent."""
    error_raw: bytes | None = None
    """An error body sent as it is (`text/html`), instead of OpenAI's error JSON."""
    error_code: str | None = None
    retry_after: str | None = None
    delay_s: float = 0.0
    """Wait this long before answering (longer than the gateway's timeout: a timeout)."""
    drop_connection: bool = False
    """Close the connection without answering anything."""
    chunks: int = 4
    """How many pieces a streamed text answer comes in."""
    chunk_delay_s: float = 0.0
    break_after_chunks: int | None = None
    """Send this many chunks of a stream, then cut the connection."""
    error_after_chunks: int | None = None
    """Send this many chunks of a stream, then an `error` event (`error_message`)."""
    end_after_chunks: int | None = None
    """Send this many chunks of a stream, then end the body cleanly (the connection is not
    cut) with neither a finish reason nor `[DONE]`: a truncated stream."""
    send_done: bool = True
    """False: a stream ends after its finish reason (and usage) without `[DONE]`, as older
    vLLM and Ollama versions do."""


@dataclass(slots=True)
class Received:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names."""
    body: Any
    finished: threading.Event = field(default_factory=threading.Event)
    disconnected: bool = False
    """The caller went away before the answer was complete."""

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


class FakeOpenAI:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._defaults: dict[str, Reply] = {}
        self._queues: dict[str, deque[Reply]] = {}
        self._received: list[Received] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # Scripting, from the test's thread -----------------------------------------------

    def set_default(self, model: str, reply: Reply) -> None:
        """What every call for `model` gets once its queue (see `script`) is empty."""
        with self._lock:
            self._defaults[model] = reply

    def script(self, model: str, *replies: Reply) -> None:
        """The next calls for `model` get `replies`, in order."""
        with self._lock:
            self._queues.setdefault(model, deque()).extend(replies)

    def received(self, model: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._received if model is None or r.model == model]

    def calls(self, model: str) -> int:
        return len(self.received(model))

    def wait_finished(self, received: Received, timeout_s: float = 5.0) -> None:
        if not received.finished.wait(timeout_s):
            raise AssertionError(f"the fake's handler for {received.model} never finished")

    def _reply_for(self, model: str) -> Reply:
        with self._lock:
            queue = self._queues.get(model)
            if queue:
                return queue.popleft()
            return self._defaults.get(model, Reply())

    # Serving, on the server's thread -------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        received = await self._record(request)
        try:
            body = received.body if isinstance(received.body, dict) else {}
            reply = self._reply_for(str(body.get("model")))
            if reply.delay_s:
                await asyncio.sleep(reply.delay_s)
            if reply.drop_connection:
                _cut(request)
                return web.Response()
            if reply.status != 200:
                return _error(reply, received)
            if body.get("stream"):
                return await _stream(request, received, reply, body)
            return web.json_response(_completion(reply, body))
        except _PEER_GONE:
            received.disconnected = True
            raise
        finally:
            received.finished.set()

    async def _models(self, request: web.Request) -> web.Response:
        received = await self._record(request)
        received.finished.set()
        with self._lock:
            names = sorted({*self._defaults, *self._queues})
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "fake"} for name in names]
        return web.json_response({"object": "list", "data": data})

    async def _record(self, request: web.Request) -> Received:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        received = Received(
            method=request.method,
            path=request.path,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=body,
        )
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
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-openai", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/chat/completions", self._chat)
        app.router.add_get("/models", self._models)
        # Handlers are cancelled when the caller hangs up, so a disconnect is seen at once.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@contextmanager
def running_fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def closed_port_url() -> str:
    """A base URL nothing listens on: calls get "connection refused"."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# Answers -----------------------------------------------------------------------------


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
    }


def _completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
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


def _chunks(reply: Reply, body: dict[str, Any]) -> Sequence[dict[str, Any]]:
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
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]})
    options = body.get("stream_options") or {}
    if reply.report_usage and options.get("include_usage"):
        chunks.append({**base, "choices": [], "usage": _usage(reply)})
    return chunks


async def _stream(
    request: web.Request, received: Received, reply: Reply, body: dict[str, Any]
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for sent, chunk in enumerate(_chunks(reply, body)):
        if reply.break_after_chunks is not None and sent >= reply.break_after_chunks:
            _cut(request)
            return response
        if reply.error_after_chunks is not None and sent >= reply.error_after_chunks:
            error = _error_body(reply, received)
            await response.write(b"data: " + orjson.dumps(error) + b"\n\n")
            await response.write_eof()
            return response
        if reply.end_after_chunks is not None and sent >= reply.end_after_chunks:
            await response.write_eof()
            return response
        if sent and reply.chunk_delay_s:
            await asyncio.sleep(reply.chunk_delay_s)
        await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
    if reply.send_done:
        await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _error(reply: Reply, received: Received) -> web.Response:
    headers = {"retry-after": reply.retry_after} if reply.retry_after is not None else {}
    if reply.error_raw is not None:
        headers["content-type"] = "text/html"
        return web.Response(body=reply.error_raw, status=reply.status, headers=headers)
    return web.json_response(_error_body(reply, received), status=reply.status, headers=headers)


def _error_body(reply: Reply, received: Received) -> dict[str, Any]:
    message = reply.error_message.replace("{authorization}", received.authorization or "")
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error" if reply.status < 500 else "server_error",
            "param": None,
            "code": reply.error_code,
        }
    }


def _cut(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        with suppress(Exception):
            transport.abort()
