"""The admin usage analytics API over HTTP, on SQLite and PostgreSQL: numbers checked by hand,
against the spec's SQL over the same rows, and through the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.models import LLMModel, LLMProvider
from switchboard.usage import UsageRecord, write_records
from tests.spec.test_spec_queries import TOP_COST_MODELS, USER_USAGE_STATISTICS, run

URL = "/api/v1/admin/llm/usage"
T0 = datetime(2026, 3, 10, tzinfo=UTC)
PERIOD = {"since": T0.isoformat(), "until": (T0 + timedelta(days=3)).isoformat()}
PERIOD_JSON = {"since": "2026-03-10T00:00:00Z", "until": "2026-03-13T00:00:00Z"}
Catalog = dict[str, LLMModel]


@pytest.fixture
def catalog(db: Session) -> Catalog:
    openai = LLMProvider(provider_name="OpenAI", provider_slug="openai")
    anthropic = LLMProvider(provider_name="Anthropic", provider_slug="anthropic")
    db.add_all([openai, anthropic])
    db.flush()
    models = {
        "mini": LLMModel(provider_id=openai.id, model_name="GPT-4o mini", model_id="gpt-4o-mini"),
        "sonnet": LLMModel(
            provider_id=anthropic.id, model_name="Claude Sonnet", model_id="claude-sonnet"
        ),
    }
    db.add_all(models.values())
    db.commit()
    return models


def record(model: LLMModel, at: datetime, cost: str, **fields: Any) -> UsageRecord:
    return UsageRecord(
        request_id=f"{fields['user_id']}-{at.isoformat()}",
        model_id=model.id,
        provider_id=model.provider_id,
        model_name=model.model_id,
        created_at=at,
        cost_total_usd=Decimal(cost),
        status_code=fields.pop("status_code", 200),
        **fields,
    )


def hand_rows(catalog: Catalog) -> list[UsageRecord]:
    """Alice (professional) and Bob (free) over three days from T0, and one row before T0."""
    mini, sonnet = catalog["mini"], catalog["sonnet"]
    alice = {"user_id": "alice", "user_tier": "professional"}
    bob = {"user_id": "bob", "user_tier": "free", "power_level": "eco"}
    hour = timedelta(hours=1)
    return [
        record(sonnet, T0 - hour, "5", **alice, power_level="precision"),  # before the period
        record(
            mini,
            T0 + hour + timedelta(minutes=10),
            "0.00045",  # 1000 × $0.15 + 500 × $0.60 per 1M
            **alice,
            power_level="balanced",
            prompt_tokens=1000,
            completion_tokens=500,
            latency_ms=100,
            used_byok=True,
        ),
        record(
            sonnet,
            T0 + hour + timedelta(minutes=20),
            "0.021",  # 2000 × $3 + 1000 × $15 per 1M
            **alice,
            power_level="precision",
            prompt_tokens=2000,
            completion_tokens=1000,
            latency_ms=300,
        ),
        record(sonnet, T0 + 26 * hour, "0", **alice, power_level="precision", status_code=500),
        record(
            mini,
            T0 + 2 * hour,
            "0.0012",  # 3000 × 0.15 + 1000 cached × 0.15 + 1000 × 0.60
            **bob,
            prompt_tokens=4000,
            cached_tokens=1000,
            completion_tokens=1000,
            latency_ms=2000,
            used_byok=True,
        ),
        record(
            mini,
            T0 + 49 * hour,
            "0.0000075",
            **bob,
            prompt_tokens=10,
            completion_tokens=10,
            latency_ms=40000,
            status_code=429,
        ),
    ]


@pytest.fixture
def usage(db: Session, catalog: Catalog) -> Catalog:
    rows = hand_rows(catalog)
    write_records(db, rows[:3])
    write_records(db, rows)  # written twice: counted once
    db.commit()
    return catalog


def get(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    response = client.get(f"{URL}{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


ALICE = {
    "user_id": "alice",
    "total_requests": 3,
    "errors": 1,
    "prompt_tokens": 3000,
    "cached_tokens": 0,
    "cache_write_tokens": 0,
    "completion_tokens": 1500,
    "total_tokens": 4500,
    "total_cost": "0.0214500000",
    "avg_latency": 200.0,
    "byok_requests": 1,
    "byok_share": pytest.approx(1 / 3),
}
BOB = {
    "user_id": "bob",
    "total_requests": 2,
    "errors": 1,
    "prompt_tokens": 4010,
    "cached_tokens": 1000,
    "cache_write_tokens": 0,
    "completion_tokens": 1010,
    "total_tokens": 5020,
    "total_cost": "0.0012075000",
    "avg_latency": 21000.0,
    "byok_requests": 1,
    "byok_share": 0.5,
}


def test_user_statistics(client: TestClient, admin_headers: dict[str, str], usage: Catalog) -> None:
    body = get(client, admin_headers, "/users/alice", **PERIOD)
    assert body == {**ALICE, **PERIOD_JSON}


def test_a_period_may_cut_an_hour(
    client: TestClient, admin_headers: dict[str, str], usage: Catalog
) -> None:
    since = (T0 + timedelta(hours=1, minutes=15)).isoformat()
    body = get(client, admin_headers, "/users/alice", since=since, until=PERIOD["until"])
    assert (body["total_requests"], body["total_cost"]) == (2, "0.0210000000")
    until = (T0 + timedelta(hours=1, minutes=15)).isoformat()
    body = get(client, admin_headers, "/users/alice", since=PERIOD["since"], until=until)
    assert (body["total_requests"], body["total_cost"]) == (1, "0.0004500000")


def test_users_sorted_by_cost_and_paginated(
    client: TestClient, admin_headers: dict[str, str], usage: Catalog
) -> None:
    body = get(client, admin_headers, "/users", **PERIOD)
    assert (body["total"], body["items"]) == (2, [ALICE, BOB])
    second = get(client, admin_headers, "/users", **PERIOD, limit=1, offset=1)
    assert (second["total"], second["items"]) == (2, [BOB])
    beyond = get(client, admin_headers, "/users", **PERIOD, offset=5)
    assert (beyond["total"], beyond["items"]) == (2, [])
    eco = get(client, admin_headers, "/users", **PERIOD, power_level="eco")
    assert [item["user_id"] for item in eco["items"]] == ["bob"]


def test_top_models(client: TestClient, admin_headers: dict[str, str], usage: Catalog) -> None:
    items = get(client, admin_headers, "/top-models", **PERIOD)["items"]
    assert [
        (i["model_name"], i["provider_name"], i["request_count"], i["total_cost"]) for i in items
    ] == [
        ("Claude Sonnet", "Anthropic", 2, "0.0210000000"),
        ("GPT-4o mini", "OpenAI", 3, "0.0016575000"),
    ]
    assert [i["avg_cost_per_request"] for i in items] == ["0.0105000000", "0.0005525000"]
    assert items[0]["id"] == usage["sonnet"].id and items[0]["model_id"] == "claude-sonnet"
    free = get(client, admin_headers, "/top-models", **PERIOD, user_tier="free", limit=1)
    assert [(i["model_id"], i["request_count"]) for i in free["items"]] == [("gpt-4o-mini", 2)]
    anthropic = usage["sonnet"].provider_id
    only = get(client, admin_headers, "/top-models", **PERIOD, provider_id=anthropic)
    assert [i["model_id"] for i in only["items"]] == ["claude-sonnet"]


def test_daily_time_series_with_percentiles(
    client: TestClient, admin_headers: dict[str, str], usage: Catalog
) -> None:
    body = get(client, admin_headers, "/timeseries", **PERIOD, granularity="day")
    points = body["points"]
    assert [p["start"] for p in points] == [
        (T0 + timedelta(days=d)).isoformat().replace("+00:00", "Z") for d in range(3)
    ]
    assert [(p["requests"], p["errors"], p["cost_total_usd"]) for p in points] == [
        (3, 0, "0.0226500000"),
        (1, 1, "0.0000000000"),
        (1, 1, "0.0000075000"),
    ]
    # day 1 latencies 100, 300, 2000 ms fall in (50, 100], (250, 500], (1000, 2500]
    assert (points[0]["p50_latency_ms"], points[0]["avg_latency_ms"]) == (375.0, 800.0)
    assert points[0]["p95_latency_ms"] == pytest.approx(2275.0)
    assert points[0]["p99_latency_ms"] == pytest.approx(2455.0)
    assert points[1]["p50_latency_ms"] is None
    assert points[2]["p99_latency_ms"] == 30000.0  # beyond the last bound: the bound


def test_hourly_time_series_fills_empty_hours(
    client: TestClient, admin_headers: dict[str, str], usage: Catalog
) -> None:
    points = get(client, admin_headers, "/timeseries", **PERIOD, user_id="bob")["points"]
    assert len(points) == 72
    assert {i: p["requests"] for i, p in enumerate(points) if p["requests"]} == {2: 1, 49: 1}
    assert points[2]["cached_tokens"] == 1000 and points[2]["byok_requests"] == 1


def test_csv_exports_parse_and_sum_to_the_totals(
    client: TestClient, admin_headers: dict[str, str], usage: Catalog
) -> None:
    def export(**params: Any) -> list[dict[str, str]]:
        response = client.get(f"{URL}/export.csv", params=params, headers=admin_headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        return list(csv.DictReader(io.StringIO(response.text)))

    rows = export(**PERIOD, kind="rows")
    assert len(rows) == 5
    assert sum(Decimal(r["cost_total_usd"]) for r in rows) == Decimal("0.0226575")
    assert [r["user_id"] for r in rows] == ["alice", "alice", "bob", "alice", "bob"]
    assert rows[0]["used_byok"] == "true" and rows[3]["latency_ms"] == ""
    assert rows[0]["created_at"] == "2026-03-10T01:10:00+00:00"
    assert rows[0]["cost_total_usd"] == "0.0004500000"
    series = export(**PERIOD, kind="timeseries", granularity="hour")
    assert len(series) == 72
    assert sum(Decimal(r["cost_total_usd"]) for r in series) == Decimal("0.0226575")
    assert sum(int(r["requests"]) for r in series) == 5
    assert export(**PERIOD, kind="rows", user_id="nobody") == []


def test_cache_writes_are_in_every_token_sum(
    client: TestClient, admin_headers: dict[str, str], db: Session, catalog: Catalog
) -> None:
    """Per user, over a period cut mid-hour, per hour and per day, and in the CSV time series:
    the cache writes summed equal the rows' (read from the rollups and the rows alike)."""
    at, sonnet = T0 + timedelta(hours=5), catalog["sonnet"]
    carol, dave = {"user_id": "carol"}, {"user_id": "dave"}
    write_records(
        db,
        [
            record(sonnet, at, "0.01", **carol, prompt_tokens=3000, cache_write_tokens=2000),
            record(sonnet, at + timedelta(minutes=5), "0.01", **carol, cache_write_tokens=500),
            record(sonnet, at + timedelta(days=1), "0.01", **dave, cache_write_tokens=64),
        ],
    )
    db.commit()
    assert get(client, admin_headers, "/users/carol", **PERIOD)["cache_write_tokens"] == 2500
    since = (at + timedelta(minutes=1)).isoformat()
    cut = get(client, admin_headers, "/users/carol", since=since, until=PERIOD["until"])
    assert cut["cache_write_tokens"] == 500
    users = get(client, admin_headers, "/users", **PERIOD)["items"]
    assert {u["user_id"]: u["cache_write_tokens"] for u in users} == {"carol": 2500, "dave": 64}
    days = get(client, admin_headers, "/timeseries", **PERIOD, granularity="day")["points"]
    assert [p["cache_write_tokens"] for p in days] == [2500, 64, 0]
    hours = get(client, admin_headers, "/timeseries", **PERIOD, granularity="hour")["points"]
    assert {n: p["cache_write_tokens"] for n, p in enumerate(hours) if p["requests"]} == {
        5: 2500,
        29: 64,
    }
    response = client.get(
        f"{URL}/export.csv", params={**PERIOD, "kind": "timeseries"}, headers=admin_headers
    )
    series = list(csv.DictReader(io.StringIO(response.text)))
    assert sum(int(r["cache_write_tokens"]) for r in series) == 2564


FORMULAS = {
    '=HYPERLINK("http://x")': '\'=HYPERLINK("http://x")',
    "+1+1": "'+1+1",
    "@SUM(A1)": "'@SUM(A1)",
    "\t=1": "'\t=1",
    "\r=1": "'\r=1",
    "plain-text": "plain-text",
}


def test_csv_text_cells_never_run_as_formulas(
    client: TestClient, admin_headers: dict[str, str], db: Session, catalog: Catalog
) -> None:
    """Text a user or client chose (user ids, task types) is exported with a `'` before a
    formula's first character; numbers, negative ones included, are left as they are."""
    at = T0 + timedelta(hours=1)
    rows = [
        record(catalog["mini"], at + timedelta(minutes=n), "0.5", user_id=text, task_type="-2-3")
        for n, text in enumerate(FORMULAS)
    ]
    rows.append(record(catalog["mini"], at + timedelta(minutes=9), "-0.25", user_id="refund"))
    write_records(db, rows)
    db.commit()
    response = client.get(
        f"{URL}/export.csv", params={**PERIOD, "kind": "rows"}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    exported = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert [r["user_id"] for r in exported] == [*FORMULAS.values(), "refund"]
    assert [r["task_type"] for r in exported] == ["'-2-3"] * len(FORMULAS) + [""]
    assert exported[-1]["cost_total_usd"] == "-0.2500000000"
    series = client.get(
        f"{URL}/export.csv", params={**PERIOD, "kind": "timeseries"}, headers=admin_headers
    )
    hour = next(r for r in csv.DictReader(io.StringIO(series.text)) if r["requests"] != "0")
    assert hour["cost_total_usd"] == "2.7500000000"


def test_the_spec_queries_give_the_same_numbers(
    client: TestClient, admin_headers: dict[str, str], db: Session, catalog: Catalog
) -> None:
    now = utcnow()
    rows = [
        record(catalog["mini"], now - timedelta(days=d), cost, user_id=user, **extra)
        for d, cost, user, extra in [
            (1, "0.00045", "user-uuid", {"latency_ms": 100, "used_byok": True}),
            (3, "0.0000000001", "user-uuid", {"latency_ms": 250, "prompt_tokens": 7}),
            (10, "0.021", "user-uuid", {"latency_ms": 301, "completion_tokens": 9}),
            (29, "1.2345678901", "user-uuid", {}),
            (31, "7", "user-uuid", {"latency_ms": 900}),
            (2, "0.5", "someone-else", {}),
        ]
    ]
    rows += [record(catalog["sonnet"], now - timedelta(days=2), "0.0105", user_id="x")]
    write_records(db, rows)
    db.commit()

    ((user_id, requests, tokens, cost, avg_latency, byok),) = run(db, USER_USAGE_STATISTICS)
    since = (now - timedelta(days=30)).isoformat()
    body = get(client, admin_headers, "/users/user-uuid", since=since)
    assert (body["user_id"], body["total_requests"], body["total_tokens"]) == (
        user_id,
        requests,
        tokens,
    )
    assert Decimal(body["total_cost"]) == Decimal(str(cost)).quantize(Decimal("1e-10"))
    assert body["avg_latency"] == pytest.approx(float(avg_latency))
    assert body["byok_requests"] == byok

    spec = run(db, TOP_COST_MODELS)
    items = get(client, admin_headers, "/top-models")["items"]
    assert [(i["model_name"], i["provider_name"], i["request_count"]) for i in items] == [
        (name, provider, count) for name, provider, count, _, _ in spec
    ]
    assert [Decimal(i["total_cost"]) for i in items] == [
        Decimal(str(total)).quantize(Decimal("1e-10")) for _, _, _, total, _ in spec
    ]
    assert [Decimal(i["avg_cost_per_request"]) for i in items] == [
        Decimal(str(avg)).quantize(Decimal("1e-10")) for _, _, _, _, avg in spec
    ]


def test_unknown_user_is_404(
    client: TestClient, admin_headers: dict[str, str], usage: Catalog
) -> None:
    response = client.get(f"{URL}/users/nobody", headers=admin_headers)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/timeseries", {"granularity": "week"}, "granularity"),
        ("/timeseries", {"since": "yesterday"}, "since"),
        ("/top-models", {"user_tier": "gold"}, "user_tier"),
        ("/top-models", {"model_id": "0"}, "model_id"),
        ("/top-models", {"limit": "0"}, "limit"),
        ("/users", {"offset": "-1"}, "offset"),
        ("/export.csv", {"kind": "everything"}, "kind"),
        ("/export.csv", {"power_level": "max"}, "power_level"),
    ],
)
def test_bad_filters_are_422(
    client: TestClient,
    admin_headers: dict[str, str],
    path: str,
    params: dict[str, str],
    field: str,
) -> None:
    response = client.get(f"{URL}{path}", params=params, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["query", field]]


@pytest.mark.parametrize(
    "path", ["/users", "/users/alice", "/top-models", "/timeseries", "/export.csv"]
)
def test_a_backwards_or_too_long_period_is_422_naming_since(
    client: TestClient, admin_headers: dict[str, str], usage: Catalog, path: str
) -> None:
    """Never an empty answer for a period that ends before it starts, nor a period silently
    cut to 366 days: the caller learns which parameter is wrong and what the limit is."""
    periods = {
        "since (2026-03-13T00:00:00+00:00) is after until (2026-03-10T00:00:00+00:00)": {
            "since": PERIOD["until"],
            "until": PERIOD["since"],
        },
        "the period from since to until covers 367 days; it may cover at most 366 days": {
            "since": (T0 - timedelta(days=367)).isoformat(),
            "until": PERIOD["since"],
        },
    }
    for message, params in periods.items():
        response = client.get(f"{URL}{path}", params=params, headers=admin_headers)
        assert response.status_code == 422, response.text
        assert [(e["loc"], e["msg"]) for e in response.json()["detail"]] == [
            (["query", "since"], message)
        ]
    future = (utcnow() + timedelta(days=1)).isoformat()
    response = client.get(f"{URL}{path}", params={"since": future}, headers=admin_headers)
    assert response.status_code == 422
    assert "is after until (now)" in response.json()["detail"][0]["msg"]
    longest = {"since": (T0 - timedelta(days=366)).isoformat(), "until": PERIOD["since"]}
    assert client.get(f"{URL}{path}", params=longest, headers=admin_headers).status_code == 200


def test_usage_analytics_need_the_admin_token(client: TestClient) -> None:
    assert client.get(f"{URL}/top-models").status_code == 401
    assert client.get(f"{URL}/export.csv", headers={"Authorization": "Bearer x"}).status_code == 403
