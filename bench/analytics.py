"""The usage analytics benchmark: 2,000,000 usage rows go into a fresh PostgreSQL schema
(COPY through psycopg), spread over the last 90 days the way a busy platform spreads them —
~1,000 users whose activity follows a Zipf law, each on a few of ~300 models (popular ones
more), a tier each, BYOK on some providers, more traffic by day than by night and growing over
the quarter. The hourly rollup is then built with the SQL of `switchboard usage
rebuild-rollups`, and every analytics endpoint is timed through the real app (FastAPI's
TestClient) over the last 7 and 30 days with several filters: the median of a few runs after
one warm-up. Target: each under 500 ms. Reported, never asserted; the schema is dropped, unless
`--keep NAME` keeps it for the next run with as many rows (which brings it to the newest
migration, skips the load and times the same periods as the run that loaded it).

    .venv/bin/python -m bench.analytics [--postgres URL] [--rows N] [--runs N] [--keep NAME]
                                        [--json]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, PrimaryKeyConstraint, insert, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, DropConstraint

from bench.databases import (
    DEFAULT_POSTGRES,
    KeptSchema,
    add_keep_option,
    kept_postgres_schema,
    postgres_schema,
)
from switchboard.api.app import create_app
from switchboard.db import open_database
from switchboard.models import LLMModel, LLMProvider, LLMUsageLog, User
from switchboard.services.rollups import rebuild_rollups
from switchboard.services.users import create_user, issue_virtual_key
from switchboard.settings import Settings
from switchboard.vocabulary import PowerLevel, Tier

SEED = 20260301
ROWS, USERS, PROVIDERS, MODELS, DAYS = 2_000_000, 1_000, 30, 300, 90
RUNS, TARGET_MS = 5, 500.0
ADMIN_TOKEN = "bench-admin-token-0123456789"
USAGE = "/api/v1/admin/llm/usage"
TIERS = {Tier.FREE: 60, Tier.STARTER: 22, Tier.PROFESSIONAL: 14, Tier.ENTERPRISE: 4}
STATUSES = {200: 9700, 429: 150, 500: 60, 502: 40, 400: 50}
COLUMNS = (
    *("request_id", "user_id", "model_id", "provider_id", "model_name", "power_level"),
    *("user_tier", "task_type", "prompt_tokens", "cached_tokens", "completion_tokens"),
    *("total_tokens", "usage_estimated", "cost_input_usd", "cost_cached_usd", "cost_output_usd"),
    *("cost_total_usd", "used_byok", "latency_ms", "time_to_first_token_ms", "status_code"),
    *("attempts", "created_at"),
)
Model = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Shape:
    """How much is loaded: this benchmark's sizes unless another (the console's) asks more."""

    rows: int = ROWS
    users: int = USERS
    providers: int = PROVIDERS
    models: int = MODELS
    days: int = DAYS


def catalog(rnd: random.Random, shape: Shape) -> list[Model]:
    levels = list(PowerLevel)
    models = []
    for n in range(1, shape.models + 1):
        price_in = round(math.exp(rnd.uniform(math.log(0.05), math.log(15.0))), 4)
        models.append(
            {
                "id": n,
                "provider_id": 1 + (n - 1) % shape.providers,
                "model_id": f"model-{n:03d}",
                "model_name": f"Model {n}",
                "power_level": levels[min(2, int(math.log(price_in / 0.05) / 2))].value,
                "cost_per_1m_input_tokens": price_in,
                "cost_per_1m_output_tokens": round(price_in * rnd.uniform(2, 5), 4),
                "cost_per_1m_cached_input_tokens": round(price_in / 4, 4),
            }
        )
    return models


def users(rnd: random.Random, shape: Shape, models: list[Model]) -> list[dict[str, Any]]:
    # Cumulative weights once: `choices` would sum them again for every user.
    popularity = list(itertools.accumulate(1 / (rank + 1) ** 1.0 for rank in range(shape.models)))
    profiles = []
    for n in range(shape.users):
        chosen = rnd.choices(models, cum_weights=popularity, k=rnd.randint(2, 6))
        providers = range(1, shape.providers + 1)
        byok = set(rnd.sample(providers, 2)) if rnd.random() < 0.2 else set()
        profiles.append(
            {
                "id": f"user-{n:04d}",
                "tier": rnd.choices(list(TIERS), list(TIERS.values()))[0].value,
                "models": chosen,
                "weights": list(itertools.accumulate(rnd.random() + 0.1 for _ in chosen)),
                "byok": byok,
            }
        )
    return profiles


def hourly_counts(rows: int, days: int, now: datetime) -> list[tuple[datetime, int]]:
    """Rows per hour over `days` days up to `now`: twice as busy at the end as at the start,
    and by day (UTC) about three times as busy as by night."""
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=days)
    hours = [first + timedelta(hours=h) for h in range(days * 24)]
    weights = [
        (1 + h / len(hours)) * (1.6 + math.sin((at.hour - 9) / 24 * 2 * math.pi))
        for h, at in enumerate(hours)
    ]
    scale = rows / sum(weights)
    counts = [int(w * scale) for w in weights]
    counts[-1] += rows - sum(counts)
    return list(zip(hours, counts, strict=True))


def money(units12: int) -> str:
    """Dollars from units of 10⁻¹² $, rounded half-even to ten places (as stored)."""
    q, r = divmod(units12, 100)
    if r > 50 or (r == 50 and q % 2):
        q += 1
    return f"{q // 10**10}.{q % 10**10:010d}"


def copy_lines(
    rnd: random.Random, profiles: list[dict[str, Any]], now: datetime, shape: Shape
) -> Iterator[str]:
    """COPY text-format lines for `shape.rows` usage rows, in time order."""
    activity = list(itertools.accumulate(1 / (rank + 1) ** 0.9 for rank in range(len(profiles))))
    statuses = list(itertools.accumulate(STATUSES.values()))
    codes = list(STATUSES)
    n = 0
    for hour, count in hourly_counts(shape.rows, shape.days, now):
        for second in sorted(rnd.randrange(3600) for _ in range(count)):
            n += 1
            user = profiles[bisect.bisect(activity, rnd.random() * activity[-1])]
            model = user["models"][
                bisect.bisect(user["weights"], rnd.random() * user["weights"][-1])
            ]
            status = codes[bisect.bisect(statuses, rnd.randrange(statuses[-1]))]
            ok = status == 200
            prompt = int(rnd.lognormvariate(6.7, 1.1)) if ok else 0
            cached = int(prompt * rnd.random()) if ok and rnd.random() < 0.3 else 0
            completion = int(rnd.lognormvariate(5.5, 0.9)) if ok else 0
            latency = int(rnd.lognormvariate(6.7, 0.8)) if ok else rnd.randrange(5, 400)
            p_in, p_cached, p_out = (
                int(model[f"cost_per_1m_{kind}_tokens"] * 1_000_000)
                for kind in ("input", "cached_input", "output")
            )
            costs = ((prompt - cached) * p_in, cached * p_cached, completion * p_out)
            at = hour + timedelta(seconds=second, microseconds=rnd.randrange(1_000_000))
            byok = model["provider_id"] in user["byok"] and rnd.random() < 0.9
            values = (
                f"req_{n:012x}",
                user["id"],
                model["id"],
                model["provider_id"],
                model["model_id"],
                model["power_level"],
                user["tier"],
                "chat",
                prompt,
                cached,
                completion,
                prompt + completion,
                "f",
                *(money(c) for c in costs),
                money(sum(costs)),
                "t" if byok else "f",
                latency if rnd.random() > 0.01 else r"\N",
                latency // 3 if ok else r"\N",
                status,
                1,
                at.isoformat(),
            )
            yield "\t".join(map(str, values)) + "\n"


def load(engine: Engine, rnd: random.Random, now: datetime, shape: Shape) -> dict[str, Any]:
    """The catalog and the usage rows of `shape` (see `load_usage`)."""
    models = catalog(rnd, shape)
    return load_usage(engine, rnd, now, shape, models, users(rnd, shape, models))


def load_usage(
    engine: Engine,
    rnd: random.Random,
    now: datetime,
    shape: Shape,
    models: list[Model],
    profiles: list[dict[str, Any]],
) -> dict[str, Any]:
    """The providers and `models`, then the usage rows of `profiles` by COPY (the indexes,
    unique key and foreign keys of `llm_usage_logs` dropped meanwhile and made again after:
    the usual bulk load), then the rollups with `rebuild_rollups`, then VACUUM ANALYZE."""
    started = time.perf_counter()
    providers = [
        {"id": p, "provider_name": f"Provider {p}", "provider_slug": f"p{p}"}
        for p in range(1, shape.providers + 1)
    ]
    with engine.begin() as connection:
        connection.execute(insert(LLMProvider), providers)
        connection.execute(insert(LLMModel), models)
    table = LLMUsageLog.__table__
    constraints = [c for c in table.constraints if not isinstance(c, PrimaryKeyConstraint)]
    with engine.begin() as connection:
        for index in table.indexes:
            index.drop(connection)
        for constraint in constraints:
            connection.execute(DropConstraint(constraint))
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:  # type: ignore[attr-defined]
            statement = f"COPY llm_usage_logs ({', '.join(COLUMNS)}) FROM STDIN"
            with cursor.copy(statement) as copy:
                for chunk in batched(copy_lines(rnd, profiles, now, shape), 20_000):
                    copy.write("".join(chunk))
        raw.commit()
    finally:
        raw.close()
    copied = time.perf_counter()
    with engine.begin() as connection:
        for constraint in constraints:
            connection.execute(AddConstraint(constraint))
        for index in table.indexes:
            index.create(connection)
    loaded = time.perf_counter()
    with Session(engine) as session:
        rollup_rows = rebuild_rollups(session)
        session.commit()
    rolled = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("llm_usage_logs", *rollup_rows):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
        sums = {
            table: tuple(connection.execute(text(f"SELECT {measure} FROM {table}")).one())
            for table, measure in [("llm_usage_logs", "count(*), sum(cost_total_usd)")]
            + [(table, "sum(requests), sum(cost_total_usd)") for table in rollup_rows]
        }
    return {
        "rollups_equal_rows": len(set(sums.values())) == 1,
        "copy_s": round(copied - started, 1),
        "indexes_s": round(loaded - copied, 1),
        "rebuild_rollups_s": round(rolled - loaded, 1),
        "vacuum_analyze_s": round(time.perf_counter() - rolled, 1),
        "rollup_rows": rollup_rows,
    }


def batched(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(itertools.islice(lines, size)):
        yield chunk


def cases(heavy_user: str, typical_user: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, path, query) for each request timed; paths under the admin usage API, except
    `/byok`, the BYOK API."""
    return [
        ("user stats, heaviest user", f"/users/{heavy_user}", {}),
        ("user stats, typical user", f"/users/{typical_user}", {}),
        ("users by cost, page 1", "/users", {}),
        ("users by cost, enterprise tier", "/users", {"user_tier": "enterprise"}),
        ("top models", "/top-models", {}),
        ("top models, eco", "/top-models", {"power_level": "eco"}),
        ("top models, provider 1", "/top-models", {"provider_id": 1}),
        ("top models, heaviest user", "/top-models", {"user_id": heavy_user}),
        ("time series, hourly", "/timeseries", {"granularity": "hour"}),
        ("time series, daily", "/timeseries", {"granularity": "day"}),
        ("time series, hourly, model 1", "/timeseries", {"model_id": 1}),
        ("time series, daily, free", "/timeseries", {"granularity": "day", "user_tier": "free"}),
        ("CSV time series, hourly", "/export.csv", {"kind": "timeseries"}),
        ("CSV rows, typical user", "/export.csv", {"kind": "rows", "user_id": typical_user}),
        ("BYOK usage, heaviest user", "/byok", {}),
    ]


def time_endpoints(url: str, runs: int, now: datetime) -> list[dict[str, Any]]:
    factory = open_database(url, migrate=False)
    with factory() as session:
        if session.get(User, "user-0000") is None:  # a kept schema has it from its first run
            create_user(session, user_id="user-0000", tier=Tier.ENTERPRISE)
        key = issue_virtual_key(session, user_id="user-0000").key
    factory.kw["bind"].dispose()
    headers = {"admin": f"Bearer {ADMIN_TOKEN}", "user": f"Bearer {key}"}
    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as spool:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            admin_token=SecretStr(ADMIN_TOKEN),
            encryption_key=SecretStr(Fernet.generate_key().decode()),
            spool_dir=Path(spool),
            health_check_interval_s=0,
        )
        results = []
        with TestClient(create_app(settings)) as client:
            for days in (7, 30):
                since = (now - timedelta(days=days)).isoformat()
                period = {"since": since, "until": now.isoformat()}
                for label, path, query in cases("user-0000", "user-0500"):
                    byok = path == "/byok"
                    target = "/api/v1/llm/byok/usage" if byok else f"{USAGE}{path}"
                    auth = {"Authorization": headers["user" if byok else "admin"]}
                    times = [
                        timed(client, target, {**period, **query}, auth) for _ in range(runs + 1)
                    ]
                    median = statistics.median(times[1:])  # the first is a warm-up
                    results.append(
                        {
                            "endpoint": label,
                            "path": target,
                            "days": days,
                            "median_ms": round(median, 1),
                            "max_ms": round(max(times[1:]), 1),
                            "cold_ms": round(times[0], 1),
                            "pass": median < TARGET_MS,
                        }
                    )
            results.append(time_full_export(client, now, {"Authorization": headers["admin"]}))
    return results


def timed(client: TestClient, target: str, params: dict[str, Any], auth: dict[str, str]) -> float:
    start = time.perf_counter()
    response = client.get(target, params=params, headers=auth)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, response.text
    return elapsed


def time_full_export(client: TestClient, now: datetime, auth: dict[str, str]) -> dict[str, Any]:
    """Every usage row of the last 7 days as CSV: a throughput, not a latency."""
    start = time.perf_counter()
    since = (now - timedelta(days=7)).isoformat()
    params = {"kind": "rows", "since": since, "until": now.isoformat()}
    export = client.get(f"{USAGE}/export.csv", params=params, headers=auth)
    seconds = time.perf_counter() - start
    lines = export.text.count("\n") - 1
    return {
        "endpoint": "CSV rows, everyone (throughput)",
        "path": f"{USAGE}/export.csv",
        "days": 7,
        "median_ms": round(seconds * 1000, 1),
        "rows": lines,
        "rows_per_s": round(lines / seconds),
        "megabytes": round(len(export.content) / 1e6, 1),
        "pass": None,
    }


def run(postgres_url: str, rows: int, runs: int, keep: str | None = None) -> dict[str, Any]:
    if keep is None:
        with postgres_schema(postgres_url) as url:
            return run_on(url, rows, runs, None)
    kept = kept_postgres_schema(postgres_url, keep, {"bench": "analytics", "rows": rows})
    return run_on(kept.url, rows, runs, kept)


def run_on(url: str, rows: int, runs: int, kept: KeptSchema | None) -> dict[str, Any]:
    """Load the schema at `url` (unless `kept` was loaded already: then migrate it and time
    the periods it was loaded for), then time the endpoints."""
    rnd = random.Random(SEED)
    now = datetime.now(UTC)
    started = time.perf_counter()
    factory = open_database(url)
    engine: Engine = factory.kw["bind"]
    try:
        if kept is not None and kept.recorded is not None:
            now = datetime.fromisoformat(kept.recorded["now"])
            migrated = round(time.perf_counter() - started, 1)
            prepared = {**kept.recorded["prepare"], "reused_s": migrated}
        else:
            prepared = load(engine, rnd, now, Shape(rows=rows))
    finally:
        engine.dispose()
    if kept is not None and kept.recorded is None:
        sizes = {"bench": "analytics", "rows": rows}
        kept.remember({"sizes": sizes, "prepare": prepared, "now": now.isoformat()})
    timings = time_endpoints(url, runs, now)
    return {"rows": rows, "prepare": prepared, "timings": timings, "target_ms": TARGET_MS}


def print_table(figures: dict[str, Any]) -> None:
    prepared = figures["prepare"]
    rollups = ", ".join(f"{table} {rows:,}" for table, rows in prepared["rollup_rows"].items())
    print(
        f"Analytics benchmark: {figures['rows']:,} usage rows over {DAYS} days, {USERS} users, "
        f"{MODELS} models. COPY {prepared['copy_s']} s, keys and indexes "
        f"{prepared['indexes_s']} s, rollups {prepared['rebuild_rollups_s']} s ({rollups} rows; "
        f"request and cost sums equal the rows': {prepared['rollups_equal_rows']}), "
        f"VACUUM ANALYZE {prepared['vacuum_analyze_s']} s"
        + (
            f"; reused a kept schema, migrated in {prepared['reused_s']} s"
            if "reused_s" in prepared
            else ""
        )
    )
    print(f"{'endpoint':<34}{'days':>5}{'median ms':>11}{'max ms':>9}{'cold ms':>9}  result")
    print("-" * 78)
    for row in figures["timings"]:
        if row["pass"] is None:
            print(
                f"{row['endpoint']:<34}{row['days']:>5}{row['median_ms']:>11.1f}"
                f"   {row['rows']:,} rows, {row['rows_per_s']:,} rows/s (report only)"
            )
            continue
        verdict = "PASS" if row["pass"] else "FAIL"
        print(
            f"{row['endpoint']:<34}{row['days']:>5}{row['median_ms']:>11.1f}"
            f"{row['max_ms']:>9.1f}{row['cold_ms']:>9.1f}  {verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.analytics", description="Usage analytics endpoint times."
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_POSTGRES),
        metavar="URL",
        help=f"the PostgreSQL server (default: {DEFAULT_POSTGRES}); a fresh schema is used",
    )
    parser.add_argument("--rows", type=int, default=ROWS, help="usage rows to load")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs per request")
    add_keep_option(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args.postgres, args.rows, args.runs, args.keep)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
