"""`EventStreamResponse`: relays a stream of SSE bytes, writing together what is ready together.

Starlette's `StreamingResponse` sends every piece the moment it is produced: one socket write
(a system call) per event, and a task group per response to notice a client that goes away.
A provider's events mostly arrive several to a network read, and the gateway turns them into
the client's events without waiting on anything: writing them one by one cost as much as all
the rest of relaying them. Here each step of the body is first tried without letting the
event loop run; whatever is produced that way is collected, and written as one piece just
before the body really has to wait (for the provider's next bytes) or ends. Nothing is held
back while there is something to send, so an event reaches the client as soon as it would
have otherwise.

A client that disconnects cancels the body where it waits (its `finally` blocks run: the
usage record, closing the upstream request), as Starlette's response would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator, Mapping
from typing import Any, cast

from fastapi.responses import Response
from starlette.types import Message, Receive, Scope, Send


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(self, events: AsyncIterator[bytes], headers: Mapping[str, str]) -> None:
        self.events = events
        self.status_code = 200
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        relaying = asyncio.current_task()
        assert relaying is not None
        finished = False
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            if not finished:
                gone = True
                relaying.cancel()

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await self._relay(send)
        except asyncio.CancelledError:
            if not gone:
                raise
            relaying.uncancel()  # our own cancellation, for a client that went away: done
        finally:
            finished = True
            watcher.cancel()

    async def _relay(self, send: Send) -> None:
        events = aiter(self.events)
        ready: list[bytes] = []
        while True:
            step = _Step(anext(events))
            try:
                if step.run_until_it_waits():
                    ready.append(step.value)
                    continue
                if ready:
                    await send(_body(b"".join(ready), more=True))
                    ready.clear()
                ready.append(await step)
            except StopAsyncIteration:
                break
        await send(_body(b"".join(ready), more=False))


def _body(data: bytes, *, more: bool) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


class _Step:
    """One `anext()` of the body, run by hand: first only as far as it goes without waiting
    (`run_until_it_waits`); if it had to wait, awaiting the step hands what it waits for to
    the event loop and carries on from there, exactly as `await anext(...)` would have."""

    __slots__ = ("_coroutine", "_waiting", "value")

    def __init__(self, awaitable: Any) -> None:
        self._coroutine: Generator[Any, None, bytes] = awaitable.__await__()
        self._waiting: Any = None
        self.value = b""

    def run_until_it_waits(self) -> bool:
        """True when the step finished (its result in `value`), False when it must wait.
        `StopAsyncIteration` (the body ended) and the body's errors propagate."""
        try:
            self._waiting = self._coroutine.send(None)
        except StopIteration as done:
            self.value = done.value
            return True
        return False

    def __await__(self) -> Generator[Any, None, bytes]:
        waiting = self._waiting
        while True:
            try:
                yield waiting
            except BaseException as error:  # cancellation: delivered where the body waits
                try:
                    waiting = self._coroutine.throw(error)
                except StopIteration as done:
                    return cast(bytes, done.value)
            else:
                try:
                    waiting = self._coroutine.send(None)
                except StopIteration as done:
                    return cast(bytes, done.value)
