"""A webhook receiver on 127.0.0.1 for alert deliveries: it keeps every request it answers
(headers and the exact body), and can be stopped and started again on the same port, as a
receiver that is down for a while."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from switchboard.alerts.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass(frozen=True)
class Delivered:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def delivery_id(self) -> str | None:
        return self.headers.get(DELIVERY_HEADER)

    def signed_with(self, secret: str) -> bool:
        return verify(
            secret,
            self.body,
            self.headers.get(SIGNATURE_HEADER),
            self.headers.get(TIMESTAMP_HEADER),
        )


class WebhookReceiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Delivered] = []
        self._port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/hook"

    def received(self) -> list[Delivered]:
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout_s: float = 30) -> list[Delivered]:
        deadline = time.monotonic() + timeout_s
        while len(self.received()) < count:
            assert time.monotonic() < deadline, f"{len(self.received())} of {count} delivered"
            time.sleep(0.1)
        return self.received()

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self._serve())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="webhook-receiver", daemon=True)
        self._thread.start()
        assert ready.wait(10), "the webhook receiver did not start"

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self._received.append(Delivered(dict(request.headers), body))
        return web.Response(status=204)


@contextmanager
def running_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
