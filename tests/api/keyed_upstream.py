"""A small fake OpenAI-compatible provider that checks keys: a real HTTP server on 127.0.0.1.

It serves `GET /models` and `POST /chat/completions` to callers whose bearer key is in
`accepted`, and answers everyone else 401 with an error that echoes the refused key in full
(as careless providers do), so tests can prove the gateway never passes a key on. It records
every request's method, path and Authorization header. The server runs its own event loop in
a background thread, so the tests stay synchronous.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    path: str
    authorization: str | None


class KeyedUpstream:
    def __init__(self, accepted: set[str]) -> None:
        self.accepted = set(accepted)
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def seen(self, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self._seen if path is None or s.path == path]

    def accept(self, *keys: str) -> None:
        with self._lock:
            self.accepted = set(keys)

    async def _authorized(self, request: web.Request) -> web.Response | None:
        authorization = request.headers.get("Authorization")
        with self._lock:
            self._seen.append(Seen(request.method, request.path, authorization))
            accepted = set(self.accepted)
        key = (authorization or "").removeprefix("Bearer ")
        if key in accepted:
            return None
        error = {
            "message": f"Incorrect API key provided: {key}.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
        return web.json_response({"error": error}, status=401)

    async def _models(self, request: web.Request) -> web.Response:
        refused = await self._authorized(request)
        if refused is not None:
            return refused
        return web.json_response({"object": "list", "data": [{"id": "fake-model"}]})

    async def _chat(self, request: web.Request) -> web.Response:
        refused = await self._authorized(request)
        if refused is not None:
            return refused
        body = await request.json()
        return web.json_response(
            {
                "id": "chatcmpl-keyed",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "hi"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
            }
        )

    def start(self) -> None:
        ready = threading.Event()
        runner_box: list[web.AppRunner] = []

        async def serve() -> None:
            app = web.Application()
            app.router.add_get("/models", self._models)
            app.router.add_post("/chat/completions", self._chat)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            self.url = f"http://{host}:{port}"
            runner_box.append(runner)

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(serve())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner_box[0].cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="keyed-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake upstream did not start")

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


@contextmanager
def running_keyed_upstream(*accepted: str) -> Iterator[KeyedUpstream]:
    upstream = KeyedUpstream(set(accepted))
    upstream.start()
    try:
        yield upstream
    finally:
        upstream.stop()
