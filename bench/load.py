"""The benchmark's load generator: a raw asyncio HTTP/1.1 client (uvloop, httptools' response
parser, one keep-alive connection per simulated client), run in its own process so that it
never shares an event loop with what it measures.

A phase runs `concurrency` closed-loop clients: each sends a request, waits for the whole
answer, and sends the next. After `warmup_s`, the measured window lasts `seconds` (or until
`max_requests` answers): the answers that arrive within it make the throughput and the
latency figures. Then no new request starts and those in flight are awaited, so every request
sent is answered and counted (`answered`, for checking the usage rows). Latency is from
writing the request to the last byte of the answer; for streams, time to first byte is to the
first byte of the body (the first event). When given a process id, the phase also reports
that process's CPU time per request (utime + stime from /proc, all its threads) over the
window, and when given its core, how busy that core was (whoever kept it busy).

    echo '<plan as JSON>' | .venv/bin/python -m bench.load     # prints the results as JSON
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
import orjson
import uvloop

from bench import procs

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROMPT = "Say hello to the benchmark, briefly."


@dataclass(frozen=True)
class Phase:
    name: str
    concurrency: int
    seconds: float
    warmup_s: float
    max_requests: int
    stream: bool
    requests: list[str] = field(default_factory=list)
    """Raw requests (latin-1 text), sent in turn; the plan's `requests` when empty."""


@dataclass(frozen=True)
class Plan:
    base_url: str
    requests: list[str]
    phases: list[Phase]
    pid: int | None = None
    """The process whose CPU time to measure (the server under test)."""
    core: int | None = None
    """The core that process is pinned to: how busy it was, whoever kept it busy."""


def chat_request(
    path: str,
    model: str,
    key: str,
    *,
    stream: bool = False,
    task_type: str | None = None,
    host: str = "127.0.0.1",
) -> str:
    """A raw `POST` of a small chat completion request, ready to write to the socket."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 64,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    payload = orjson.dumps(body)
    headers = [
        f"POST {path} HTTP/1.1",
        f"host: {host}",
        f"authorization: Bearer {key}",
        "content-type: application/json",
        "user-agent: switchboard-bench/1",
        f"content-length: {len(payload)}",
    ]
    if task_type:
        headers.append(f"x-task-type: {task_type}")
    # latin-1 maps bytes one to one: the text is the exact bytes to send.
    return "\r\n".join(headers) + "\r\n\r\n" + payload.decode("latin-1")


class _Answer:
    __slots__ = ("body", "done", "first_byte_at", "status")

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.status = 0
        self.first_byte_at = 0.0
        self.body: list[bytes] = []
        self.done = done


class _Client(asyncio.Protocol):
    """One keep-alive connection, one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._answer: _Answer | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, raw: bytes) -> _Answer:
        assert self.transport is not None
        self._answer = _Answer(self._loop.create_future())
        self.transport.write(raw)
        return self._answer

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._answer is not None and not self._answer.done.done():
            self._answer.done.set_exception(ConnectionError("the server closed the connection"))

    # httptools callbacks
    def on_headers_complete(self) -> None:
        assert self._answer is not None
        self._answer.status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        answer = self._answer
        assert answer is not None
        if not answer.body:
            answer.first_byte_at = time.perf_counter()
        answer.body.append(body)

    def on_message_complete(self) -> None:
        assert self._answer is not None
        self._answer.done.set_result(None)


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rpartition(b")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def core_busy_seconds(core: int) -> float:
    """Time core `core` spent running anything (not idle, not waiting for I/O), in seconds."""
    prefix = f"cpu{core} ".encode()
    with open("/proc/stat", "rb") as stat:
        for line in stat:
            if line.startswith(prefix):
                ticks = [int(value) for value in line.split()[1:]]
                idle = ticks[3] + ticks[4]
                return (sum(ticks[:8]) - idle) / CLOCK_TICKS
    return 0.0


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank; 0 for no data."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def spread_ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(s * 1000 for s in seconds)
    mean = sum(ordered) / len(ordered) if ordered else 0.0
    return {
        "p50": round(percentile(ordered, 0.5), 3),
        "p90": round(percentile(ordered, 0.9), 3),
        "p95": round(percentile(ordered, 0.95), 3),
        "p99": round(percentile(ordered, 0.99), 3),
        "max": round(ordered[-1], 3) if ordered else 0.0,
        "mean": round(mean, 3),
    }


class _Tally:
    def __init__(self) -> None:
        self.measuring = False
        self.stopping = False
        self.latencies: list[float] = []
        self.ttfb: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.incomplete_streams = 0
        self.sent = 0
        self.window_requests = 0


async def _client_loop(
    client: _Client, requests: list[bytes], offset: int, stream: bool, tally: _Tally
) -> None:
    index = offset
    clock = time.perf_counter
    while not tally.stopping:
        raw = requests[index % len(requests)]
        index += 1
        started = clock()
        answer = client.send(raw)
        tally.sent += 1
        try:
            await answer.done
        except ConnectionError:
            tally.errors += 1
            return
        finished = clock()
        tally.statuses[answer.status] = tally.statuses.get(answer.status, 0) + 1
        ok = answer.status == 200
        if ok and stream:
            body = b"".join(answer.body)
            if body.count(b"data: ") < 2 or not body.endswith(b"data: [DONE]\n\n"):
                tally.incomplete_streams += 1
                ok = False
        if not ok:
            tally.errors += 1
        if tally.measuring:  # answered within the window: counted, whenever it was sent
            tally.window_requests += 1
            tally.latencies.append(finished - started)
            if stream:
                tally.ttfb.append(answer.first_byte_at - started)


async def run_phase(plan: Plan, phase: Phase) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    target = urlsplit(plan.base_url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    raw = [r.encode("latin-1") for r in (phase.requests or plan.requests)]
    clients = [
        (await loop.create_connection(_Client, host, port))[1] for _ in range(phase.concurrency)
    ]
    tally = _Tally()
    tasks = [
        asyncio.ensure_future(_client_loop(client, raw, n, phase.stream, tally))
        for n, client in enumerate(clients)
    ]
    await asyncio.sleep(phase.warmup_s)
    cpu_start = cpu_seconds(plan.pid) if plan.pid else 0.0
    core_start = core_busy_seconds(plan.core) if plan.core is not None else 0.0
    started = time.perf_counter()
    tally.measuring = True
    deadline = started + phase.seconds
    while time.perf_counter() < deadline and tally.window_requests < phase.max_requests:
        await asyncio.sleep(0.01)
    tally.measuring = False
    window = time.perf_counter() - started
    cpu = (cpu_seconds(plan.pid) - cpu_start) if plan.pid else None
    core = (core_busy_seconds(plan.core) - core_start) if plan.core is not None else None
    tally.stopping = True
    await asyncio.gather(*tasks)
    for client in clients:
        assert client.transport is not None
        client.transport.close()
    done = tally.window_requests
    return {
        "concurrency": phase.concurrency,
        "stream": phase.stream,
        "window_s": round(window, 3),
        "requests": done,
        "rps": round(done / window, 1) if window else 0.0,
        "latency_ms": spread_ms(tally.latencies),
        "ttfb_ms": spread_ms(tally.ttfb) if phase.stream else None,
        "cpu_ms_per_request": round(cpu * 1000 / done, 4) if cpu is not None and done else None,
        "server_cpu_pct": round(cpu * 100 / window, 1) if cpu is not None else None,
        "core_busy_pct": round(core * 100 / window, 1) if core is not None else None,
        "errors": tally.errors,
        "incomplete_streams": tally.incomplete_streams,
        "statuses": {str(status): n for status, n in sorted(tally.statuses.items())},
        "sent": tally.sent,
        "answered": sum(tally.statuses.values()),
    }


async def run_plan(plan: Plan) -> dict[str, Any]:
    return {phase.name: await run_phase(plan, phase) for phase in plan.phases}


def plan_to_json(plan: Plan) -> bytes:
    return orjson.dumps(asdict(plan))


def plan_from_json(raw: bytes) -> Plan:
    values = orjson.loads(raw)
    values["phases"] = [Phase(**phase) for phase in values["phases"]]
    return Plan(**values)


def start_in_process(plan: Plan, cpu: int | None) -> subprocess.Popen[bytes]:
    """The plan run by `python -m bench.load` in its own process (pinned to `cpu`)."""
    command = procs.pinned(cpu, [sys.executable, "-m", "bench.load"])
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write(plan_to_json(plan))
    process.stdin.close()
    return process


def collect(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    assert process.stdout is not None
    output = process.stdout.read()
    if process.wait() != 0:
        raise RuntimeError(f"the load generator failed (exit {process.returncode})")
    result: dict[str, Any] = json.loads(output)
    return result


def run_in_process(plan: Plan, cpu: int | None) -> dict[str, Any]:
    return collect(start_in_process(plan, cpu))


def main() -> int:
    plan = plan_from_json(sys.stdin.buffer.read())
    results = uvloop.run(run_plan(plan))
    sys.stdout.write(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
