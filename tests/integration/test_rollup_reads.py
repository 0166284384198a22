"""Reading the coarser rollups (daily and weekly, without the user or the model) gives exactly
what summing the usage rows themselves gives: totals, top users and models, time series —
over whole weeks, odd edges, a viewer's day in another time zone, and every filter — and
migration 0012 fills them as the writer keeps them."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from switchboard.db import create_db_engine, downgrade, upgrade
from switchboard.models import LLMModel, LLMProvider
from switchboard.services.analytics import (
    Granularity,
    UsageFilters,
    spend_candidates,
    time_series,
    top_models,
    top_users,
    usage_totals,
    users_usage,
)
from switchboard.services.paging import Window
from switchboard.usage import UsageRecord, write_records
from switchboard.usage.store import ROLLUPS, Grain
from tests.integration.test_rollups import all_rollups

START = datetime(2026, 2, 2, tzinfo=UTC)  # a Monday
DAYS = 40
USERS = 60
MODELS = (1, 2, 3, 4)
TIERS = ("free", "starter", "professional", "enterprise")
IST = timezone(timedelta(hours=5, minutes=30))
TENTH = Decimal("1e-10")


@pytest.fixture
def records(db: Session) -> list[UsageRecord]:
    """Usage of 60 users over 40 days: a few busy ones (costs falling off like a Zipf law),
    four models of two providers, a tier per user; users 50-54 each spend the same,
    written in batches."""
    db.add_all([LLMProvider(id=p, provider_name=f"P{p}", provider_slug=f"p{p}") for p in (7, 8)])
    db.flush()
    db.add_all(
        [
            LLMModel(id=n, provider_id=7 if n < 3 else 8, model_name=f"M{n}", model_id=f"m{n}")
            for n in MODELS
        ]
    )
    db.commit()
    rnd = random.Random(11)
    made = []
    for n in range(2400):
        rank = min(int(rnd.paretovariate(0.8)) - 1, USERS - 11)
        model = rnd.choice(MODELS)
        made.append(
            UsageRecord(
                request_id=f"r-{n}",
                user_id=f"u{rank:02d}",
                model_id=model,
                provider_id=7 if model < 3 else 8,
                power_level=rnd.choice(["eco", "balanced"]),
                user_tier=TIERS[rank % 4],
                prompt_tokens=rnd.randrange(5000),
                completion_tokens=rnd.randrange(2000),
                cache_write_tokens=rnd.choice([0, rnd.randrange(1, 900)]),
                cost_total_usd=Decimal(rnd.randrange(10**12)).scaleb(-12) / (1 + rank),
                used_byok=rnd.random() < 0.2,
                latency_ms=rnd.randrange(1, 9000),
                status_code=rnd.choice([200, 200, 200, 500]),
                created_at=START + timedelta(seconds=rnd.randrange(DAYS * 86400)),
            )
        )
    for n in range(50, 55):  # equal spenders: the tie goes to the user id
        made.append(
            UsageRecord(
                request_id=f"tie-{n}",
                user_id=f"u{n}",
                model_id=1,
                provider_id=7,
                user_tier="free",
                cost_total_usd=Decimal("0.3"),
                created_at=START + timedelta(days=9, hours=n - 40),
            )
        )
    for start in range(0, len(made), 300):
        write_records(db, made[start : start + 300])
        db.commit()
    return made


def cost(record: UsageRecord) -> Decimal:
    return record.cost_total_usd.quantize(TENTH)


def inside(records: list[UsageRecord], filters: UsageFilters) -> list[UsageRecord]:
    wanted = filters.dimensions().items()
    return [
        r
        for r in records
        if filters.since <= r.created_at < filters.until
        and all(getattr(r, name) == value for name, value in wanted)
    ]


def ranked(
    rows: list[UsageRecord], key: Callable[[UsageRecord], Any]
) -> list[tuple[Any, Decimal, int]]:
    """(key, cost, requests), the costliest first, then by key."""
    costs: dict[Any, Decimal] = defaultdict(Decimal)
    counts: dict[Any, int] = defaultdict(int)
    for r in rows:
        costs[key(r)] += cost(r)
        counts[key(r)] += 1
    return sorted(((k, costs[k], counts[k]) for k in costs), key=lambda t: (-t[1], t[0]))


PERIODS = {
    "30 whole days": (START + timedelta(days=5), START + timedelta(days=35)),
    "whole weeks": (START + timedelta(days=7), START + timedelta(days=28)),
    "odd edges": (
        START + timedelta(days=3, hours=5, minutes=17, seconds=3),
        START + timedelta(days=31, hours=22, minutes=41),
    ),
    "a week of days in UTC+05:30": (
        datetime(2026, 2, 12, tzinfo=IST),
        datetime(2026, 2, 19, tzinfo=IST),
    ),
    "30 days in UTC+05:30": (datetime(2026, 2, 6, tzinfo=IST), datetime(2026, 3, 8, tzinfo=IST)),
    "within a day": (START + timedelta(days=9, hours=3), START + timedelta(days=9, hours=20)),
}
FILTERS: list[dict[str, Any]] = [
    {},
    {"user_tier": "free"},
    {"model_id": 2},
    {"provider_id": 8, "power_level": "eco"},
    {"user_id": "u00"},
    {"user_tier": "enterprise", "power_level": "balanced"},
]


@pytest.mark.parametrize("period", list(PERIODS), ids=list(PERIODS))
def test_every_read_equals_the_rows_sums(
    db: Session, records: list[UsageRecord], period: str
) -> None:
    since, until = PERIODS[period]
    for dimensions in FILTERS:
        filters = UsageFilters.build(since=since, until=until, **dimensions)
        rows = inside(records, filters)
        assert rows or "user_id" in dimensions or "power_level" in dimensions, dimensions

        totals = usage_totals(db, filters=filters)
        assert totals.spend.requests == len(rows)
        assert totals.spend.cost_total_usd == sum(map(cost, rows), Decimal(0))
        assert totals.spend.cache_write_tokens == sum(r.cache_write_tokens for r in rows)
        assert totals.byok.cost_total_usd == sum((cost(r) for r in rows if r.used_byok), Decimal(0))
        assert totals.latency_ms_sum == sum(r.latency_ms or 0 for r in rows)

        by_user = ranked(rows, lambda r: r.user_id)
        top = top_users(db, filters=filters, window=Window(5))
        assert [
            (u.user_id, u.totals.spend.cost_total_usd, u.totals.spend.requests) for u in top
        ] == (by_user[:5])
        page = users_usage(db, filters=filters, window=Window(7, 5))
        assert page.total == len(by_user)
        assert [(u.user_id, u.totals.spend.cost_total_usd) for u in page.items] == [
            (user, spent) for user, spent, _ in by_user[5:12]
        ]

        by_model = ranked(rows, lambda r: (r.model_id,))
        models = top_models(db, filters=filters, limit=2)
        assert [(m.model_db_id, m.total_cost, m.request_count) for m in models] == [
            (model, spent, count) for (model,), spent, count in by_model[:2]
        ]

        for granularity in Granularity:
            points = time_series(db, filters=filters, granularity=granularity)
            expected: dict[datetime, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
            for r in rows:
                sums = expected[granularity.grain.start(r.created_at)]
                sums[0] += 1
                sums[1] += cost(r)
            got = {
                p.start: [p.totals.spend.requests, p.totals.spend.cost_total_usd] for p in points
            }
            assert {start: sums for start, sums in got.items() if sums[0]} == dict(expected)


def test_top_users_are_summed_for_a_few_candidates_only(
    db: Session, records: list[UsageRecord]
) -> None:
    """Over 30 days the weekly bounds leave only a handful of the 60 users to sum exactly —
    yet the ranking, ties included, is the one of all of them (the test above)."""
    since, until = PERIODS["30 whole days"]
    filters = UsageFilters.build(since=since, until=until)
    candidates = spend_candidates(db, filters, "user_id", 3)
    assert candidates is not None
    expected = ranked(inside(records, filters), lambda r: r.user_id)
    assert {user for user, _, _ in expected[:3]} <= set(candidates)
    assert len(candidates) < len(expected) / 2

    free = UsageFilters.build(since=since, until=until, user_tier="free")
    expected_free = [user for user, _, _ in ranked(inside(records, free), lambda r: r.user_id)]
    cut = expected_free.index("u50") + 2  # between u51 and u52, who spend the same
    assert spend_candidates(db, free, "user_id", cut) is not None
    top = top_users(db, filters=free, window=Window(cut))
    assert [user.user_id for user in top] == expected_free[:cut]


def test_a_long_period_reads_no_hourly_rows_on_day_boundaries(
    db: Session, records: list[UsageRecord]
) -> None:
    """The daily and weekly rollups alone answer a period of whole UTC days: deleting the
    hourly rollups changes none of its numbers."""
    since, until = PERIODS["30 whole days"]
    filters = UsageFilters.build(since=since, until=until, user_tier="starter")
    before = (
        usage_totals(db, filters=filters),
        top_users(db, filters=filters, window=Window(5)),
        top_models(db, filters=filters),
        time_series(db, filters=filters, granularity=Granularity.DAY),
    )
    for rollup in ROLLUPS:
        if rollup.grain is Grain.HOUR:
            db.execute(delete(rollup.table))
    db.commit()
    assert before == (
        usage_totals(db, filters=filters),
        top_users(db, filters=filters, window=Window(5)),
        top_models(db, filters=filters),
        time_series(db, filters=filters, granularity=Granularity.DAY),
    )


def test_migration_0012_fills_the_new_rollups_as_the_writer_keeps_them(
    db: Session, records: list[UsageRecord], database_url: str
) -> None:
    kept = all_rollups(db)
    db.close()
    engine = create_db_engine(database_url)
    try:
        downgrade(engine, "0011")
        upgrade(engine)
    finally:
        engine.dispose()
    assert all_rollups(db) == kept
    assert sum(row["requests"] for row in kept["llm_usage_weekly_users"].values()) == len(records)
