"""Where a price map comes from: a file, or a URL (by default LiteLLM's public map).

A URL is fetched with one total timeout (name resolution, connecting and reading together) and
a size limit, so that a machine without a network gets a clear error in seconds rather than
a command that hangs. `PRICE_MAP_SOURCE` (a path or a URL) lets an offline deployment point
at a copy.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from switchboard.errors import PriceMapError

MAX_PRICE_MAP_BYTES = 64 * 1024 * 1024
"""LiteLLM's map is about 3.5 MB; anything many times larger is not a price map."""


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


async def read_price_map_source(
    source: str, *, timeout_s: float, max_bytes: int = MAX_PRICE_MAP_BYTES
) -> bytes:
    """The bytes at `source` (a path or an http(s) URL). A PriceMapError names the source and
    says why it could not be read."""
    if is_url(source):
        return await _fetch(source, timeout_s=timeout_s, max_bytes=max_bytes)
    return await asyncio.to_thread(_read_file, Path(source), max_bytes)


async def _fetch(url: str, *, timeout_s: float, max_bytes: int) -> bytes:
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, allow_redirects=True, max_redirects=3) as response,
        ):
            if response.status != 200:
                raise PriceMapError(
                    f"could not read the price map from {url}: HTTP {response.status}"
                )
            body = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > max_bytes:
                    raise PriceMapError(
                        f"the price map from {url} is larger than {max_bytes} bytes"
                    )
            return bytes(body)
    except TimeoutError:
        raise PriceMapError(
            f"could not read the price map from {url}: no answer within {timeout_s:g} s "
            "(offline? point --source or PRICE_MAP_SOURCE at a copy)"
        ) from None
    except aiohttp.ClientError as error:
        reason = str(error) or type(error).__name__
        raise PriceMapError(
            f"could not read the price map from {url}: {reason} "
            "(offline? point --source or PRICE_MAP_SOURCE at a copy)"
        ) from None


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        if path.stat().st_size > max_bytes:
            raise PriceMapError(f"the price map {path} is larger than {max_bytes} bytes")
        return path.read_bytes()
    except OSError as error:
        raise PriceMapError(
            f"could not read the price map {path}: {error.strerror or error}"
        ) from None
