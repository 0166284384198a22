"""The routing benchmark: a seeded catalog (50 providers, 1,000 models, 10,000 rules) goes
into a fresh SQLite file and, when asked, a fresh PostgreSQL schema (dropped afterwards).
Measured: `load_snapshot` (median of 5 loads, each in a new session); a routing decision over
10,000 varied requests, on a fresh snapshot (cold: `route_cache` empty), then again (warm); the
full ordered candidate list; `explain_route` over a sample. A decision is what the gateway
takes from a plan: the choice and the fallbacks up to its attempt limit (3 by default) — the
plan orders later candidates lazily, only if someone walks that far. Targets are reported,
never asserted: the exit code is always 0.

    .venv/bin/python -m bench.routing [--postgres [URL]] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import Engine, insert

from bench.databases import add_postgres_option, postgres_schema, sqlite_database
from switchboard.catalog.loader import load_snapshot, price_ceilings
from switchboard.catalog.snapshot import CatalogSnapshot
from switchboard.db import open_database
from switchboard.models import Base
from switchboard.routing import HealthView, RouteRequest, explain_route, plan_route
from switchboard.settings import Settings
from switchboard.vocabulary import PowerLevel, Tier

SEED = 20240601
PROVIDERS, MODELS_PER_PROVIDER, RULES, REQUESTS = 50, 20, 10_000, 10_000
LOADS, EXPLAINS = 5, 200
DECISION_TARGET_US, LOAD_TARGET_MS = 50.0, 1000.0
TASKS = ("general", "chat", "code", "summarize", "extract", "translate")
UNKNOWN_TASK = "poetry"
# Input price range ($/1M, log-uniform) and output/input ratio of each power level's models.
PRICES = {
    PowerLevel.ECO: (0.02, 0.45, (1.0, 4.0)),
    PowerLevel.BALANCED: (0.25, 3.0, (2.0, 5.0)),
    PowerLevel.PRECISION: (2.0, 15.0, (3.0, 5.0)),
}
PLAN_ROWS = {
    "cold": ("decision, cold pass", True),
    "cold_misses": ("decision, cold, misses only", False),
    "warm": ("decision, warm", True),
    "warm_full": ("full candidate list, warm", False),
}
ATTEMPTS = 3
Row = dict[str, Any]
Ceilings = Mapping[PowerLevel, Decimal]
Decision = tuple[RouteRequest, frozenset[int]]  # a request and the user's BYOK providers
T = TypeVar("T")


def pick(rnd: random.Random, weighted: Mapping[T, int]) -> T:
    return rnd.choices(list(weighted), list(weighted.values()))[0]


def _provider_rows(rnd: random.Random) -> list[Row]:
    ids = range(1, PROVIDERS + 1)
    inactive = set(rnd.sample(ids, 3))
    down = set(rnd.sample(sorted(set(ids) - inactive), 3))
    return [
        {
            "id": pid,
            "provider_name": f"Provider {pid}",
            "provider_slug": f"provider-{pid:02d}",
            "base_url": f"https://api.provider-{pid:02d}.example/v1",
            "api_format": pick(rnd, {"openai": 4, "anthropic": 1}),
            "auth_type": "none" if pid == PROVIDERS else pick(rnd, {"bearer": 8, "api_key": 2}),
            "encrypted_api_key": "gAAAAA-bench" if rnd.random() < 0.8 else None,
            "supports_streaming": rnd.random() < 0.95,
            "supports_function_calling": rnd.random() < 0.7,
            "supports_vision": rnd.random() < 0.4,
            "is_active": pid not in inactive,
            "is_byok_supported": rnd.random() < 0.4,
            "min_tier_required": pick(rnd, {"free": 40, "starter": 6, "professional": 4}),
            "health_status": "down"
            if pid in down
            else pick(rnd, {"healthy": 8, "degraded": 1, "unknown": 1}),
        }
        for pid in ids
    ]


def _model_row(rnd: random.Random, pid: int, n: int, first: int) -> Row:
    mid = first + n
    power = pick(rnd, {PowerLevel.ECO: 35, PowerLevel.BALANCED: 40, PowerLevel.PRECISION: 25})
    low, high, ratio = PRICES[power]
    price_in = math.exp(rnd.uniform(math.log(low), math.log(high)))
    context = rnd.choice([8_192, 16_384, 32_768, 128_000, 200_000, 1_000_000])
    deprecated = n > 0 and rnd.random() < 0.03
    return {
        "id": mid,
        "provider_id": pid,
        "model_name": f"Model {pid}-{n}",
        "model_id": f"model-{pid:02d}-{n:02d}",
        "max_tokens": min(context, rnd.choice([4_096, 8_192, 16_384, 32_768])),
        "context_window": context,
        "supports_streaming": rnd.random() < 0.95,
        "supports_function_calling": rnd.random() < 0.6,
        "supports_vision": rnd.random() < 0.3,
        "supports_json_mode": rnd.random() < 0.5,
        "cost_per_1m_input_tokens": Decimal(f"{price_in:.4f}"),
        "cost_per_1m_output_tokens": Decimal(f"{price_in * rnd.uniform(*ratio):.4f}"),
        "cost_per_1m_cached_input_tokens": Decimal(f"{price_in / 4:.4f}"),
        "power_level": power.value,
        "power_level_priority": rnd.choice([1, 2, 3, 5, 10, 100, 100]),
        "is_active": rnd.random() < 0.96,
        "is_deprecated": deprecated,
        # An earlier model of the same provider: SQLite checks the foreign key row by row.
        "replacement_model_id": rnd.randrange(first, mid) if deprecated else None,
        "min_tier_required": pick(
            rnd, {"free": 60, "starter": 20, "professional": 15, "enterprise": 5}
        ),
    }


def _rule_rows(rnd: random.Random, models: list[Row]) -> list[Row]:
    by_power: dict[str, list[int]] = {}
    for model in models:
        by_power.setdefault(model["power_level"], []).append(model["id"])
    all_ids = [model["id"] for model in models]
    rows: list[Row] = []
    identities: set[tuple[object, ...]] = set()
    while len(rows) < RULES:
        power = pick(rnd, {"eco": 35, "balanced": 40, "precision": 25})
        bounded = rnd.random() < 0.15
        row = {
            "id": len(rows) + 1,
            # Mostly a model of the rule's power level; some deliberately cross levels.
            "model_id": rnd.choice(by_power[power] if rnd.random() < 0.9 else all_ids),
            "power_level": power,
            "user_tier": rnd.choice([None, None, *(tier.value for tier in Tier)]),
            "task_type": pick(rnd, dict(zip(TASKS, [4, 2, 2, 1, 1, 1], strict=True))),
            "priority": rnd.randint(1, 10),
            "weight": rnd.choice([1, 10, 25, 50, 100, 100, 200]),
            "min_tokens": rnd.choice([None, 1_000, 4_000]) if bounded else None,
            "max_tokens": rnd.choice([8_000, 32_000, 128_000]) if bounded else None,
            "requires_byok": rnd.random() < 0.05,
            "is_fallback": rnd.random() < 0.1,
            "is_active": rnd.random() < 0.97,
        }
        # One rule per model, power level, tier and task: the database's unique key.
        identity = (row["model_id"], power, row["user_tier"], row["task_type"])
        if identity not in identities:
            identities.add(identity)
            rows.append(row)
    return rows


def generate_catalog(engine: Engine, seed: int) -> None:
    """Write the seeded catalog with Core executemany inserts, in one transaction."""
    rnd = random.Random(seed)
    providers = _provider_rows(rnd)
    models = [
        _model_row(rnd, pid, n, (pid - 1) * MODELS_PER_PROVIDER + 1)
        for pid in range(1, PROVIDERS + 1)
        for n in range(MODELS_PER_PROVIDER)
    ]
    tables = Base.metadata.tables
    with engine.begin() as connection:
        connection.execute(insert(tables["llm_providers"]), providers)
        connection.execute(insert(tables["llm_models"]), models)
        connection.execute(insert(tables["llm_routing_rules"]), _rule_rows(rnd, models))


def make_decisions(rnd: random.Random, snapshot: CatalogSnapshot) -> list[Decision]:
    byok_capable = sorted(p.id for p in snapshot.providers.values() if p.is_byok_supported)
    byok = frozenset(rnd.sample(byok_capable, min(3, len(byok_capable))))
    tasks = dict(zip((*TASKS, UNKNOWN_TASK), [30, 25, 20, 8, 6, 6, 5], strict=True))
    decisions = []
    for _ in range(REQUESTS):
        request = RouteRequest(
            user_tier=pick(rnd, dict(zip(Tier, [40, 30, 20, 10], strict=True))),
            power_level=pick(rnd, dict(zip(PowerLevel, [35, 45, 20], strict=True))),
            task_type=pick(rnd, tasks),
            # None for 10%; else log-uniform from 55 to ~300k tokens.
            estimated_tokens=None if rnd.random() < 0.1 else int(math.exp(rnd.uniform(4, 12.6))),
            require_streaming=rnd.random() < 0.4,
            require_function_calling=rnd.random() < 0.15,
            require_vision=rnd.random() < 0.05,
            require_json_mode=rnd.random() < 0.1,
        )
        decisions.append((request, byok if rnd.random() < 0.25 else frozenset()))
    return decisions


def make_health(rnd: random.Random, snapshot: CatalogSnapshot) -> HealthView:
    active = sorted(p.id for p in snapshot.providers.values() if p.is_active)
    return HealthView(
        cooling_providers=frozenset(rnd.sample(active, 2)),
        cooling_models=frozenset(rnd.sample(sorted(snapshot.models), 3)),
    )


@contextmanager
def quiet_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def summary(ns: Sequence[int]) -> dict[str, float]:
    """Count, and median, p90 and p99 in microseconds (nearest rank)."""
    ordered = sorted(ns)
    rank = {q: ordered[max(0, math.ceil(q * len(ordered)) - 1)] / 1000 for q in (0.9, 0.99)}
    median = statistics.median(ordered) / 1000
    return {"n": len(ordered), "median": median, "p90": rank[0.9], "p99": rank[0.99]}


def time_decisions(
    snapshot: CatalogSnapshot,
    decisions: list[Decision],
    health: HealthView,
    rng: random.Random,
    *,
    take: int | None,
) -> tuple[list[int], list[int], list[int]]:
    """Times (ns) of planning and taking the first `take` candidates (all when None), of those
    that filled `route_cache`; and the number of candidates each plan has in all."""
    times, misses, counts = [], [], []
    cache, clock = snapshot.route_cache, time.perf_counter_ns
    with quiet_gc():
        for request, byok in decisions:
            cached = len(cache)
            start = clock()
            plan = plan_route(snapshot, request, byok_providers=byok, health=health, rng=rng)
            list(islice(plan, take))
            elapsed = clock() - start
            times.append(elapsed)
            if len(cache) != cached:
                misses.append(elapsed)
            counts.append(len(plan.candidates))
    return times, misses, counts


def time_explains(
    snapshot: CatalogSnapshot, decisions: list[Decision], health: HealthView, rng: random.Random
) -> list[int]:
    times = []
    with quiet_gc():
        for request, byok in decisions[:EXPLAINS]:
            start = time.perf_counter_ns()
            explain_route(snapshot, request, byok_providers=byok, health=health, rng=rng)
            times.append(time.perf_counter_ns() - start)
    return times


def bench_backend(url: str, ceilings: Ceilings) -> tuple[Row, CatalogSnapshot]:
    """Migrate, generate, then load the snapshot LOADS times, each in a new session."""
    factory = open_database(url)
    engine: Engine = factory.kw["bind"]
    loads: list[float] = []
    try:
        start = time.perf_counter()
        generate_catalog(engine, SEED)
        generated = time.perf_counter() - start
        for _ in range(LOADS):
            with quiet_gc():
                start_ns = time.perf_counter_ns()
                with factory() as session:
                    snapshot = load_snapshot(session, ceilings=ceilings, environ={})
                loads.append((time.perf_counter_ns() - start_ns) / 1e6)
    finally:
        engine.dispose()
    load_ms = {"median": statistics.median(loads), "all": loads}
    return {"generate_s": round(generated, 3), "load_snapshot_ms": load_ms}, snapshot


def run(postgres_url: str | None) -> dict[str, Any]:
    # The settings' defaults (eco: $0.50/1M blended), whatever the environment says.
    ceilings = price_ceilings(Settings.model_construct())
    databases: dict[str, Callable[[], AbstractContextManager[str]]] = {"sqlite": sqlite_database}
    if postgres_url:
        databases["postgresql"] = lambda: postgres_schema(postgres_url)
    backends: dict[str, dict[str, Any]] = {}
    snapshots: dict[str, CatalogSnapshot] = {}
    for name, database in databases.items():
        with database() as url:
            backends[name], snapshots[name] = bench_backend(url, ceilings)
    snapshot = snapshots["sqlite"]
    content = (snapshot.rules, snapshot.models, snapshot.providers)
    for name, other in snapshots.items():
        same = (other.rules, other.models, other.providers) == content
        backends[name]["same_snapshot_as_sqlite"] = same
    rnd = random.Random(SEED + 1)
    decisions, health = make_decisions(rnd, snapshot), make_health(rnd, snapshot)
    rng = random.Random(SEED + 2)
    cold, misses, counts = time_decisions(snapshot, decisions, health, rng, take=ATTEMPTS)
    warm, _, _ = time_decisions(snapshot, decisions, health, rng, take=ATTEMPTS)
    full, _, _ = time_decisions(snapshot, decisions, health, rng, take=None)
    eco = ceilings.get(PowerLevel.ECO)
    under_eco = [m for m in snapshot.models.values() if eco is None or m.blended_price <= eco]
    plan_us = {
        "cold": summary(cold),
        "cold_misses": summary(misses),
        "warm": summary(warm),
        "warm_full": summary(full),
    }
    per_plan = {"mean": statistics.fmean(counts), "min": min(counts), "max": max(counts)}
    decision_ok = plan_us["warm"]["median"] < DECISION_TARGET_US
    loads_ok = all(b["load_snapshot_ms"]["median"] < LOAD_TARGET_MS for b in backends.values())
    return {
        "catalog": {
            "seed": SEED,
            "providers": len(snapshot.providers),
            "models": len(snapshot.models),
            "rules": len(snapshot.rules),
            "models_under_eco_ceiling": len(under_eco),
            "requests": len(decisions),
            "request_shapes": len(snapshot.route_cache),
        },
        "backends": backends,
        "plan_route_us": plan_us,
        "candidates_per_plan": per_plan,
        "explain_route_us": summary(time_explains(snapshot, decisions, health, rng)),
        "targets": {"plan_route_median_us": DECISION_TARGET_US, "load_snapshot_ms": LOAD_TARGET_MS},
        "pass": {"plan_route": decision_ok, "load_snapshot": loads_ok},
    }


def print_table(figures: dict[str, Any]) -> None:
    catalog, plan_us = figures["catalog"], figures["plan_route_us"]
    print(
        f"Routing benchmark, seed {catalog['seed']}: {catalog['providers']} providers, "
        f"{catalog['models']} models ({catalog['models_under_eco_ceiling']} under the eco "
        f"ceiling), {catalog['rules']} rules; {catalog['requests']} requests of "
        f"{catalog['request_shapes']} shapes"
    )
    rows: list[tuple[str, dict[str, float], str, bool | None]] = []
    for name, backend in figures["backends"].items():
        loads = backend["load_snapshot_ms"]
        ok = loads["median"] < LOAD_TARGET_MS
        rows.append((f"load_snapshot, {name} (ms)", loads, "< 1 s median", ok))
    for key, (label, targeted) in PLAN_ROWS.items():
        stats = plan_us[key]
        if targeted:
            ok = stats["median"] < DECISION_TARGET_US
            rows.append((f"{label} (µs)", stats, "< 50 µs median", ok))
        else:
            rows.append((f"{label} (µs)", stats, "(report only)", None))
    rows.append(("explain_route (µs)", figures["explain_route_us"], "(report only)", None))
    print(f"{'measure':<34}{'median':>10}{'p90':>10}{'p99':>10}  {'target':<16}result")
    print("-" * 88)
    for label, stats, target, ok in rows:
        spread = "".join(
            f"{stats[q]:>10.1f}" if q in stats else f"{'-':>10}" for q in ("p90", "p99")
        )
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{label:<34}{stats['median']:>10.1f}{spread}  {target:<16}{verdict}")
    print("-" * 88)
    counts = figures["candidates_per_plan"]
    print(
        f"candidates per plan: mean {counts['mean']:.1f} (min {counts['min']}, max "
        f"{counts['max']}); cache misses in the cold pass: {plan_us['cold_misses']['n']}"
    )
    for name, backend in figures["backends"].items():
        loads = ", ".join(f"{ms:.0f}" for ms in backend["load_snapshot_ms"]["all"])
        print(
            f"{name}: generated in {backend['generate_s']:.2f} s; loads {loads} ms; "
            f"snapshot identical to SQLite's: {backend['same_snapshot_as_sqlite']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.routing", description="Routing decision and catalog load times."
    )
    add_postgres_option(parser, "load from")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args.postgres)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
