"""Reading and writing Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from switchboard.providers.base import ErrorKind, UpstreamError

MAX_LINE_BYTES = 8 * 1024 * 1024
"""The longest SSE line accepted (one event's `data:`); a provider sending more is broken."""


async def iter_events(content: aiohttp.StreamReader) -> AsyncIterator[tuple[str, bytes]]:
    """`(event, data)` for each event of an SSE body; `event` is "" when not named.

    Reads whatever has arrived (`iter_any`) and splits it into lines here: one wait per
    network read rather than one per line, so the events that arrived together are relayed
    together (see `api.streaming`)."""
    event = ""
    data: list[bytes] = []
    partial = b""
    async for block in content.iter_any():
        lines = (partial + block if partial else block).split(b"\n")
        partial = lines.pop()
        if len(partial) > MAX_LINE_BYTES:
            raise UpstreamError(ErrorKind.PROTOCOL, "a server-sent event line is too long")
        for raw_line in lines:
            line = raw_line.rstrip(b"\r")
            if not line:
                if data:
                    yield event, b"\n".join(data)
                event, data = "", []
            elif line.startswith(b"data:"):
                data.append(line[5:].lstrip(b" "))
            elif line.startswith(b"event:"):
                event = line[6:].strip().decode("utf-8", "replace")
    line = partial.rstrip(b"\r")
    if line.startswith(b"data:"):
        data.append(line[5:].lstrip(b" "))
    if data:
        yield event, b"\n".join(data)


def encode_event(data: bytes, event: str | None = None) -> bytes:
    """One SSE event: `event: …` (when named), `data: …`, and the blank line that ends it."""
    if event:
        return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
    return b"data: " + data + b"\n\n"
