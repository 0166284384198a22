"""A fast fake OpenAI-compatible upstream for the gateway benchmark: a raw asyncio HTTP/1.1
server (uvloop, httptools' parser, keep-alive) that answers `POST /v1/chat/completions`
with a fixed small completion carrying `usage`, or, when the body asks for `"stream": true`,
16 content chunks, a usage chunk and `[DONE]` as Server-Sent Events. It must never be the
bottleneck of what it serves: every answer is prebuilt bytes, written in one call.

    .venv/bin/python -m bench.fake_upstream            # measure its own throughput
    .venv/bin/python -m bench.fake_upstream --serve --port P   # just serve (used by bench.gateway)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import subprocess
import sys
from typing import Any, cast

import httptools
import orjson
import uvloop

from bench import load, procs

STREAM_CHUNKS = 16
PROMPT_TOKENS, COMPLETION_TOKENS = 12, STREAM_CHUNKS
CREATED = 1_700_000_000
COMPLETION_PATH = b"/v1/chat/completions"


def _completion_body() -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": "bench-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello from the fake upstream."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        }
    )


def _stream_body() -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": "bench-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    events = [chunk({"role": "assistant", "content": "tok0 "}, None)]
    events += [chunk({"content": f"tok{n} "}, None) for n in range(1, STREAM_CHUNKS - 1)]
    events.append(chunk({"content": "end."}, "stop"))
    usage = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "bench-model",
        "choices": [],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        },
    }
    lines = [b"data: " + orjson.dumps(event) + b"\n\n" for event in [*events, usage]]
    return b"".join(lines) + b"data: [DONE]\n\n"


def _response(status: bytes, content_type: bytes, body: bytes, *, chunked: bool = False) -> bytes:
    head = b"HTTP/1.1 " + status + b"\r\ncontent-type: " + content_type + b"\r\n"
    if chunked:  # as real providers stream: one HTTP chunk per SSE event
        events = [event + b"\n\n" for event in body.split(b"\n\n") if event]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events)
        return head + b"transfer-encoding: chunked\r\n\r\n" + framed + b"0\r\n\r\n"
    return head + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body


COMPLETION = _response(b"200 OK", b"application/json", _completion_body())
STREAM = _response(b"200 OK", b"text/event-stream", _stream_body(), chunked=True)
MODELS = _response(b"200 OK", b"application/json", b'{"object":"list","data":[]}')
NOT_FOUND = _response(b"404 Not Found", b"application/json", b'{"error":{"message":"no"}}')


class _Connection(asyncio.Protocol):
    """One client connection: parse requests as they come, answer each when it is complete."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            assert self._transport is not None
            self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._body.clear()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        transport = self._transport
        assert transport is not None
        path = self._url.partition(b"?")[0]
        if path == COMPLETION_PATH and self._parser.get_method() == b"POST":
            body = b"".join(self._body)
            streaming = b'"stream":true' in body or b'"stream": true' in body
            transport.write(STREAM if streaming else COMPLETION)
        elif path.endswith(b"/models"):
            transport.write(MODELS)
        else:
            transport.write(NOT_FOUND)
        if not self._parser.should_keep_alive():
            transport.close()


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Connection, "127.0.0.1", port, backlog=4096)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"fake upstream on 127.0.0.1:{port}", flush=True)
    async with server:
        await stop.wait()


def start(port: int, cpu: int | None) -> subprocess.Popen[bytes]:
    """The fake upstream in its own process (pinned to `cpu`), listening once this returns."""
    command = procs.pinned(cpu, [sys.executable, "-m", "bench.fake_upstream", "--serve"])
    process = subprocess.Popen([*command, "--port", str(port)], stdout=subprocess.DEVNULL)
    procs.wait_listening(process, port)
    return process


def self_test(seconds: float, concurrency: int) -> dict[str, Any]:
    """Serve on core 0, load from core 1 (bench.load): the upstream's own answers per second,
    whole and streamed."""
    port = procs.free_port()
    process = start(port, cpu=procs.CLIENT_CPU)
    path = COMPLETION_PATH.decode()
    try:
        plan = load.Plan(
            base_url=f"http://127.0.0.1:{port}",
            requests=[load.chat_request(path, "bench-model", "sk-x")],
            phases=[
                load.Phase("completions", concurrency, seconds, 0.5, 10**7, stream=False),
                load.Phase(
                    "streams",
                    concurrency,
                    seconds,
                    0.5,
                    10**7,
                    stream=True,
                    requests=[load.chat_request(path, "bench-model", "sk-x", stream=True)],
                ),
            ],
        )
        result = load.run_in_process(plan, cpu=procs.SERVER_CPU)
    finally:
        procs.stop(process)
    keep = ("requests", "errors", "rps", "latency_ms")
    return {
        "concurrency": concurrency,
        **{name: {key: phase[key] for key in keep} for name, phase in result.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fake_upstream")
    parser.add_argument("--serve", action="store_true", help="serve until SIGTERM")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    if args.serve:
        uvloop.run(serve(args.port or procs.free_port()))
        return 0
    figures = self_test(args.seconds, args.concurrency)
    print(json.dumps(figures, indent=2))
    print(
        f"fake upstream at concurrency {args.concurrency}: "
        f"{figures['completions']['rps']:,.0f} completions/s, "
        f"{figures['streams']['rps']:,.0f} streams/s ({STREAM_CHUNKS} chunks)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
