"""The HTTP client every provider call goes through, connecting only where the policy allows.

`provider_client(addresses)` is the one `aiohttp` session of a process (the gateway's, or a
CLI command's): pooled, without a cookie jar, and with a connector that refuses addresses
`PROVIDER_ADDRESSES` refuses (`address_policy`). The check is made on every connection, after
name resolution: a host written as an address (in any notation) before connecting, a name on
the addresses it resolves to, of which the refused ones are dropped. A name stored when it
pointed somewhere allowed and later pointed elsewhere (DNS rebinding) is caught the same way.
A refusal is a connection error that names the policy.
"""

from __future__ import annotations

import errno
import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

from switchboard.address_policy import ProviderAddresses, host_refusal


class GuardedResolver(AbstractResolver):
    """Resolves names as aiohttp does, keeping only the addresses the policy allows."""

    def __init__(self, addresses: ProviderAddresses, resolver: AbstractResolver) -> None:
        self._addresses = addresses
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        allowed = [r for r in results if host_refusal(self._addresses, r["host"]) is None]
        if not allowed and results:
            reason = host_refusal(self._addresses, results[0]["host"])
            raise OSError(errno.EACCES, f"{host} resolves to {reason}")
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


class GuardedConnector(aiohttp.TCPConnector):
    """A TCP connector that connects only to addresses the policy allows. aiohttp does not ask
    the resolver about a host written as an address: that one is checked here."""

    def __init__(self, addresses: ProviderAddresses) -> None:
        self._guard = GuardedResolver(addresses, aiohttp.DefaultResolver())
        super().__init__(resolver=self._guard, limit=0, ttl_dns_cache=300, keepalive_timeout=30)
        self.addresses = addresses

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        reason = host_refusal(self.addresses, req.url.raw_host or "")
        if reason is not None:
            raise aiohttp.ClientConnectorError(
                req.connection_key, OSError(errno.EACCES, f"address refused: {reason}")
            )
        return await super().connect(req, traces, timeout)

    async def close(self, *, abort_ssl: bool = False) -> None:
        await super().close(abort_ssl=abort_ssl)
        await self._guard.close()


def provider_client(addresses: ProviderAddresses) -> aiohttp.ClientSession:
    """The session for provider calls; made inside the event loop that will use it."""
    connector = GuardedConnector(addresses)
    # One session serves every user: a provider's cookies must not follow one user's request
    # into another's (and keeping a jar costs a fifth of each call's CPU).
    return aiohttp.ClientSession(
        connector=connector, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar()
    )
