"""`ChangeListener`: hears the change notices (`change_notices`) on Redis and wakes the
catalog poll, so a change made anywhere reaches this process in about a round trip rather
than at the next poll. Without `REDIS_URL` it never wakes anything and the poll alone keeps
the process current; while Redis is away it reconnects in the background, and the poll goes
on meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from switchboard.change_notices import channel
from switchboard.logs import log_event
from switchboard.settings import Settings

log = logging.getLogger(__name__)

RECONNECT_S = 1.0
HEALTH_CHECK_S = 15.0


class ChangeListener:
    def __init__(self, settings: Settings) -> None:
        self._url = settings.redis_url
        self._channel = channel(settings)
        self._timeout_s = settings.redis_timeout_s
        self.changed = asyncio.Event()
        """Set when a notice came; the poll clears it when it looks."""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._url is not None:
            self._task = asyncio.create_task(self._listen(self._url), name="change-listener")

    async def wait(self, timeout_s: float) -> None:
        """Until a notice comes or `timeout_s` passes, whichever is first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout_s)
        self.changed.clear()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _listen(self, url: str) -> None:
        away = False
        while True:
            client = aioredis.Redis.from_url(
                url, socket_connect_timeout=self._timeout_s, socket_keepalive=True
            )
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    if away:
                        log_event(log, logging.INFO, "change_notices_resumed")
                        self.changed.set()  # what was announced meanwhile: look now
                    away = False
                    await self._hear(pubsub)
            except (RedisError, OSError) as error:
                if not away:
                    log_event(
                        log, logging.WARNING, "change_notices_lost", error=type(error).__name__
                    )
                away = True
            finally:
                await client.aclose()
            await asyncio.sleep(RECONNECT_S)

    async def _hear(self, pubsub: PubSub) -> None:
        """Notices as they come; a PING after HEALTH_CHECK_S of silence, so that a connection
        a NAT or a failover left half-open is given up (a ConnectionError) within twice that,
        rather than heard from never again."""
        loop = asyncio.get_running_loop()
        heard = loop.time()
        while True:
            message = await pubsub.get_message(timeout=HEALTH_CHECK_S)
            if message is not None:
                heard = loop.time()
                if message.get("type") == "message":
                    self.changed.set()
            elif loop.time() - heard > 2 * HEALTH_CHECK_S:
                raise RedisConnectionError("no answer to PING")
            else:
                await pubsub.ping()
