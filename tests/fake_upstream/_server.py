"""The fake upstream's server: what it records, how a reply is chosen, and how a reply is sent
(at once, late, never, as a stream cut or ended early, or as a body given verbatim)."""

from __future__ import annotations

import asyncio
import enum
import itertools
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.fake_upstream._anthropic import AnthropicFormat
from tests.fake_upstream._openai import OpenAIFormat
from tests.fake_upstream._scripted import Scripted, WireFormat

# How a handler learns that the caller hung up: it is cancelled (the runner's
# `handler_cancellation`), or writing to the gone peer fails.
_PEER_GONE = (ConnectionError, asyncio.CancelledError)


class Wire(enum.StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"


_FORMATS: dict[Wire, WireFormat] = {Wire.OPENAI: OpenAIFormat(), Wire.ANTHROPIC: AnthropicFormat()}


@dataclass(slots=True)
class Received:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-case names."""
    body: Any
    """The JSON body; its text when it is not JSON; None when empty."""
    finished: threading.Event = field(default_factory=threading.Event)
    disconnected: bool = False
    """The caller went away before the answer was complete."""

    @property
    def model(self) -> str | None:
        model = self.body.get("model") if isinstance(self.body, dict) else None
        return None if model is None else str(model)

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


class FakeUpstream:
    """A provider on 127.0.0.1 speaking `wire`. A reply is scripted per model (the JSON body's
    `model`) or per path (`/v1/models`, for any request without a scripted model): a default,
    and a queue for the next calls. With `api_keys`, only callers sending one of them (as the
    wire sends a key) are answered; `models` are listed besides the models scripted."""

    def __init__(
        self,
        *,
        wire: Wire = Wire.OPENAI,
        api_keys: Iterable[str] | None = None,
        models: Iterable[str] = (),
        default: Scripted | None = None,
    ) -> None:
        self._format = _FORMATS[wire]
        self._api_keys = None if api_keys is None else frozenset(api_keys)
        self._models = tuple(models)
        self._default = default or self._format.default_reply()
        self._lock = threading.Lock()
        self._defaults: dict[str, Scripted] = {}
        self._queues: dict[str, deque[Scripted]] = {}
        self._received: list[Received] = []
        self._answer_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self._port = 0
        """0 until it first listens; then its port, listened on again after a restart."""

    @property
    def base_url(self) -> str:
        """A provider's `base_url` with the version, as for https://api.anthropic.com/v1."""
        return f"{self.url}/v1"

    # Scripting, from the test's thread -----------------------------------------------

    def set_default(self, target: str, reply: Scripted) -> None:
        """What every call for `target` (a model, or a path) gets once its queue is empty."""
        with self._lock:
            self._defaults[target] = reply

    def script(self, target: str, *replies: Scripted) -> None:
        """The next calls for `target` (a model, or a path) get `replies`, in order."""
        with self._lock:
            self._queues.setdefault(target, deque()).extend(replies)

    def accept(self, *api_keys: str) -> None:
        """From now on, answer only callers sending one of `api_keys`."""
        with self._lock:
            self._api_keys = frozenset(api_keys)

    def received(self, model: str | None = None, *, path: str | None = None) -> list[Received]:
        """The requests for `model` and to `path`; every request when neither is given."""
        with self._lock:
            return [
                r
                for r in self._received
                if (model is None or r.model == model) and (path is None or r.path == path)
            ]

    def calls(self, model: str) -> int:
        return len(self.received(model))

    def wait_finished(self, received: Received, timeout_s: float = 5.0) -> None:
        if not received.finished.wait(timeout_s):
            raise AssertionError(f"the fake's handler for {received.path} never finished")

    def _reply_for(self, received: Received) -> Scripted:
        with self._lock:
            for target in (received.model, received.path):
                queue = self._queues.get(target) if target is not None else None
                if queue:
                    return queue.popleft()
                if target in self._defaults:
                    return self._defaults[target]
            return self._default

    def _listed(self) -> list[str]:
        with self._lock:
            scripted = {*self._defaults, *self._queues}
        return sorted({*self._models, *(name for name in scripted if not name.startswith("/"))})

    # Serving ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        received = await self._record(request)
        try:
            return await self._answer(request, received)
        except _PEER_GONE:
            received.disconnected = True
            raise
        finally:
            received.finished.set()

    async def _answer(self, request: web.Request, received: Received) -> web.StreamResponse:
        with self._lock:
            api_keys = self._api_keys
        refusal = self._format.refusal(received.headers, api_keys)
        if refusal is not None:
            status, message, code = refusal
            return web.json_response(self._format.error(status, message, code), status=status)
        reply = self._reply_for(received)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.drop_connection:
            _cut(request)
            return web.Response()
        headers = dict(reply.headers)
        if reply.retry_after is not None:
            headers["retry-after"] = reply.retry_after
        if reply.raw is not None:
            return await _send_raw(request, reply, headers)
        if reply.status != 200:
            error = self._error(reply, received)
            return web.json_response(error, status=reply.status, headers=headers)
        if request.method == "GET":
            return web.json_response(self._format.listing(self._listed()), headers=headers)
        body = received.body if isinstance(received.body, dict) else {}
        answer_id = next(self._answer_ids)
        if body.get("stream"):
            return await self._stream(request, received, reply, body, answer_id)
        return web.json_response(self._format.answer(reply, body, answer_id), headers=headers)

    def _error(self, reply: Scripted, received: Received) -> dict[str, Any]:
        message = reply.error_message.replace("{authorization}", received.authorization or "")
        return self._format.error(reply.status, message, reply.error_code)

    async def _stream(
        self,
        request: web.Request,
        received: Received,
        reply: Scripted,
        body: dict[str, Any],
        answer_id: int,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"content-type": "text/event-stream", **reply.headers}
        )
        await response.prepare(request)
        for sent, event in enumerate(self._format.events(reply, body, answer_id)):
            if reply.break_after_chunks is not None and sent >= reply.break_after_chunks:
                _cut(request)
                return response
            if reply.error_after_chunks is not None and sent >= reply.error_after_chunks:
                await response.write(self._format.error_event(self._error(reply, received)))
                await response.write_eof()
                return response
            if reply.end_after_chunks is not None and sent >= reply.end_after_chunks:
                await response.write_eof()
                return response
            if sent and reply.chunk_delay_s:
                await asyncio.sleep(reply.chunk_delay_s)
            await response.write(event)
        closing = self._format.closing(reply)
        if closing:
            await response.write(closing)
        await response.write_eof()
        return response

    async def _record(self, request: web.Request) -> Received:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        received = Received(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=body,
        )
        with self._lock:
            self._received.append(received)
        return received

    # Life cycle ------------------------------------------------------------------------

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[FakeUpstream]:
        """Serve on the running event loop (for async tests)."""
        await self._serve()
        try:
            yield self
        finally:
            await self._shutdown()

    def start(self) -> None:
        """Serve on an event loop of its own in a background thread (for sync tests)."""
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

        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake upstream did not start")
        if failure:
            raise failure[0]

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Handlers are cancelled when the caller hangs up, so a disconnect is seen at once.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._port = port
        self.url = f"http://{host}:{port}"

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@contextmanager
def running_fake_upstream(
    *,
    wire: Wire = Wire.OPENAI,
    api_keys: Iterable[str] | None = None,
    models: Iterable[str] = (),
    default: Scripted | None = None,
) -> Iterator[FakeUpstream]:
    """A fake upstream serving in a background thread until the block ends."""
    fake = FakeUpstream(wire=wire, api_keys=api_keys, models=models, default=default)
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


async def _send_raw(
    request: web.Request, reply: Scripted, headers: dict[str, str]
) -> web.StreamResponse:
    assert reply.raw is not None
    if not any(name.lower() == "content-type" for name in headers):
        headers["content-type"] = "text/html"
    if reply.raw_piece_bytes is None:
        return web.Response(body=reply.raw, status=reply.status, headers=headers)
    response = web.StreamResponse(status=reply.status, headers=headers)
    await response.prepare(request)
    for start in range(0, len(reply.raw), reply.raw_piece_bytes):
        await response.write(reply.raw[start : start + reply.raw_piece_bytes])
    await response.write_eof()
    return response


def _cut(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        with suppress(Exception):
            transport.abort()
