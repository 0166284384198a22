"""An upstream on 127.0.0.1 that answers every request the same way: a redirect, or an error
with a body of the test's choosing. It records what it receives.

It runs an aiohttp app on its own event loop in a thread, so the tests stay synchronous.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class ScriptedUpstream:
    status: int
    headers: Mapping[str, str]
    body: bytes
    base_url: str = ""
    calls: list[tuple[str, str]] = field(default_factory=list)
    """`(method, path)` of every request, in order."""

    async def _answer(self, request: web.Request) -> web.Response:
        self.calls.append((request.method, request.path))
        await request.read()
        return web.Response(status=self.status, headers=dict(self.headers), body=self.body)


@contextmanager
def scripted_upstream(
    status: int, headers: Mapping[str, str] | None = None, body: bytes = b""
) -> Iterator[ScriptedUpstream]:
    upstream = ScriptedUpstream(status, headers or {}, body)
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", upstream._answer)
    runner = web.AppRunner(app)

    async def serve() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        upstream.base_url = f"http://{host}:{port}/v1"

    loop.run_until_complete(serve())
    thread = threading.Thread(target=loop.run_forever, name="scripted-upstream", daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def redirecting_upstream(target: str, status: int = 302) -> Iterator[ScriptedUpstream]:
    """An upstream that answers every request with a redirect to `target`."""
    with scripted_upstream(status, {"Location": target}) as upstream:
        yield upstream
