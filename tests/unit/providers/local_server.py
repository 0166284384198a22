"""A real HTTP server on 127.0.0.1 (a free port) for one test: it records what it receives
and answers with what the test scripted, so adapters and SDK clients run their real network
code against recorded answers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

Reply = Callable[[web.Request, dict[str, Any] | None], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class Recorder:
    received: list[Received] = field(default_factory=list)


@asynccontextmanager
async def serve(
    routes: dict[tuple[str, str], Reply], recorder: Recorder | None = None
) -> AsyncIterator[tuple[str, Recorder]]:
    """`(base URL, recorder)` of a server answering `(method, path)` with its reply."""
    recorder = recorder or Recorder()

    def handler_for(reply: Reply) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            raw = await request.read()
            body = orjson.loads(raw) if raw else None
            recorder.received.append(
                Received(
                    request.method,
                    request.path,
                    dict(request.query),
                    {k.lower(): v for k, v in request.headers.items()},
                    body,
                )
            )
            return await reply(request, body)

        return handle

    app = web.Application()
    for (method, path), reply in routes.items():
        app.router.add_route(method, path, handler_for(reply))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", recorder
    finally:
        await runner.cleanup()


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    async def reply(request: web.Request, received: dict[str, Any] | None) -> web.Response:
        return web.Response(
            body=orjson.dumps(body),
            status=status,
            headers=headers,
            content_type="application/json",
        )

    return reply


def raw_reply(body: bytes, status: int, headers: dict[str, str]) -> Reply:
    async def reply(request: web.Request, received: dict[str, Any] | None) -> web.Response:
        return web.Response(body=body, status=status, headers=headers)

    return reply


def sse_reply(body: bytes, piece: int = 29) -> Reply:
    """A stream sent in small pieces, so that events arrive split across reads."""

    async def reply(request: web.Request, received: dict[str, Any] | None) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for start in range(0, len(body), piece):
            await response.write(body[start : start + piece])
        await response.write_eof()
        return response

    return reply


def unused_port() -> int:
    """A port nothing listens on (bound, then released), for a refused connection."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
