"""`ScriptChannel`: the limits' one connection to Redis, pipelined.

Every script call of the process goes over one connection: the calls made in the same turn
of the event loop are written together (auto-pipelining), and a call made while others are
in flight does not wait for them. Replies come back in order; `hiredis` parses them. A
script is called by its SHA1 (`EVALSHA`) and loaded (`EVAL`) when Redis does not know it
(after a restart). The connection is opened on first use and again after it is lost, with
AUTH and SELECT as the URL says (`redis://user:password@host:port/db`, `rediss://` for TLS,
`unix:///path?db=N`).

Nothing here waits longer than `timeout_s`: a connection not made in time, or a reply not
received in time, fails every call in flight with `LimiterUnavailableError` (and drops the
connection, whose late replies would answer the wrong calls); what to do then is the
caller's choice (`failover`). Nothing is retried: a call that failed may have run.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from asyncio import Future
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis

from switchboard.limits.outcome import LimiterUnavailableError

_NOSCRIPT = "NOSCRIPT"


@dataclass(frozen=True, slots=True)
class Script:
    source: str
    sha: bytes = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()
        object.__setattr__(self, "sha", digest.encode())


@dataclass(frozen=True, slots=True)
class Address:
    """Where Redis is and how to sign in, read from its URL."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None
    """A Unix socket, instead of host and port."""
    username: str | None = None
    password: str | None = None
    db: int = 0
    tls: ssl.SSLContext | None = None

    @classmethod
    def from_url(cls, url: str) -> Address:
        parts = urlsplit(url)
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"REDIS_URL: unknown scheme {parts.scheme!r}")
        db_text = query.get("db") or (parts.path.strip("/") if parts.scheme != "unix" else "")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            path=parts.path if parts.scheme == "unix" else None,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            db=int(db_text or 0),
            tls=_tls_context(query) if parts.scheme == "rediss" else None,
        )


def _tls_context(query: dict[str, str]) -> ssl.SSLContext:
    """TLS as redis-py reads its URL: `ssl_ca_certs` (a CA file), `ssl_cert_reqs`
    (`required`, the default; `optional`; `none`), `ssl_certfile`/`ssl_keyfile`."""
    context = ssl.create_default_context(cafile=query.get("ssl_ca_certs"))
    if "ssl_certfile" in query:
        context.load_cert_chain(query["ssl_certfile"], query.get("ssl_keyfile"))
    required = query.get("ssl_cert_reqs", "required").lower()
    if required == "none":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif required == "optional":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def is_noscript(reply: Any) -> bool:
    """Redis does not know the script (it restarted, or flushed its scripts): load it."""
    return type(reply) is hiredis.ReplyError and str(reply).startswith(_NOSCRIPT)


def is_error(reply: Any) -> bool:
    return type(reply) is hiredis.ReplyError


def _pack(parts: tuple[Any, ...]) -> bytes:
    """A command in Redis's protocol (its parts: bytes, str, int or float)."""
    packed: bytes = hiredis.pack_command(cast(Any, parts))
    return packed


class ScriptChannel:
    def __init__(self, url: str, *, timeout_s: float) -> None:
        self.address = Address.from_url(url)
        self.timeout_s = timeout_s
        self._connection: _Connection | None = None
        self._opening: asyncio.Future[_Connection] | None = None
        self._closed = False

    async def call(self, script: Script, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run `script` with `keys` and `args`; its reply (bytes, an int, a list of them)."""
        connection = self._connection
        if connection is None or connection.lost:
            connection = await self._open()
        reply = await connection.send(_pack((b"EVALSHA", script.sha, len(keys), *keys, *args)))
        if type(reply) is hiredis.ReplyError:
            if not is_noscript(reply):
                raise LimiterUnavailableError(f"Redis: {reply}")
            reply = await self.command(b"EVAL", script.source, len(keys), *keys, *args)
        return reply

    def send(self, script: Script, keys: Sequence[Any], args: Sequence[Any]) -> Future[Any] | None:
        """`call` without a coroutine, when the connection is open (None: use `call`): the
        future of the reply, which may be an error reply (`is_noscript`: then `call`)."""
        connection = self._connection
        if connection is None or connection.lost:
            return None
        return connection.send(_pack((b"EVALSHA", script.sha, len(keys), *keys, *args)))

    async def command(self, *parts: Any) -> Any:
        """Any other command (PING, SCRIPT LOAD, …): its reply."""
        connection = self._connection
        if connection is None or connection.lost:
            connection = await self._open()
        reply = await connection.send(_pack(parts))
        if type(reply) is hiredis.ReplyError:
            raise LimiterUnavailableError(f"Redis: {reply}")
        return reply

    async def close(self) -> None:
        self._closed = True
        if self._connection is not None:
            self._connection.drop(LimiterUnavailableError("Redis: the channel is closed"))
            self._connection = None

    async def _open(self) -> _Connection:
        if self._closed:
            raise LimiterUnavailableError("Redis: the channel is closed")
        if self._opening is None or self._opening.done():
            self._opening = asyncio.ensure_future(self._connect())
        return await asyncio.shield(self._opening)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        address = self.address
        try:
            async with asyncio.timeout(self.timeout_s):
                if address.path is not None:
                    _, connection = await loop.create_unix_connection(
                        lambda: _Connection(self.timeout_s), address.path
                    )
                else:
                    _, connection = await loop.create_connection(
                        lambda: _Connection(self.timeout_s),
                        address.host,
                        address.port,
                        ssl=address.tls,
                    )
        except (OSError, TimeoutError, ssl.SSLError) as error:
            raise LimiterUnavailableError(f"Redis: {type(error).__name__}") from error
        await self._sign_in(connection)
        self._connection = connection
        return connection

    async def _sign_in(self, connection: _Connection) -> None:
        address = self.address
        greetings = []
        if address.password is not None:
            credentials = (
                (address.username, address.password) if address.username else (address.password,)
            )
            greetings.append(connection.send(_pack((b"AUTH", *credentials))))
        if address.db:
            greetings.append(connection.send(_pack((b"SELECT", address.db))))
        for reply in await asyncio.gather(*greetings):
            if type(reply) is hiredis.ReplyError:
                connection.drop(LimiterUnavailableError(f"Redis: {reply}"))
                raise LimiterUnavailableError(f"Redis: {reply}")


class _Connection(asyncio.Protocol):
    """One connection: commands written in the order they are sent, one per turn of the loop,
    and each reply handed to the oldest call still waiting."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.lost = False
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._reader = hiredis.Reader()
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._unsent: list[bytes] = []
        self._watchdog: asyncio.TimerHandle | None = None

    def send(self, command: bytes) -> Future[Any]:
        future = self._loop.create_future()
        if self.lost:
            future.set_exception(LimiterUnavailableError("Redis: the connection was lost"))
            return future
        if not self._unsent:  # the first of this turn: written when the turn is over
            self._loop.call_soon(self._write)
        self._unsent.append(command)
        self._waiting.append((future, self._loop.time() + self.timeout_s))
        if self._watchdog is None:
            self._watchdog = self._loop.call_at(self._waiting[0][1], self._check)
        return future

    def _write(self) -> None:
        unsent, self._unsent = self._unsent, []
        if self._transport is not None and not self.lost:
            self._transport.write(b"".join(unsent))

    def _check(self) -> None:
        """The oldest call past its deadline: Redis is not answering."""
        self._watchdog = None
        if not self._waiting:
            return
        deadline = self._waiting[0][1]
        if deadline <= self._loop.time():
            self.drop(LimiterUnavailableError("Redis: TimeoutError"))
        else:
            self._watchdog = self._loop.call_at(deadline, self._check)

    def drop(self, error: Exception) -> None:
        """Close the connection and fail every call waiting on it."""
        self.lost = True
        if self._transport is not None:
            self._transport.abort()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        waiting, self._waiting = self._waiting, deque()
        for future, _ in waiting:
            if not future.done():
                future.set_exception(error)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        try:
            reader.feed(data)
            reply = reader.gets()
            while reply is not False:
                future, _ = self._waiting.popleft()
                if not future.done():  # its caller may have been cancelled meanwhile
                    future.set_result(reply)
                reply = reader.gets()
        except (hiredis.ProtocolError, IndexError) as error:
            self.drop(LimiterUnavailableError(f"Redis: {type(error).__name__}"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost:
            self.drop(LimiterUnavailableError("Redis: the connection was lost"))
