"""Database work the gateway's background jobs run in worker threads, kept track of so that
closing waits for it: a connection still out when the pool is disposed is leaked. Cancelling
the coroutine that waits for such work does not stop the thread, so it is shielded: the
waiter goes, the work finishes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class DatabaseWork:
    def __init__(self) -> None:
        self._running: set[asyncio.Future[Any]] = set()

    async def run(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """`function(*args, **kwargs)` in a worker thread."""
        future = asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs))
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        return await asyncio.shield(future)

    async def finish(self) -> None:
        """Wait for the work still running (its errors are its callers')."""
        await asyncio.gather(*self._running, return_exceptions=True)
