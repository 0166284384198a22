"""Reading and writing Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp


async def iter_events(content: aiohttp.StreamReader) -> AsyncIterator[tuple[str, bytes]]:
    """`(event, data)` for each event of an SSE body; `event` is "" when not named."""
    event = ""
    data: list[bytes] = []
    async for raw_line in content:
        line = raw_line.rstrip(b"\r\n")
        if not line:
            if data:
                yield event, b"\n".join(data)
            event, data = "", []
        elif line.startswith(b"data:"):
            data.append(line[5:].lstrip(b" "))
        elif line.startswith(b"event:"):
            event = line[6:].strip().decode("utf-8", "replace")
    if data:
        yield event, b"\n".join(data)


def encode_event(data: bytes, event: str | None = None) -> bytes:
    """One SSE event: `event: …` (when named), `data: …`, and the blank line that ends it."""
    if event:
        return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
    return b"data: " + data + b"\n\n"
