"""Reading SSE from what the network delivers, however it is cut."""

from __future__ import annotations

import asyncio
from unittest import mock

import aiohttp
import pytest

from switchboard.providers._sse import MAX_LINE_BYTES, encode_event, iter_events
from switchboard.providers.base import ErrorKind, UpstreamError


def read(*blocks: bytes) -> list[tuple[str, bytes]]:
    """The events `iter_events` yields for a body that arrives as `blocks`."""

    async def main() -> list[tuple[str, bytes]]:
        protocol = mock.Mock(_reading_paused=False)
        content = aiohttp.StreamReader(protocol, limit=2**16, loop=asyncio.get_running_loop())
        for block in blocks:
            content.feed_data(block)
        content.feed_eof()
        return [event async for event in iter_events(content)]

    return asyncio.run(main())


BODY = (
    b'event: message_start\ndata: {"a":1}\n\n'
    b"data: line one\ndata: line two\n\n"
    b": a comment\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [("message_start", b'{"a":1}'), ("", b"line one\nline two"), ("", b"[DONE]")]


def test_events_in_one_block() -> None:
    assert read(BODY) == EXPECTED


@pytest.mark.parametrize("cut", [1, 5, 17, 30, 45, len(BODY) - 1])
def test_events_cut_anywhere_between_blocks(cut: int) -> None:
    assert read(BODY[:cut], BODY[cut:]) == EXPECTED


def test_byte_by_byte() -> None:
    assert read(*(BODY[i : i + 1] for i in range(len(BODY)))) == EXPECTED


def test_crlf_line_ends() -> None:
    assert read(BODY.replace(b"\n", b"\r\n")) == EXPECTED


def test_a_last_event_without_its_blank_line_or_newline() -> None:
    assert read(b"data: x\n\ndata: last") == [("", b"x"), ("", b"last")]
    assert read(b"data: x\n\ndata: last\n") == [("", b"x"), ("", b"last")]


def test_a_line_longer_than_the_limit_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamError) as raised:
        read(b"data: " + b"x" * MAX_LINE_BYTES, b"x")
    assert raised.value.kind is ErrorKind.PROTOCOL


def test_encoded_events_read_back() -> None:
    body = encode_event(b'{"n":1}', "delta") + encode_event(b"[DONE]")
    assert read(body) == [("delta", b'{"n":1}'), ("", b"[DONE]")]
