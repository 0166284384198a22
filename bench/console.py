"""The web console benchmark: a platform-sized database in a fresh PostgreSQL schema — 100,000
users (one in four with virtual keys), 10,000 models of 50 providers with routing rules and
price history, 2,000,000 usage rows over 35 days (bench.analytics' loader: Zipf-distributed
users and models, every tier, BYOK on some providers), 50,000 audit log entries — and a real
`switchboard serve` on it. An admin signs in as a browser does (the sign-in page for its CSRF
token, the form posted, the session cookie kept), then every console page and its main
variants are fetched several times after one warm-up, and so is "My keys", signed in with a
virtual key of the busiest user. Target: each page's median under 300 ms. Reported, never
asserted (the exit code is 0); the schema is dropped, unless `--keep NAME` keeps it for the
next run with the same sizes (which brings it to the newest migration and skips the load).

    .venv/bin/python -m bench.console [--postgres URL] [--rows N] [--users N] [--models N]
                                      [--runs N] [--keep NAME] [--json]   (make bench-console)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import tempfile
import time
from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from bench import console_data
from bench.analytics import Shape
from bench.databases import (
    DEFAULT_POSTGRES,
    KeptSchema,
    add_keep_option,
    kept_postgres_schema,
    postgres_schema,
)
from bench.gateway import start_gateway
from bench.procs import stop
from switchboard.db import open_database
from switchboard.services.users import issue_virtual_key

SEED = 20260315
RUNS, TARGET_MS = 5, 300.0
ADMIN_TOKEN = "bench-admin-token-0123456789"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
Case = tuple[str, str, dict[str, Any]]


def admin_cases(shape: Shape, today: date) -> list[Case]:
    """(label, path, query) of each admin page timed."""

    def days(n: int) -> dict[str, str]:
        return {"since": (today - timedelta(days=n - 1)).isoformat(), "until": today.isoformat()}

    later_users = shape.users // 2 // 25
    later_models = shape.models // 2 // 25
    return [
        ("overview", "/ui/", {}),
        ("providers", "/ui/providers", {}),
        ("models, page 1", "/ui/models", {}),
        ("models, provider + power level", "/ui/models", {"provider": "7", "power": "eco"}),
        ("models, searched", "/ui/models", {"q": "model-42"}),
        (f"models, page {later_models}", "/ui/models", {"page": later_models}),
        ("model with price history", "/ui/models/1", {}),
        ("routing matrix", "/ui/routing", {}),
        ("routing matrix, free, eco", "/ui/routing", {"tier": "free", "power": "eco"}),
        ("users, page 1", "/ui/users", {}),
        ("users, searched", "/ui/users", {"q": "user-4242"}),
        ("users, enterprise", "/ui/users", {"tier": "enterprise"}),
        (f"users, page {later_users}", "/ui/users", {"page": later_users}),
        ("user with keys (busiest)", "/ui/users/user-0000", {}),
        ("usage, 24 h", "/ui/usage", days(1)),
        ("usage, 7 d", "/ui/usage", days(7)),
        ("usage, 30 d", "/ui/usage", days(30)),
        ("usage, 30 d, enterprise", "/ui/usage", {**days(30), "user_tier": "enterprise"}),
        ("usage, 7 d, busiest user", "/ui/usage", {**days(7), "user_id": "user-0000"}),
        ("usage CSV, 30 d", "/ui/usage/export.csv", days(30)),
        ("audit log", "/ui/audit", {}),
        ("audit log, models", "/ui/audit", {"entity_type": "model"}),
    ]


def signed_in(base_url: str, token: str, path: str) -> httpx.Client:
    """A client holding a console session: the sign-in page's CSRF token, the form, the
    cookie it sets."""
    client = httpx.Client(base_url=base_url, timeout=60)
    page = client.get(path)
    found = CSRF.search(page.text)
    assert page.status_code == 200 and found, page.text[:500]
    answer = client.post(path, data={"token": token, "csrf_token": found.group(1)})
    assert answer.status_code == 303, answer.text[:500]
    return client


def time_page(
    client: httpx.Client, label: str, path: str, query: dict[str, Any], runs: int
) -> dict[str, Any]:
    """The page fetched `runs` + 1 times; the first is a warm-up."""
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        response = client.get(path, params=query)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, f"{label}: {response.status_code} {response.text[:300]}"
    timed = times[1:]
    median = statistics.median(timed)
    return {
        "page": label,
        "path": path,
        "p50_ms": round(median, 1),
        "max_ms": round(max(timed), 1),
        "cold_ms": round(times[0], 1),
        "kb": round(len(response.content) / 1024),
        "pass": median < TARGET_MS,
    }


def time_pages(base_url: str, key: str, shape: Shape, runs: int) -> list[dict[str, Any]]:
    today = datetime.now(UTC).date()
    with closing(signed_in(base_url, ADMIN_TOKEN, "/ui/sign-in")) as admin:
        results = [
            time_page(admin, label, path, query, runs)
            for label, path, query in admin_cases(shape, today)
        ]
    with closing(signed_in(base_url, key, "/ui/me/sign-in")) as user:
        results.append(time_page(user, "My keys (busiest user)", "/ui/me", {}, runs))
    return results


def run(postgres_url: str, shape: Shape, runs: int, keep: str | None = None) -> dict[str, Any]:
    if keep is None:
        with postgres_schema(postgres_url) as url:
            return run_on(url, shape, runs, None)
    kept = kept_postgres_schema(postgres_url, keep, {"bench": "console", **_fields(shape)})
    return run_on(kept.url, shape, runs, kept)


def run_on(url: str, shape: Shape, runs: int, kept: KeptSchema | None) -> dict[str, Any]:
    """Load the schema at `url` (unless `kept` was loaded already: then migrate it), then
    time the pages of a server on it."""
    rnd = random.Random(SEED)
    now = datetime.now(UTC)
    encryption_key = Fernet.generate_key().decode()
    started = time.perf_counter()
    factory = open_database(url)
    engine: Engine = factory.kw["bind"]
    try:
        if kept is not None and kept.recorded is not None:
            recorded = kept.recorded
            encryption_key = recorded["encryption_key"]
            prepared = {**recorded["prepare"], "reused_s": round(time.perf_counter() - started, 1)}
        else:
            prepared = console_data.load(engine, rnd, now, shape, encryption_key)
        with factory() as session:
            key = issue_virtual_key(session, user_id="user-0000", name="bench").key
    finally:
        engine.dispose()
    load_s = time.perf_counter() - started
    if kept is not None and kept.recorded is None:
        figures = {"prepare": prepared, "encryption_key": encryption_key}
        kept.remember({"sizes": {"bench": "console", **_fields(shape)}, **figures})
    with tempfile.TemporaryDirectory(prefix="bench-console-") as workdir:
        extra = {"ADMIN_TOKEN": ADMIN_TOKEN, "HEALTH_CHECK_INTERVAL_S": "0"}
        extra["ALERT_EVALUATION_INTERVAL_S"] = "0"
        server = start_gateway(Path(workdir), url, encryption_key, extra, "console")
        try:
            timings = time_pages(server.base_url, key, shape, runs)
        finally:
            stop(server.process)
    return {
        "shape": _fields(shape),
        "load_s": round(load_s, 1),
        "prepare": prepared,
        "timings": timings,
        "target_ms": TARGET_MS,
    }


def _fields(shape: Shape) -> dict[str, int]:
    return {name: getattr(shape, name) for name in Shape.__slots__}


def print_table(figures: dict[str, Any]) -> None:
    shape, prepared = figures["shape"], figures["prepare"]
    print(
        f"Console benchmark: {shape['users']:,} users, {shape['models']:,} models of "
        f"{shape['providers']} providers, {shape['rows']:,} usage rows over {shape['days']} days, "
        f"{console_data.AUDIT_ENTRIES:,} audit entries. "
        + (
            f"Reused a kept schema (migrated in {prepared['reused_s']} s); it had loaded in "
            if "reused_s" in prepared
            else f"Loaded in {figures['load_s']} s "
        )
        + f"(usage COPY {prepared['copy_s']} s, its keys and indexes {prepared['indexes_s']} s, "
        f"rollups {prepared['rebuild_rollups_s']} s, VACUUM ANALYZE "
        f"{prepared['vacuum_analyze_s']} s, the console's other tables "
        f"{prepared['console_tables_s']} s)"
    )
    print(f"{'page':<34}{'p50 ms':>9}{'max ms':>9}{'cold ms':>9}{'KiB':>6}  < {TARGET_MS:.0f} ms")
    print("-" * 77)
    for row in figures["timings"]:
        verdict = "PASS" if row["pass"] else "FAIL"
        print(
            f"{row['page']:<34}{row['p50_ms']:>9.1f}{row['max_ms']:>9.1f}{row['cold_ms']:>9.1f}"
            f"{row['kb']:>6}  {verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.console", description="Web console page times."
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_POSTGRES),
        metavar="URL",
        help=f"the PostgreSQL server (default: {DEFAULT_POSTGRES}); a fresh schema is used",
    )
    full = console_data.SHAPE
    parser.add_argument("--rows", type=int, default=full.rows, help="usage rows to load")
    parser.add_argument("--users", type=int, default=full.users, help="users to load")
    parser.add_argument("--models", type=int, default=full.models, help="models to load")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs per page")
    add_keep_option(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    shape = replace(full, rows=args.rows, users=args.users, models=args.models)
    figures = run(args.postgres, shape, args.runs, args.keep)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
