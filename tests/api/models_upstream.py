"""A tiny OpenAI-compatible upstream for health probes: `GET /v1/models` on 127.0.0.1.

It runs an aiohttp app on its own event loop in a thread, records the headers of every call,
and answers as scripted: a status, a delay, and (on errors) a message that echoes the
`Authorization` header it got, as a careless provider might.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class ModelsUpstream:
    base_url: str = ""
    status: int = 200
    delay_s: float = 0.0
    models: tuple[str, ...] = ("fake-small", "fake-large")
    calls: list[dict[str, str]] = field(default_factory=list)
    """The lower-cased headers of every call, in order."""
    times: list[float] = field(default_factory=list)
    """When each call came (`time.monotonic()`)."""

    async def _models(self, request: web.Request) -> web.Response:
        self.times.append(time.monotonic())
        self.calls.append({name.lower(): value for name, value in request.headers.items()})
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.status != 200:
            echoed = request.headers.get("authorization", "")
            body = {"error": {"message": f"refused {echoed}", "type": "fake_error"}}
            return web.json_response(body, status=self.status)
        data = [{"id": name, "object": "model", "owned_by": "fake"} for name in self.models]
        return web.json_response({"object": "list", "data": data})


@contextmanager
def models_upstream(*, status: int = 200, delay_s: float = 0.0) -> Iterator[ModelsUpstream]:
    upstream = ModelsUpstream(status=status, delay_s=delay_s)
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/v1/models", upstream._models)
    runner = web.AppRunner(app)

    async def serve() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        upstream.base_url = f"http://{host}:{port}/v1"

    loop.run_until_complete(serve())
    thread = threading.Thread(target=loop.run_forever, name="models-upstream", daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
