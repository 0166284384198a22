"""The gateway benchmark: one Switchboard worker, the full pipeline, against a fast fake upstream.

A fresh SQLite database in a temporary directory gets a catalog of 300 models (bench.catalog),
a user and a virtual key; the fake upstream (bench.fake_upstream) runs in its own process, and
`switchboard serve --workers 1` serves the gateway with virtual-key auth, routing, and the
usage spool and writer. The gateway is pinned to core 1; the fake upstream and the load
generator (bench.load, its own process) share core 0. Measured at concurrency 1, 8 and 32,
through the gateway and directly against the fake upstream: requests/s, latency (p50, p99)
and so the latency the gateway adds; streams (16 chunks): time to first byte, total,
streams/s; the gateway's CPU time per request; its memory at start and after the run; the
time from starting the process to `/health/ready` answering. At the end the usage rows in
the database are counted against the requests the gateway answered. Targets are reported,
never asserted: the exit code is always 0.

    .venv/bin/python -m bench.gateway [--json]          (make bench)
    BENCH_SECONDS=4        seconds measured per phase (after 0.5 s of warm-up)
    BENCH_SOAK_S=300       also run 300 s at concurrency 32, sampling memory every 10 s
    BENCH_COMPARE=litellm  also measure LiteLLM's proxy (installed in bench/.venv-litellm)
    BENCH_REDIS_URL=…      the Redis of the run with limits on (default 127.0.0.1:6379;
                           `none` skips that run)

The gateway runs with its defaults, metrics on (`/metrics`, fed by every request). What they
cost is measured apart: two more gateways, one with METRICS_ENABLED=false, take the
whole-answer phases in turn (off, on, at each concurrency, twice), so that both meet the same
machine; the best of each is kept.

With limits on, a further gateway runs the whole-answer phases with REDIS_URL set and every
tier limited (requests and tokens per minute, concurrent requests, a monthly budget), all far
above what the load reaches: every request is admitted by its one Lua script and settled, and
none is refused. Its keys (under a prefix of the run's own) are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

import switchboard
from bench import catalog, compare_litellm, load, procs, report
from bench.fake_upstream import start as start_upstream
from switchboard.settings import Settings

PATH = "/v1/chat/completions"
LEVELS = (1, 8, 32)
WARMUP_S = 0.5
MAX_REQUESTS = 10**7
READY_TIMEOUT_S = 60.0
SOAK_SAMPLE_S = 10.0
POWER_LEVELS = ("balanced", "eco", "precision", "auto")
TASK_TYPES = (None, "chat", "code")
# A gateway under benchmark runs with the settings' defaults, whatever the caller's environment.
_SCRUBBED = {name.upper() for name in Settings.model_fields}


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    ready_s: float
    rss_start_mb: float
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def launch(
    name: str,
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    workdir: Path,
    port: int,
    ready_path: str,
) -> Server:
    """Start a server on the server core; time it until `ready_path` answers 200."""
    log_path = workdir / f"{name}.log"
    with log_path.open("ab") as log_file:
        started = time.perf_counter()
        process = subprocess.Popen(
            procs.pinned(procs.SERVER_CPU, command),
            cwd=workdir,
            env=dict(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        ready_s = procs.wait_ready(process, port, ready_path, started, READY_TIMEOUT_S)
    except RuntimeError as error:
        procs.stop(process)
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{name}: {error}\n{tail}") from None
    return Server(name, process, port, ready_s, procs.rss_mb(process.pid), log_path)


def compile_bytecode() -> None:
    """Compile Switchboard's modules as an installed package has them (pip compiles what it
    installs; an editable checkout run with PYTHONDONTWRITEBYTECODE never does), so that the
    start is timed as a deployment would see it."""
    package = Path(switchboard.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)


LIMITS_EVERYWHERE = json.dumps(
    {
        tier: {
            "requests_per_minute": 10**9,
            "tokens_per_minute": 10**9,
            "max_concurrent_requests": 10**6,
            "budget_usd": "100000000",
        }
        for tier in ("free", "starter", "professional", "enterprise")
    }
)


def start_gateway(
    workdir: Path,
    database_url: str,
    encryption_key: str,
    extra: Mapping[str, str] | None = None,
    name: str = "switchboard",
) -> Server:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in _SCRUBBED and not name.endswith("_API_KEY")
    }
    env.update(
        DATABASE_URL=database_url,
        ENCRYPTION_KEY=encryption_key,
        SPOOL_DIR=str(workdir / "spool"),
    )
    env.update(extra or {})
    port = procs.free_port()
    command = [sys.executable, "-m", "switchboard", "serve", "--workers", "1"]
    return launch(
        name,
        [*command, "--port", str(port)],
        env=env,
        workdir=workdir,
        port=port,
        ready_path="/health/ready",
    )


def phases(
    plain: list[str], streamed: list[str], *, seconds: float, warmup_s: float = WARMUP_S
) -> list[load.Phase]:
    whole = [load.Phase(f"c{c}", c, seconds, warmup_s, MAX_REQUESTS, False, plain) for c in LEVELS]
    streams = [
        load.Phase(f"stream-c{c}", c, seconds, warmup_s, MAX_REQUESTS, True, streamed)
        for c in LEVELS
    ]
    return whole + streams


def gateway_requests(key: str, *, stream: bool) -> list[str]:
    """Requests by power level and task type, in turn: routing sees several request shapes."""
    return [
        load.chat_request(PATH, model, key, stream=stream, task_type=task)
        for model in POWER_LEVELS
        for task in TASK_TYPES
    ]


def measure(server: Server, plain: list[str], streamed: list[str], seconds: float) -> Any:
    """Every phase against `server`, its CPU per request, and its memory afterwards."""
    plan = load.Plan(
        base_url=server.base_url,
        requests=plain,
        phases=phases(plain, streamed, seconds=seconds, warmup_s=WARMUP_S),
        pid=server.process.pid,
        core=procs.SERVER_CPU if procs.can_pin() else None,
    )
    results = load.run_in_process(plan, cpu=procs.CLIENT_CPU)
    return {
        "ready_s": round(server.ready_s, 3),
        "rss_start_mb": server.rss_start_mb,
        "rss_after_mb": procs.rss_mb(server.process.pid),
        "phases": results,
    }


def measure_limits(
    workdir: Path, database_url: str, encryption_key: str, plain: list[str], seconds: float
) -> dict[str, Any]:
    """The whole-answer phases again, on a gateway with limits on and counted in Redis."""
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_url.strip().lower() == "none":
        return {"skipped": "BENCH_REDIS_URL=none"}
    import redis

    prefix = f"bench:{os.getpid()}:{time.time_ns()}:"
    extra = {
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "TIER_LIMITS": LIMITS_EVERYWHERE,
    }
    try:
        redis.Redis.from_url(redis_url, socket_timeout=2).ping()
    except redis.RedisError as error:
        return {"skipped": f"Redis at {redis_url} does not answer: {type(error).__name__}"}
    server = start_gateway(workdir, database_url, encryption_key, extra, name="switchboard-limits")
    try:
        plan = load.Plan(
            base_url=server.base_url,
            requests=plain,
            phases=[p for p in phases(plain, [], seconds=seconds) if not p.stream],
            pid=server.process.pid,
            core=procs.SERVER_CPU if procs.can_pin() else None,
        )
        results = load.run_in_process(plan, cpu=procs.CLIENT_CPU)
        refused = sum(p.get("errors", 0) for p in results.values())
    finally:
        procs.stop(server.process)
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    return {"redis_url": redis_url, "phases": results, "errors": refused}


METRICS_ROUNDS = 2


def measure_metrics(
    workdir: Path, database_url: str, encryption_key: str, plain: list[str], seconds: float
) -> dict[str, Any]:
    """The whole-answer phases on a gateway with metrics off and one with them on, in turn;
    for each, the best round of each phase (the most req/s, and the least CPU a request)."""
    servers = {
        "off": start_gateway(
            workdir, database_url, encryption_key, {"METRICS_ENABLED": "false"}, name="bare"
        )
    }
    try:
        servers["on"] = start_gateway(workdir, database_url, encryption_key, name="metered")
        best: dict[str, dict[str, Any]] = {"off": {}, "on": {}}
        for _ in range(METRICS_ROUNDS):
            for phase in (p for p in phases(plain, [], seconds=seconds) if not p.stream):
                for mode, server in servers.items():
                    plan = load.Plan(
                        base_url=server.base_url,
                        requests=plain,
                        phases=[phase],
                        pid=server.process.pid,
                        core=procs.SERVER_CPU if procs.can_pin() else None,
                    )
                    result = load.run_in_process(plan, cpu=procs.CLIENT_CPU)[phase.name]
                    best[mode][phase.name] = _better(best[mode].get(phase.name), result)
        return {mode: {"phases": found} for mode, found in best.items()}
    finally:
        for server in servers.values():
            procs.stop(server.process)


def _better(kept: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, Any]:
    if kept is None:
        return result
    cpu = [ms for ms in (kept["cpu_ms_per_request"], result["cpu_ms_per_request"]) if ms]
    chosen = dict(max(kept, result, key=lambda phase: phase["rps"]))
    chosen["cpu_ms_per_request"] = min(cpu) if cpu else None
    return chosen


def soak(server: Server, plain: list[str], seconds: float) -> dict[str, Any]:
    """A long run at concurrency 32, sampling the server's memory every 10 s."""
    plan = load.Plan(
        base_url=server.base_url,
        requests=plain,
        phases=[load.Phase("soak", 32, seconds, WARMUP_S, MAX_REQUESTS, False, plain)],
        pid=server.process.pid,
    )
    process = load.start_in_process(plan, cpu=procs.CLIENT_CPU)
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    while process.poll() is None:
        samples.append((round(time.monotonic() - started, 1), procs.rss_mb(server.process.pid)))
        time.sleep(SOAK_SAMPLE_S)
    result = load.collect(process)["soak"]
    samples.append((round(time.monotonic() - started, 1), procs.rss_mb(server.process.pid)))
    settled = [rss for at, rss in samples if at >= 30] or [rss for _, rss in samples]
    return {
        "seconds": seconds,
        "rps": result["rps"],
        "answered": result["answered"],
        "errors": result["errors"],
        "rss_samples_mb": samples,
        "rss_growth_after_30s_mb": round(settled[-1] - settled[0], 1),
        "rss_max_mb": max(rss for _, rss in samples),
    }


def verify_usage(database_url: str, answered: int, timeout_s: float = 20.0) -> dict[str, Any]:
    """Wait for the writer to store every answered request's row, then count them."""
    deadline = time.monotonic() + timeout_s
    started = time.monotonic()
    rows = catalog.usage_rows(database_url)
    while rows < answered and time.monotonic() < deadline:
        time.sleep(0.2)
        rows = catalog.usage_rows(database_url)
    waited = round(time.monotonic() - started, 2)
    return {"answered": answered, "rows": rows, "equal": rows == answered, "waited_s": waited}


def measure_litellm(workdir: Path, upstream_url: str, seconds: float) -> dict[str, Any]:
    """LiteLLM's proxy measured the same way, or why it could not be."""
    try:
        executable = compare_litellm.install()
    except compare_litellm.UnavailableError as error:
        print(f"LiteLLM comparison skipped: {error}", file=sys.stderr)
        return {"unavailable": str(error)}
    port = procs.free_port()
    master_key = compare_litellm.new_master_key()
    config = compare_litellm.write_config(workdir, upstream_url, master_key)
    try:
        server = launch(
            "litellm",
            compare_litellm.command(executable, config, port),
            env=compare_litellm.environment(),
            workdir=workdir,
            port=port,
            ready_path=compare_litellm.READY_PATH,
        )
    except RuntimeError as error:
        print(f"LiteLLM comparison skipped: {error}", file=sys.stderr)
        return {"unavailable": str(error)[-600:]}
    try:
        plain = compare_litellm.requests(master_key, stream=False)
        streamed = compare_litellm.requests(master_key, stream=True)
        return dict(measure(server, plain, streamed, seconds), version=compare_litellm.VERSION)
    finally:
        procs.stop(server.process)


def run(seconds: float, soak_s: float, compare: str, keep_in: Path | None = None) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "setup": {
            "seconds_per_phase": seconds,
            "warmup_s": WARMUP_S,
            "pinned": procs.can_pin(),
            "cpus": os.cpu_count(),
        },
        "machine": {"loadavg_before": procs.loadavg()},
    }
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as directory:
        workdir = Path(keep_in or directory)
        workdir.mkdir(parents=True, exist_ok=True)
        upstream_port = procs.free_port()
        upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
        database_url = f"sqlite:///{workdir / 'switchboard.db'}"
        encryption_key = Fernet.generate_key().decode()
        tenant = catalog.build(database_url, encryption_key, upstream_url)
        figures["catalog"] = {
            "providers": tenant.providers,
            "models": tenant.models,
            "rules": tenant.rules,
        }
        upstream = start_upstream(upstream_port, cpu=procs.CLIENT_CPU)
        try:
            direct = load.Plan(
                base_url=f"http://127.0.0.1:{upstream_port}",
                requests=[],
                phases=phases(
                    [load.chat_request(PATH, "bench-model", catalog.SYSTEM_KEY)],
                    [load.chat_request(PATH, "bench-model", catalog.SYSTEM_KEY, stream=True)],
                    seconds=seconds,
                ),
            )
            figures["direct"] = {"phases": load.run_in_process(direct, cpu=procs.CLIENT_CPU)}
            compile_bytecode()
            gateway = start_gateway(workdir, database_url, encryption_key)
            try:
                plain = gateway_requests(tenant.virtual_key, stream=False)
                streamed = gateway_requests(tenant.virtual_key, stream=True)
                figures["switchboard"] = measure(gateway, plain, streamed, seconds)
                answered = sum(p["answered"] for p in figures["switchboard"]["phases"].values())
                if soak_s > 0:
                    figures["soak"] = soak(gateway, plain, soak_s)
                    answered += figures["soak"]["answered"]
                figures["usage"] = verify_usage(database_url, answered)
            finally:
                procs.stop(gateway.process)
            figures["metrics"] = measure_metrics(
                workdir, database_url, encryption_key, plain, seconds
            )
            figures["limits"] = measure_limits(
                workdir, database_url, encryption_key, plain, seconds
            )
            if compare == "litellm":
                figures["litellm"] = measure_litellm(workdir, upstream_url, seconds)
        finally:
            procs.stop(upstream)
    figures["machine"]["loadavg_after"] = procs.loadavg()
    figures["verdicts"] = report.verdicts(figures)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gateway", description="Gateway throughput, latency, CPU, memory."
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="work in DIR (database, spool, logs) and keep it"
    )
    args = parser.parse_args(argv)
    seconds = float(os.environ.get("BENCH_SECONDS", "4"))
    soak_s = float(os.environ.get("BENCH_SOAK_S", "0"))
    compare = os.environ.get("BENCH_COMPARE", "").strip().lower()
    try:
        figures = run(seconds, soak_s, compare, args.keep)
    except RuntimeError as error:  # a server that would not start: say so, it is a report
        print(f"the benchmark could not run: {error}", file=sys.stderr)
        return 0
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        report.print_report(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
