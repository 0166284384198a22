"""How an OpenAI-compatible stream ends, against a real local HTTP server: `[DONE]` or a finish
reason is a complete answer; a body that ends cleanly with neither is a truncated one."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

from switchboard.providers.base import ErrorKind, Upstream, UpstreamError
from switchboard.providers.openai_compat import OpenAICompatAdapter
from switchboard.vocabulary import AuthType
from tests.fake_upstream import FakeUpstream, stream_reply

BODY = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


def chunk(content: str | None = None, finish_reason: str | None = None) -> dict[str, Any]:
    delta = {"content": content} if content is not None else {}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1718000000,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


USAGE = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1718000000,
    "model": "m",
    "choices": [],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}
TEXT = [chunk("Hel"), chunk("lo")]
FINISHED = [*TEXT, chunk(finish_reason="stop"), USAGE]


def sse(chunks: list[dict[str, Any]], *, done: bool) -> bytes:
    events = [b"data: " + orjson.dumps(piece) + b"\n\n" for piece in chunks]
    return b"".join(events) + (b"data: [DONE]\n\n" if done else b"")


def stream_from(body: bytes) -> tuple[list[dict[str, Any]], UpstreamError | None]:
    """The chunks the adapter yielded for a server answering `body`, and what it raised."""
    received: list[dict[str, Any]] = []
    fake = FakeUpstream(default=stream_reply(body))

    async def main() -> UpstreamError | None:
        async with fake.serving(), aiohttp.ClientSession() as session:
            timeouts = {"connect_timeout_s": 2.0, "timeout_s": 10.0}
            upstream = Upstream("vllm", fake.base_url, "m", None, AuthType.NONE, **timeouts)
            try:
                async for piece in OpenAICompatAdapter().stream(session, upstream, BODY):
                    received.append(piece)
            except UpstreamError as error:
                return error
            return None

    return received, asyncio.run(main())


@pytest.mark.parametrize(
    "body",
    [
        sse(FINISHED, done=True),
        # Older vLLM and Ollama versions: a finish reason and usage, then the body just ends.
        sse(FINISHED, done=False),
        sse(FINISHED[:-1], done=False),
        # [DONE] is the server's own word that it is done.
        sse(TEXT, done=True),
    ],
    ids=["done", "finish-reason-no-done", "finish-reason-no-usage-no-done", "done-alone"],
)
def test_a_stream_with_done_or_a_finish_reason_is_complete(body: bytes) -> None:
    received, error = stream_from(body)

    assert error is None
    assert received[:2] == TEXT


@pytest.mark.parametrize(
    "chunks", [TEXT, [*TEXT, USAGE], []], ids=["text", "text-and-usage", "nothing"]
)
def test_a_stream_ending_without_done_or_a_finish_reason_is_truncated(
    chunks: list[dict[str, Any]],
) -> None:
    received, error = stream_from(sse(chunks, done=False))

    assert received == chunks  # what came is relayed, then the error
    assert error is not None
    assert error.kind is ErrorKind.PROTOCOL
    assert error.retryable
    assert error.status is None
    assert error.message == (
        "vllm ended the stream without a finish reason or [DONE]: the answer is cut short"
    )
