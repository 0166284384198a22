"""`EventStreamResponse`: what is ready together is written together, nothing waits behind
the body, and a client that goes away cancels the body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

from switchboard.api.streaming import EventStreamResponse


class Client:
    """The server side of one ASGI exchange: what was sent, and a switch to disconnect."""

    def __init__(self) -> None:
        self.sent: list[MutableMapping[str, Any]] = []
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(message)

    @property
    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body"]


def serve(events: AsyncIterator[bytes], client: Client) -> Any:
    response = EventStreamResponse(events, headers={"x-request-id": "req_1"})
    return response({"type": "http"}, client.receive, client.send)


def test_events_ready_together_are_written_as_one_piece() -> None:
    async def events() -> AsyncIterator[bytes]:
        for number in range(5):
            yield b"data: %d\n\n" % number

    async def main() -> Client:
        client = Client()
        await serve(events(), client)
        return client

    client = asyncio.run(main())
    start = client.sent[0]
    assert start["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in start["headers"]
    assert (b"x-request-id", b"req_1") in start["headers"]
    assert client.bodies == [b"data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n"]
    assert client.sent[-1]["more_body"] is False


def test_what_is_ready_is_written_before_the_body_waits() -> None:
    upstream: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def events() -> AsyncIterator[bytes]:
        yield b"data: a\n\n"
        yield b"data: b\n\n"
        while (piece := await upstream.get()) is not None:
            yield piece

    async def main() -> tuple[list[bytes], Client]:
        client = Client()
        relay = asyncio.create_task(serve(events(), client))
        for _ in range(5):
            await asyncio.sleep(0)
        seen_while_waiting = list(client.bodies)
        await upstream.put(b"data: c\n\n")
        await upstream.put(None)
        await relay
        return seen_while_waiting, client

    seen_while_waiting, client = asyncio.run(main())
    assert seen_while_waiting == [b"data: a\n\ndata: b\n\n"]
    assert b"".join(client.bodies) == b"data: a\n\ndata: b\n\ndata: c\n\n"
    assert client.sent[-1]["more_body"] is False


def test_a_client_that_goes_away_cancels_the_body() -> None:
    closed: list[str] = []

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"data: a\n\n"
            await asyncio.Event().wait()  # a provider that falls silent
            yield b"data: never\n\n"
        finally:
            closed.append("body closed")

    async def main() -> Client:
        client = Client()
        relay = asyncio.create_task(serve(events(), client))
        for _ in range(5):
            await asyncio.sleep(0)
        client.gone.set()
        await asyncio.wait_for(relay, 5)  # returns normally: the disconnect is not an error
        return client

    client = asyncio.run(main())
    assert closed == ["body closed"]
    assert client.bodies == [b"data: a\n\n"]


def test_cancelling_the_request_itself_still_cancels() -> None:
    async def events() -> AsyncIterator[bytes]:
        yield b"data: a\n\n"
        await asyncio.Event().wait()
        yield b"data: never\n\n"

    async def main() -> bool:
        relay = asyncio.create_task(serve(events(), Client()))
        for _ in range(5):
            await asyncio.sleep(0)
        relay.cancel()
        try:
            await relay
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(main())
