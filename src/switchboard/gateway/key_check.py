"""Checking a key a user brings for a provider (BYOK): the provider's model listing, called
with the key, is a call no provider bills."""

from __future__ import annotations

import asyncio

import aiohttp

from switchboard.gateway.upstreams import Endpoint, StoredProvider, connect
from switchboard.providers import AdapterRegistry, UpstreamError

KEY_CHECK_TIMEOUT_S = 10.0


async def check_key(
    adapters: AdapterRegistry,
    http: aiohttp.ClientSession,
    provider: StoredProvider,
    api_key: str,
    *,
    connect_timeout_s: float,
) -> str | None:
    """None when the provider accepted the key, else why not (the provider's words may
    repeat the key: the caller scrubs them before keeping them)."""
    call = connect(
        adapters,
        Endpoint.of(provider),
        model="",
        api_key=api_key,
        timeout_s=KEY_CHECK_TIMEOUT_S,
        connect_timeout_s=connect_timeout_s,
    )
    if isinstance(call, str):
        return f"the key cannot be checked: {call}"
    try:
        async with asyncio.timeout(KEY_CHECK_TIMEOUT_S + 1):
            await call.adapter.list_models(http, call.upstream)
    except UpstreamError as error:
        return error.message
    except TimeoutError:
        return f"{provider.provider_slug} did not answer in time"
    return None
