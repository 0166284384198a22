"""The hourly rollup is kept exactly: its sums equal the usage rows' sums (money to the last of
ten decimal places), a record written twice counts once, and rebuilding it from the rows
(the CLI, a range, the 0004 and 0006 migrations) gives the very same rows."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, Table, delete, insert, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.db import create_db_engine, downgrade, upgrade
from switchboard.models import LLMModel, LLMProvider, LLMUsageLog
from switchboard.services.analytics import (
    Granularity,
    UsageFilters,
    time_series,
    top_models,
    usage_totals,
    users_usage,
)
from switchboard.services.rollups import rebuild_rollups
from switchboard.usage import UsageRecord, write_records
from switchboard.usage.store import (
    HOURLY,
    LATENCY_COLUMNS,
    ROLLUP_COUNTERS,
    ROLLUPS,
    Grain,
    Rollup,
)

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def catalog(request: pytest.FixtureRequest) -> None:
    """Provider 7 with models 1 and 2, which the records name (not for the migration test)."""
    if "db" not in request.fixturenames:
        return
    db: Session = request.getfixturevalue("db")
    db.add(LLMProvider(id=7, provider_name="P", provider_slug="p"))
    db.flush()
    db.add_all(
        [LLMModel(id=n, provider_id=7, model_name=f"M{n}", model_id=f"m{n}") for n in (1, 2)]
    )
    db.commit()


def random_records(
    seed: int, count: int, *, hours: int = 5, catalog: bool = True
) -> list[UsageRecord]:
    rnd = random.Random(seed)
    records = []
    for n in range(count):
        cost = Decimal(rnd.randrange(0, 10**13)).scaleb(-12)  # 12 places: rounded when stored
        latency = rnd.choice([None, 0, 50, 51, 100, 30000, 30001, rnd.randrange(1, 40000)])
        records.append(
            UsageRecord(
                request_id=f"req-{seed}-{n}",
                user_id=rnd.choice(["alice", "bob", "carol"]),
                model_id=rnd.choice([None, 1, 2] if catalog else [None]),
                provider_id=rnd.choice([None, 7] if catalog else [None]),
                power_level=rnd.choice([None, "eco", "balanced"]),
                user_tier=rnd.choice([None, "free", "professional"]),
                prompt_tokens=rnd.randrange(0, 5000),
                cached_tokens=rnd.randrange(0, 100),
                completion_tokens=rnd.randrange(0, 2000),
                cost_total_usd=cost,
                used_byok=rnd.random() < 0.3,
                latency_ms=latency,
                status_code=rnd.choice([None, 200, 200, 200, 429, 500]),
                created_at=START + timedelta(seconds=rnd.randrange(hours * 3600)),
                cache_write_tokens=rnd.choice([0, 0, rnd.randrange(1, 3000)]),
            )
        )
    return records


Rows = dict[tuple[Any, ...], dict[str, Any]]


def rollup_rows(db: Session, rollup: Rollup = HOURLY) -> Rows:
    db.expire_all()
    return {
        tuple(getattr(row, name) for name in rollup.key): {
            name: getattr(row, name) for name in ROLLUP_COUNTERS
        }
        for row in db.scalars(select(rollup.table)).all()
    }


def all_rollups(db: Session) -> dict[str, Rows]:
    return {rollup.table.__tablename__: rollup_rows(db, rollup) for rollup in ROLLUPS}


def column_sum(rows: dict[tuple[Any, ...], dict[str, Any]], name: str) -> Any:
    return sum((values[name] for values in rows.values()), Decimal(0) if "cost" in name else 0)


@pytest.mark.parametrize("rollup", ROLLUPS, ids=lambda rollup: rollup.table.__tablename__)
def test_rollup_sums_equal_the_rows_sums_exactly(db: Session, rollup: Rollup) -> None:
    records = random_records(1, 600, hours=50)
    for start in range(0, 600, 100):
        write_records(db, records[start : start + 100])
        db.commit()
    stored = db.execute(select(LLMUsageLog)).scalars().all()
    rows = rollup_rows(db, rollup)

    assert column_sum(rows, "requests") == len(stored) == 600
    assert column_sum(rows, "cost_total_usd") == sum(row.cost_total_usd for row in stored)
    assert column_sum(rows, "cost_total_usd") == sum(
        r.cost_total_usd.quantize(Decimal("1e-10")) for r in records
    )
    assert column_sum(rows, "byok_cost_total_usd") == sum(
        row.cost_total_usd for row in stored if row.used_byok
    )
    assert column_sum(rows, "prompt_tokens") == sum(row.prompt_tokens for row in stored)
    assert column_sum(rows, "cache_write_tokens") == sum(row.cache_write_tokens for row in stored)
    assert column_sum(rows, "byok_cache_write_tokens") == sum(
        row.cache_write_tokens for row in stored if row.used_byok
    )
    assert column_sum(rows, "byok_cache_write_tokens") > 0
    assert column_sum(rows, "byok_completion_tokens") == sum(
        row.completion_tokens for row in stored if row.used_byok
    )
    assert column_sum(rows, "errors") == sum(
        1 for row in stored if row.status_code is None or row.status_code >= 400
    )
    assert column_sum(rows, "latency_count") == sum(1 for r in stored if r.latency_ms is not None)
    assert column_sum(rows, "latency_ms_sum") == sum(r.latency_ms or 0 for r in stored)
    assert sum(column_sum(rows, name) for name in LATENCY_COLUMNS) == column_sum(
        rows, "latency_count"
    )
    assert all(None not in key for key in rows)
    buckets = {Grain.HOUR: 50, Grain.DAY: 3, Grain.WEEK: 2}  # from Sunday 09:00, 50 hours
    assert len({key[0] for key in rows}) == buckets[rollup.grain]


def test_sqlite_money_stays_exact_over_many_large_increments(db: Session) -> None:
    amount = Decimal("1234.5678901234")
    for n in range(60):
        record = UsageRecord(
            request_id=f"big-{n}", user_id="u", cost_total_usd=amount, created_at=START
        )
        write_records(db, [record])
        db.commit()
    for rows in all_rollups(db).values():
        ((_, values),) = rows.items()
        assert values["cost_total_usd"] == amount * 60
        assert values["requests"] == 60


def test_a_record_written_twice_is_counted_once(db: Session) -> None:
    records = random_records(2, 50)
    write_records(db, records)
    db.commit()
    before = all_rollups(db)
    write_records(db, records[10:30] + random_records(2, 50)[:5])  # a replayed batch
    write_records(db, [records[0], records[0]])
    db.commit()
    assert all_rollups(db) == before

    fresh = random_records(3, 4)
    write_records(db, [fresh[0], fresh[1], fresh[0]])  # a repeat within one batch
    db.commit()
    assert {name: column_sum(rows, "requests") for name, rows in all_rollups(db).items()} == {
        rollup.table.__tablename__: 52 for rollup in ROLLUPS
    }


@pytest.mark.parametrize(
    ("latency", "column"),
    [
        (0, "latency_le_50"),
        (50, "latency_le_50"),
        (51, "latency_le_100"),
        (2500, "latency_le_2500"),
        (30000, "latency_le_30000"),
        (30001, "latency_gt_30000"),
    ],
)
def test_latency_buckets_are_upper_bound_inclusive(db: Session, latency: int, column: str) -> None:
    write_records(db, [UsageRecord(request_id="r", user_id="u", latency_ms=latency)])
    db.commit()
    incremental = all_rollups(db)
    for rows in incremental.values():
        ((_, values),) = rows.items()
        assert {name for name in LATENCY_COLUMNS if values[name]} == {column}
    rebuild_rollups(db)
    db.commit()
    assert all_rollups(db) == incremental


def test_rebuild_equals_the_incremental_rollups(db: Session) -> None:
    write_records(db, random_records(4, 400, hours=60))
    db.commit()
    incremental = all_rollups(db)
    written = rebuild_rollups(db)
    db.commit()
    assert written == {name: len(rows) for name, rows in incremental.items()}
    assert all_rollups(db) == incremental


def test_rebuild_recovers_rows_inserted_behind_the_writer(db: Session) -> None:
    write_records(db, random_records(5, 300, hours=60))
    db.commit()
    expected = all_rollups(db)
    db.execute(delete(LLMUsageLog))
    for rollup in ROLLUPS:
        db.execute(delete(rollup.table))
    db.commit()
    direct = [record.column_values() for record in random_records(5, 300, hours=60)]
    db.execute(insert(LLMUsageLog), direct)
    db.commit()
    assert all(rows == {} for rows in all_rollups(db).values())

    week = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; the rows start the day before
    rebuild_rollups(db, since=week + timedelta(hours=10), until=week + timedelta(hours=11))
    db.commit()
    for name, rows in all_rollups(db).items():
        assert rows and {Grain.WEEK.start(key[0]) for key in rows} == {week}
        assert rows == {key: values for key, values in expected[name].items() if key in rows}
        assert len(rows) == sum(1 for key in expected[name] if Grain.WEEK.start(key[0]) == week)

    rebuild_rollups(db)
    db.commit()
    assert all_rollups(db) == expected


def test_cli_rebuild_rollups(
    db: Session, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.execute(insert(LLMUsageLog), [r.column_values() for r in random_records(6, 30)])
    db.commit()
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(app, ["usage", "rebuild-rollups"])
    assert result.exit_code == 0, result.output
    assert "llm_usage_daily" in result.output
    assert column_sum(rollup_rows(db), "requests") == 30


def insert_at_0003(engine: Engine, records: list[UsageRecord]) -> None:
    """Insert `records` into a database at revision 0003, with the columns it had then."""
    with engine.begin() as connection:
        then = Table(LLMUsageLog.__tablename__, MetaData(), autoload_with=connection)
        legacy = [
            {name: value for name, value in r.column_values().items() if name in then.c}
            for r in records
        ]
        connection.execute(insert(then), legacy)


def test_migration_0004_fills_the_rollups_from_existing_rows(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        upgrade(engine, "0003")
        insert_at_0003(engine, random_records(7, 200, hours=50, catalog=False))
        upgrade(engine)
        with Session(engine) as session:
            migrated = all_rollups(session)
            rebuild_rollups(session)
            session.commit()
            assert migrated == all_rollups(session)
            assert column_sum(migrated["llm_usage_daily"], "requests") == 200
        downgrade(engine, "0003")
    finally:
        engine.dispose()


def test_migration_0006_sums_the_cache_writes_of_existing_rows(database_url: str) -> None:
    """A database at 0005 whose rows hold cache writes that its rollups did not sum: after the
    upgrade they do, exactly as a rebuild from the rows would."""
    engine = create_db_engine(database_url)
    try:
        upgrade(engine, "0003")
        insert_at_0003(engine, random_records(9, 300, hours=50, catalog=False))
        upgrade(engine, "0005")  # 0004 sums the rollups; 0005 adds the rows' cache writes
        with engine.begin() as connection:
            connection.execute(text("UPDATE llm_usage_logs SET cache_write_tokens = id % 7 * 100"))
            writes = connection.scalar(text("SELECT SUM(cache_write_tokens) FROM llm_usage_logs"))
            byok_writes = connection.scalar(
                text("SELECT SUM(cache_write_tokens) FROM llm_usage_logs WHERE used_byok")
            )
        upgrade(engine)
        with Session(engine) as session:
            migrated = all_rollups(session)
            for rows in migrated.values():
                assert column_sum(rows, "requests") == 300
                assert column_sum(rows, "cache_write_tokens") == writes > 0
                assert column_sum(rows, "byok_cache_write_tokens") == byok_writes > 0
            rebuild_rollups(session)
            session.commit()
            assert migrated == all_rollups(session)
        downgrade(engine, "0005")
    finally:
        engine.dispose()


def test_any_period_and_filter_reads_exactly_the_rows_in_it(db: Session) -> None:
    """Periods cut anywhere (raw edges, whole hours, whole days) and every filter: the
    analytics equal sums over the records themselves."""
    records = random_records(8, 500, hours=80)
    write_records(db, records)
    db.commit()
    rnd = random.Random(8)
    filters_tried = [{}, {"user_id": "bob"}, {"model_id": 2}, {"power_level": "eco"}]
    filters_tried += [{"user_tier": "free", "provider_id": 7}]
    for n in range(24):
        since = START + timedelta(seconds=rnd.randrange(-3600, 40 * 3600))
        until = since + timedelta(seconds=rnd.randrange(1, 60 * 3600))
        if n % 4 == 0:  # whole hours and days too
            since, until = Grain.HOUR.start(since), Grain.DAY.ceil(until)
        dimensions = filters_tried[n % len(filters_tried)]
        filters = UsageFilters.build(since=since, until=until, **dimensions)
        inside = [
            r
            for r in records
            if since <= r.created_at < until
            and all(getattr(r, name) == value for name, value in dimensions.items())
        ]
        totals = usage_totals(db, filters=filters)
        assert totals.spend.requests == len(inside)
        assert totals.spend.cost_total_usd == sum(
            (r.cost_total_usd.quantize(Decimal("1e-10")) for r in inside), Decimal(0)
        )
        assert totals.byok.prompt_tokens == sum(r.prompt_tokens for r in inside if r.used_byok)
        writes = sum(r.cache_write_tokens for r in inside)
        assert totals.spend.cache_write_tokens == writes
        assert totals.byok.cache_write_tokens == sum(
            r.cache_write_tokens for r in inside if r.used_byok
        )
        assert totals.latency_ms_sum == sum(r.latency_ms or 0 for r in inside)
        per_user = {
            u.user_id: u.totals.spend.requests for u in users_usage(db, filters=filters).items
        }
        assert per_user == dict(Counter(r.user_id for r in inside))
        user_writes = Counter[str]()
        for r in inside:
            user_writes[r.user_id] += r.cache_write_tokens
        assert {
            u.user_id: u.totals.spend.cache_write_tokens
            for u in users_usage(db, filters=filters).items
        } == {user: user_writes[user] for user in per_user}
        per_model = {m.model_db_id: m.request_count for m in top_models(db, filters=filters)}
        assert per_model == dict(Counter(r.model_id for r in inside if r.model_id))
        for granularity in Granularity:
            points = time_series(db, filters=filters, granularity=granularity)
            assert sum(p.totals.spend.requests for p in points) == len(inside)
            assert sum(p.totals.spend.cache_write_tokens for p in points) == writes
            assert sum(p.totals.spend.errors for p in points) == sum(
                1 for r in inside if r.status_code is None or r.status_code >= 400
            )


def test_cli_usage_top(db: Session, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    costs = [(1, "0.25", 1), (2, "1.5", 2), (1, "0.5", 3), (2, "9", 9)]  # model, cost, days ago
    write_records(
        db,
        [
            UsageRecord(
                request_id=f"top-{n}",
                user_id="u",
                model_id=model,
                provider_id=7,
                cost_total_usd=Decimal(cost),
                created_at=now - timedelta(days=days),
            )
            for n, (model, cost, days) in enumerate(costs)
        ],
    )
    db.commit()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["usage", "top", "--days", "7"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if " M" in line]
    assert [line.split()[1] for line in lines] == ["M2", "M1"]
    assert "1.5000000000" in lines[0] and "0.7500000000" in lines[1]
    assert "0.3750000000" in lines[1]  # per request
    week = CliRunner().invoke(app, ["usage", "top", "--days", "10"])
    assert "10.5000000000" in week.output
