"""What an adapter keeps of a provider's error answer, against a real local server: at most
a bounded read of the body, and a short excerpt of its text in the error's message."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from switchboard.providers.base import ErrorKind, Upstream, UpstreamError
from switchboard.providers.openai_compat import OpenAICompatAdapter
from switchboard.vocabulary import AuthType
from tests.fake_upstream import FakeUpstream, Scripted

BODY = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}


def failure_for(status: int, body: bytes, content_type: str) -> UpstreamError:
    reply = Scripted(status=status, raw=body, headers={"content-type": content_type})
    fake = FakeUpstream(default=reply)

    async def main() -> UpstreamError:
        async with fake.serving(), aiohttp.ClientSession() as session:
            upstream = Upstream("big", fake.base_url, "m", None, AuthType.NONE)
            try:
                await OpenAICompatAdapter().complete(session, upstream, BODY)
            except UpstreamError as error:
                return error
            raise AssertionError("the call succeeded")

    return asyncio.run(main())


def test_a_huge_html_error_becomes_a_short_message() -> None:
    error = failure_for(502, b"<html>" + b"x" * 20_000_000 + b"</html>", "text/html")

    assert error.kind is ErrorKind.SERVER_ERROR
    assert error.message == "big answered 502: <html>" + "x" * 294


def test_a_json_error_with_a_huge_message_is_cut_in_the_message() -> None:
    said = "y" * 50_000
    body = orjson.dumps({"error": {"message": said, "type": "invalid_request_error"}})
    error = failure_for(400, body, "application/json")

    assert error.kind is ErrorKind.BAD_REQUEST
    assert error.message == "big answered 400: " + "y" * 300
    assert error.body is not None
    assert error.body["error"]["message"] == said  # passed on to the caller as the provider said
