"""The usage writer benchmark: the CPU the gateway's background writer spends per usage row.

A fresh SQLite file (and, when asked, a fresh PostgreSQL schema, dropped afterwards) is
migrated and given a small catalog (5 providers × 4 models), 20 users each with a virtual key,
and a few BYOK keys. Each round appends `--records` realistic records, two hours of traffic,
to a `UsageSpool`: power levels mostly balanced, each user's requests going to the two models
its routes give that level (the first three times out of four) and now and then to another
(`--uniform-models`: to any model, which makes many more rollup rows), a few BYOK, 5% errors,
a third without a latency. A segment is sealed every `--segment` records, as the writer's
flush interval would; then `UsageWriter.drain()` is timed: CPU (`time.process_time`, which a
busy machine inflates less than wall time; it is what the writer takes from the gateway's
cores) and wall time. The database grows round after round, and with it the cost of a row;
the median round is the figure. The rows and rollups written are checked in the end.

    .venv/bin/python -m bench.usage_writer [--records N] [--segment N] [--rounds N]
                                           [--uniform-models] [--postgres [URL]] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from bench.databases import add_postgres_option, postgres_schema, sqlite_database
from switchboard.db import open_database
from switchboard.models import Base, LLMUsageHourly, LLMUsageLog, UserAPIKey
from switchboard.pricing import calculate_cost
from switchboard.services.users import create_user, issue_virtual_key
from switchboard.usage.record import UsageRecord
from switchboard.usage.spool import UsageSpool
from switchboard.usage.writer import UsageWriter
from switchboard.vocabulary import PowerLevel, Tier

SEED = 20250601
PROVIDERS, MODELS_PER_PROVIDER, USERS = 5, 4, 20
RECORDS, SEGMENT, ROUNDS = 20_000, 500, 3
LEVELS = (PowerLevel.ECO, PowerLevel.BALANCED, PowerLevel.PRECISION)
LEVEL_WEIGHTS = (25, 60, 15)
ROUTED_MODELS, ROUTE_WEIGHTS, FALLBACKS = 2, (3, 1), 0.05
PRICES = {  # $ per 1M tokens: input, output
    PowerLevel.ECO: (Decimal("0.15"), Decimal("0.60")),
    PowerLevel.BALANCED: (Decimal("2.50"), Decimal("10.00")),
    PowerLevel.PRECISION: (Decimal("15.00"), Decimal("75.00")),
}
AGENTS = ("OpenAI/Python 1.57.0", "Anthropic/Python 0.40.0", "curl/8.5.0")
ERRORS = (
    (429, "rate_limited", "Rate limit reached for requests"),
    (502, "upstream_error", "all candidates failed: bench-01-m00 (timeout), bench-02-m01 (500)"),
    (400, "invalid_request", "max_tokens is too large for this model"),
)
Row = dict[str, Any]


class Tenants:
    """What the records may name: models (with their provider and level), users (with their
    tier and virtual key) and BYOK keys by (user, provider)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        engine: Engine = sessions.kw["bind"]
        providers = [
            {"id": pid, "provider_name": f"Bench {pid}", "provider_slug": f"bench-{pid:02d}"}
            for pid in range(1, PROVIDERS + 1)
        ]
        self.models = [
            {
                "id": (pid - 1) * MODELS_PER_PROVIDER + n + 1,
                "provider_id": pid,
                "model_id": f"bench-{pid:02d}-m{n:02d}",
                "model_name": f"Bench model {pid}-{n}",
                "power_level": LEVELS[n % len(LEVELS)].value,
            }
            for pid in range(1, PROVIDERS + 1)
            for n in range(MODELS_PER_PROVIDER)
        ]
        with engine.begin() as connection:
            connection.execute(insert(Base.metadata.tables["llm_providers"]), providers)
            connection.execute(insert(Base.metadata.tables["llm_models"]), self.models)
        by_level = {
            level: [m for m in self.models if m["power_level"] == level] for level in LEVELS
        }
        rnd = random.Random(SEED)
        tiers = list(Tier)
        self.users: list[tuple[str, Tier, int]] = []
        self.routes: dict[tuple[str, PowerLevel], list[Row]] = {}
        self.byok: dict[tuple[str, int], int] = {}
        with sessions() as session:
            for n in range(USERS):
                user_id, tier = f"bench-user-{n:02d}", tiers[n % len(tiers)]
                create_user(session, user_id=user_id, tier=tier)
                key = issue_virtual_key(session, user_id=user_id, name="bench").record.id
                self.users.append((user_id, tier, key))
                for level, models in by_level.items():
                    self.routes[(user_id, level)] = rnd.sample(models, ROUTED_MODELS)
            for user_id, _, _ in self.users[::4]:
                for pid in (1, 3):
                    key = UserAPIKey(user_id=user_id, provider_id=pid, encrypted_api_key="x")
                    session.add(key)
                    session.flush()
                    self.byok[(user_id, pid)] = key.id
            session.commit()


def pick_model(rnd: random.Random, tenants: Tenants, user_id: str, uniform: bool) -> Row:
    """The model that serves a request. As the router does: a power level (balanced mostly),
    then one of the few models the user's tier and task route that level to (the first
    most often), now and then another (a fallback); with `uniform`, any model at all."""
    if uniform:
        return rnd.choice(tenants.models)
    level = rnd.choices(LEVELS, weights=LEVEL_WEIGHTS)[0]
    if rnd.random() < FALLBACKS:
        return rnd.choice([m for m in tenants.models if m["power_level"] == level])
    return rnd.choices(tenants.routes[(user_id, level)], weights=ROUTE_WEIGHTS)[0]


def make_record(
    rnd: random.Random, tenants: Tenants, at: datetime, *, uniform: bool = False
) -> UsageRecord:
    """One request as the gateway records it: served (most), or failed (a few)."""
    user_id, tier, virtual_key = rnd.choice(tenants.users)
    model = pick_model(rnd, tenants, user_id, uniform)
    level = PowerLevel(model["power_level"])
    byok_key = tenants.byok.get((user_id, model["provider_id"])) if rnd.random() < 0.7 else None
    common: Row = {
        "request_id": f"req_{uuid.UUID(int=rnd.getrandbits(128)).hex}",
        "user_id": user_id,
        "model_id": model["id"],
        "provider_id": model["provider_id"],
        "model_name": model["model_id"],
        "power_level": level.value,
        "user_tier": tier.value,
        "task_type": rnd.choice(("general", "general", "chat", "code")),
        "used_byok": byok_key is not None,
        "user_key_id": byok_key,
        "virtual_key_id": virtual_key,
        "latency_ms": rnd.choice((None, rnd.randrange(20, 40_000), rnd.randrange(200, 3000))),
        "request_ip": f"10.0.{rnd.randrange(4)}.{rnd.randrange(1, 255)}",
        "user_agent": rnd.choice(AGENTS),
        "created_at": at,
    }
    if rnd.random() < 0.05:
        status, kind, message = rnd.choice(ERRORS)
        return UsageRecord(
            status_code=status, error_type=kind, error_message=message, attempts=2, **common
        )
    prompt = rnd.randrange(10, 8000)
    cached = rnd.choice((0, 0, prompt // 2))
    completion = rnd.randrange(1, 2000)
    price_in, price_out = PRICES[level]
    costs = calculate_cost(
        input_price=price_in,
        output_price=price_out,
        cached_input_price=price_in / 4,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached,
    )
    return UsageRecord.with_costs(
        costs,
        prompt_tokens=prompt,
        cached_tokens=cached,
        completion_tokens=completion,
        usage_estimated=rnd.random() < 0.1,
        time_to_first_token_ms=rnd.randrange(50, 900) if rnd.random() < 0.6 else None,
        status_code=200,
        **common,
    )


def spool_records(spool: UsageSpool, records: list[UsageRecord], segment: int) -> None:
    for number, record in enumerate(records, start=1):
        spool.append(record)
        if number % segment == 0:
            spool.rotate()


def stored(sessions: sessionmaker[Session]) -> tuple[int, Decimal, int, Decimal]:
    """Rows and their cost, and the hourly rollup's request count and cost (summed here:
    SQLite would sum money as floats)."""
    with sessions() as session:
        costs = session.scalars(select(LLMUsageLog.cost_total_usd)).all()
        requests = session.scalar(select(func.sum(LLMUsageHourly.requests))) or 0
        rolled = session.scalars(select(LLMUsageHourly.cost_total_usd)).all()
    return len(costs), sum(costs, Decimal(0)), requests, sum(rolled, Decimal(0))


def bench_backend(url: str, *, records: int, segment: int, rounds: int, uniform: bool) -> Row:
    """Migrate, add the tenants, then `rounds` times: spool fresh records and drain them."""
    sessions = open_database(url)
    engine: Engine = sessions.kw["bind"]
    rnd = random.Random(SEED)
    cpu_us: list[float] = []
    wall_us: list[float] = []
    expected_cost = Decimal(0)
    try:
        tenants = Tenants(sessions)
        with tempfile.TemporaryDirectory(prefix="bench-spool-") as directory:
            spool = UsageSpool(Path(directory))
            writer = UsageWriter(spool, sessions, interval_s=3600)
            start = datetime.now(UTC) - timedelta(hours=rounds * 2)
            for round_number in range(rounds):
                base = start + timedelta(hours=2 * round_number)
                batch = [
                    make_record(
                        rnd, tenants, base + timedelta(seconds=7200 * n / records), uniform=uniform
                    )
                    for n in range(records)
                ]
                expected_cost += sum(r.cost_total_usd.quantize(Decimal("1e-10")) for r in batch)
                spool_records(spool, batch, segment)
                gc.collect()
                cpu, wall = time.process_time(), time.perf_counter()
                written = writer.drain()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                if written != records or writer.last_error:
                    raise SystemExit(f"drained {written} of {records}: {writer.last_error}")
                cpu_us.append(cpu / records * 1e6)
                wall_us.append(wall / records * 1e6)
            spool.close()
        rows, cost, requests, rolled = stored(sessions)
    finally:
        engine.dispose()
    consistent = rows == requests == records * rounds and cost == rolled == expected_cost
    return {
        "cpu_us_per_row": statistics.median(cpu_us),
        "wall_us_per_row": statistics.median(wall_us),
        "rounds_cpu_us": cpu_us,
        "rounds_wall_us": wall_us,
        "rows": rows,
        "rollups_match_rows": consistent,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    databases: dict[str, Callable[[], AbstractContextManager[str]]] = {"sqlite": sqlite_database}
    if args.postgres:
        postgres_url: str = args.postgres
        databases["postgresql"] = lambda: postgres_schema(postgres_url)
    backends = {}
    for name, database in databases.items():
        with database() as url:
            backends[name] = bench_backend(
                url,
                records=args.records,
                segment=args.segment,
                rounds=args.rounds,
                uniform=args.uniform_models,
            )
    return {
        "records_per_round": args.records,
        "segment": args.segment,
        "rounds": args.rounds,
        "models": "uniform" if args.uniform_models else "routed",
        "backends": backends,
    }


def print_table(figures: dict[str, Any]) -> None:
    print(
        f"Usage writer benchmark: {figures['rounds']} rounds of {figures['records_per_round']:,}"
        f" records, a segment every {figures['segment']}, {figures['models']} models;"
        " median round"
    )
    print(f"{'database':<12}{'CPU µs/row':>12}{'wall µs/row':>13}  rounds (CPU µs/row)  checked")
    for name, backend in figures["backends"].items():
        rounds = ", ".join(f"{us:.1f}" for us in backend["rounds_cpu_us"])
        check = "ok" if backend["rollups_match_rows"] else "MISMATCH"
        print(
            f"{name:<12}{backend['cpu_us_per_row']:>12.1f}{backend['wall_us_per_row']:>13.1f}"
            f"  {rounds:<19}  {check}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.usage_writer", description="CPU per usage row of the writer."
    )
    parser.add_argument("--records", type=int, default=RECORDS, help="records per round")
    parser.add_argument("--segment", type=int, default=SEGMENT, help="records per segment")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument(
        "--uniform-models",
        action="store_true",
        help="any request may go to any model: many more rollup rows (the worst case)",
    )
    add_postgres_option(parser, "measure on")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args)
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
    else:
        print_table(figures)
    return 0 if all(b["rollups_match_rows"] for b in figures["backends"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
