"""What limits cost the gateway: the same whole-answer phases on a gateway without limits and on
one with `REDIS_URL` set and every tier limited (bench.gateway's `LIMITS_EVERYWHERE`: every
request admitted by Redis and settled, none refused), in turn, for several rounds, so that
both meet the same machine. Reported per concurrency: the medians over the rounds of req/s,
latency p50 and p95, and the gateway's CPU time per request, off and on; what limits add to
p50 and p95; the throughput share (on/off req/s, and off/on CPU per request, which a busy
machine disturbs less).

    .venv/bin/python -m bench.limits [--json]          (make bench-limits)
    BENCH_SECONDS=4        seconds measured per phase (after 0.5 s of warm-up)
    BENCH_ROUNDS=3         rounds of off/on
    BENCH_LEVELS=1,32      concurrencies
    BENCH_REDIS_URL=…      the Redis of the limits (default redis://127.0.0.1:6379/0)

Targets (issue 12), reported, never asserted: added p50 at concurrency 1 under 0.3 ms, and at
least 80 % of the throughput without limits.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from bench import catalog, load, procs
from bench.fake_upstream import start as start_upstream
from bench.gateway import (
    LIMITS_EVERYWHERE,
    MAX_REQUESTS,
    WARMUP_S,
    Server,
    compile_bytecode,
    gateway_requests,
    start_gateway,
)

MAX_ADDED_P50_MS = 0.3
MIN_SHARE = 0.8


def redis_cpu_s(redis_url: str) -> float:
    """The Redis server's CPU time so far (user and system, all its threads)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        info: Any = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    finally:
        client.close()


def measure_phase(
    server: Server, plain: list[str], concurrency: int, seconds: float, redis_url: str | None
) -> Any:
    phase = load.Phase(f"c{concurrency}", concurrency, seconds, WARMUP_S, MAX_REQUESTS, False)
    plan = load.Plan(
        base_url=server.base_url,
        requests=plain,
        phases=[phase],
        pid=server.process.pid,
        core=procs.SERVER_CPU if procs.can_pin() else None,
    )
    before = redis_cpu_s(redis_url) if redis_url else 0.0
    result: dict[str, Any] = load.run_in_process(plan, cpu=procs.CLIENT_CPU)[phase.name]
    if redis_url:  # over the whole phase (warm-up included): Redis serves others too
        requests = result["sent"] or 1
        result["redis_cpu_ms_per_request"] = round(
            (redis_cpu_s(redis_url) - before) * 1000 / requests, 4
        )
    return result


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds of one server at one concurrency."""
    cpu = [r["cpu_ms_per_request"] for r in rounds if r["cpu_ms_per_request"]]
    return {
        "rps": round(statistics.median(r["rps"] for r in rounds), 1),
        "p50_ms": round(statistics.median(r["latency_ms"]["p50"] for r in rounds), 3),
        "p95_ms": round(statistics.median(_p95(r) for r in rounds), 3),
        "cpu_ms_per_request": round(statistics.median(cpu), 4) if cpu else None,
        "errors": sum(r["errors"] for r in rounds),
        "redis_cpu_ms_per_request": _median_of(rounds, "redis_cpu_ms_per_request"),
        "rounds": [
            {
                "rps": r["rps"],
                "p50_ms": r["latency_ms"]["p50"],
                "p95_ms": _p95(r),
                "cpu_ms_per_request": r["cpu_ms_per_request"],
            }
            for r in rounds
        ],
    }


def _median_of(rounds: list[dict[str, Any]], name: str) -> float | None:
    found = [r[name] for r in rounds if r.get(name) is not None]
    return round(statistics.median(found), 4) if found else None


def _p95(result: dict[str, Any]) -> float:
    return float(result["latency_ms"]["p95"])


def run(seconds: float, rounds: int, levels: list[int], redis_url: str) -> dict[str, Any]:
    import redis

    redis.Redis.from_url(redis_url, socket_timeout=2).ping()
    prefix = f"bench:{os.getpid()}:{time.time_ns()}:"
    figures: dict[str, Any] = {
        "setup": {"seconds_per_phase": seconds, "rounds": rounds, "redis_url": redis_url},
        "loadavg_before": procs.loadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as directory:
        workdir = Path(directory)
        upstream_port = procs.free_port()
        database_url = f"sqlite:///{workdir / 'switchboard.db'}"
        encryption_key = Fernet.generate_key().decode()
        tenant = catalog.build(database_url, encryption_key, f"http://127.0.0.1:{upstream_port}/v1")
        upstream = start_upstream(upstream_port, cpu=procs.CLIENT_CPU)
        servers: dict[str, Server] = {}
        try:
            compile_bytecode()
            servers["off"] = start_gateway(workdir, database_url, encryption_key, name="off")
            servers["on"] = start_gateway(
                workdir,
                database_url,
                encryption_key,
                {
                    "REDIS_URL": redis_url,
                    "REDIS_KEY_PREFIX": prefix,
                    "TIER_LIMITS": LIMITS_EVERYWHERE,
                },
                name="on",
            )
            plain = gateway_requests(tenant.virtual_key, stream=False)
            results: dict[str, dict[int, list[dict[str, Any]]]] = {"off": {}, "on": {}}
            for n in range(rounds):
                for concurrency in levels:
                    order = ("off", "on") if n % 2 == 0 else ("on", "off")
                    for mode in order:
                        found = measure_phase(
                            servers[mode],
                            plain,
                            concurrency,
                            seconds,
                            redis_url if mode == "on" else None,
                        )
                        results[mode].setdefault(concurrency, []).append(found)
        finally:
            for server in servers.values():
                procs.stop(server.process)
            procs.stop(upstream)
            _delete_keys(redis_url, prefix)
    figures["levels"] = {
        f"c{c}": _compare(summary(results["off"][c]), summary(results["on"][c])) for c in levels
    }
    figures["loadavg_after"] = procs.loadavg()
    return figures


def _compare(off: dict[str, Any], on: dict[str, Any]) -> dict[str, Any]:
    cpu_off, cpu_on = off["cpu_ms_per_request"], on["cpu_ms_per_request"]
    return {
        "off": off,
        "on": on,
        "added_p50_ms": round(on["p50_ms"] - off["p50_ms"], 3),
        "added_p95_ms": round(on["p95_ms"] - off["p95_ms"], 3),
        "added_cpu_ms_per_request": round(cpu_on - cpu_off, 4) if cpu_on and cpu_off else None,
        "rps_share": round(on["rps"] / off["rps"], 3) if off["rps"] else 0.0,
        "cpu_share": round(cpu_off / cpu_on, 3) if cpu_on and cpu_off else None,
    }


def _delete_keys(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def print_report(figures: dict[str, Any]) -> None:
    setup = figures["setup"]
    print(
        f"limits off/on, {setup['rounds']} rounds of {setup['seconds_per_phase']:g} s, medians"
        f" (load average {figures['loadavg_before']} before, {figures['loadavg_after']} after)"
    )
    print(
        f"{'':<6}{'off/s':>9}{'on/s':>9}{'share':>7}  {'p50 off/on':>15}{'+p50':>8}"
        f"  {'p95 off/on':>15}{'+p95':>8}  {'CPU ms/req off/on':>18}{'share':>7}"
    )
    for name, level in figures["levels"].items():
        off, on = level["off"], level["on"]
        print(
            f"{name:<6}{off['rps']:>9,.0f}{on['rps']:>9,.0f}{level['rps_share']:>7.1%}  "
            f"{off['p50_ms']:>7.3f}/{on['p50_ms']:<7.3f}{level['added_p50_ms']:>8.3f}  "
            f"{off['p95_ms']:>7.3f}/{on['p95_ms']:<7.3f}{level['added_p95_ms']:>8.3f}  "
            f"{off['cpu_ms_per_request'] or 0:>8.3f}/{on['cpu_ms_per_request'] or 0:<9.3f}"
            f"{level['cpu_share'] or 0:>7.1%}"
        )
    for name, level in figures["levels"].items():
        print(
            f"{name}: Redis CPU ms per request (limits on): "
            f"{level['on']['redis_cpu_ms_per_request']}"
        )
    c1 = figures["levels"].get("c1")
    if c1 is not None:
        verdict = "pass" if c1["added_p50_ms"] < MAX_ADDED_P50_MS else "FAIL"
        print(f"added p50 at c1: {c1['added_p50_ms']:.3f} ms (< {MAX_ADDED_P50_MS}): {verdict}")
    best = max(figures["levels"].values(), key=lambda level: level["on"]["rps"])
    verdict = "pass" if best["rps_share"] >= MIN_SHARE else "FAIL"
    print(
        f"req/s share at the best concurrency: {best['rps_share']:.3f} (>= {MIN_SHARE}): {verdict}"
    )
    errors = sum(
        level["on"]["errors"] + level["off"]["errors"] for level in figures["levels"].values()
    )
    print(f"errors: {errors}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.limits", description="What limits in Redis cost the gateway."
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    seconds = float(os.environ.get("BENCH_SECONDS", "4"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    levels = [int(c) for c in os.environ.get("BENCH_LEVELS", "1,32").split(",")]
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        figures = run(seconds, rounds, levels, redis_url)
    except RuntimeError as error:
        print(f"the benchmark could not run: {error}", file=sys.stderr)
        return 0
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_report(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
