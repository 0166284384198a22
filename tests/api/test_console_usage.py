"""The console's usage page and CSV export agree with the admin usage API on the same rows."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.usage import write_records
from tests.api.console_session import Console, signed_in
from tests.api.test_admin_usage import T0, Catalog, hand_rows
from tests.api.test_admin_usage import catalog as catalog  # the fixture

URL = "/api/v1/admin/llm/usage"


@pytest.fixture
def console(client: TestClient) -> Console:
    return signed_in(client)


def test_the_view_and_its_csv_equal_the_admin_api(
    console: Console, admin_headers: dict[str, str], db: Session, catalog: Catalog
) -> None:
    write_records(db, hand_rows(catalog))
    db.commit()
    days = {"since": "2026-03-10", "until": "2026-03-12"}  # three whole UTC days
    period = {"since": T0.isoformat(), "until": (T0 + timedelta(days=3)).isoformat()}

    page = console.client.get("/ui/usage", params=days)
    assert page.status_code == 200
    stats = console.client.get(f"{URL}/users", params=period, headers=admin_headers).json()
    total = sum(item["total_requests"] for item in stats["items"])
    assert f'id="total-requests">{total}<' in page.text
    assert "GPT-4o mini" in page.text and "alice" in page.text

    ours = console.client.get("/ui/usage/export.csv", params=days)
    theirs = console.client.get(
        f"{URL}/export.csv",
        params={**period, "kind": "timeseries", "granularity": "day"},
        headers=admin_headers,
    )
    assert ours.status_code == 200 and ours.text == theirs.text

    filtered = console.client.get("/ui/usage/export.csv", params={**days, "user_id": "bob"})
    theirs_bob = console.client.get(
        f"{URL}/export.csv",
        params={**period, "granularity": "day", "user_id": "bob"},
        headers=admin_headers,
    )
    assert filtered.text == theirs_bob.text


def test_the_usage_page_needs_a_sign_in(client: TestClient) -> None:
    assert client.get("/ui/usage/export.csv", follow_redirects=False).status_code == 303


def test_a_form_sent_with_every_filter_on_any_shows_everything(console: Console) -> None:
    empty = dict.fromkeys(["since", "until", "user_id", "model_id", "provider_id"], "")
    everything = {**empty, "user_tier": "", "power_level": ""}
    assert console.client.get("/ui/usage", params=everything).status_code == 200
    assert console.client.get("/ui/usage/export.csv", params=everything).status_code == 200
    models = console.client.get("/ui/models", params={"q": "", "provider": "", "power": ""})
    assert models.status_code == 200
    assert console.client.get("/ui/users", params={"q": "", "tier": ""}).status_code == 200
    assert console.client.get("/ui/usage", params={"since": "yesterday"}).status_code == 422


def table(html: str, key: str) -> list[list[str]]:
    """The rows of the chart table `table-{key}`: each row's header cell, then its cells."""
    body = re.search(rf'<table id="table-{key}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body is not None, key
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S) for row in rows]


def test_each_chart_table_equals_the_admin_time_series(
    console: Console, admin_headers: dict[str, str], db: Session, catalog: Catalog
) -> None:
    write_records(db, hand_rows(catalog))
    db.commit()
    page = console.client.get(
        "/ui/usage", params={"range": "custom", "since": "2026-03-10", "until": "2026-03-12"}
    )
    assert page.status_code == 200
    period = {"since": T0.isoformat(), "until": (T0 + timedelta(days=3)).isoformat()}
    points = console.client.get(
        f"{URL}/timeseries", params={**period, "granularity": "day"}, headers=admin_headers
    ).json()["points"]

    def ms(value: float | None) -> str:
        return "–" if value is None else f"{value:,.0f} ms"

    days = [p["start"][:10] for p in points]
    assert table(page.text, "requests") == [
        [day, f"{p['requests']:,}", f"{p['errors']:,}"] for day, p in zip(days, points, strict=True)
    ]
    assert [[row[0], row[-1]] for row in table(page.text, "cost")] == [  # the Total column
        [day, f"${Decimal(p['cost_total_usd']):,.6f}"] for day, p in zip(days, points, strict=True)
    ]
    uncached = [p["prompt_tokens"] - p["cached_tokens"] - p["cache_write_tokens"] for p in points]
    assert table(page.text, "tokens") == [
        [day, f"{u:,}", f"{p['cached_tokens']:,}", "0", f"{p['completion_tokens']:,}"]
        for day, u, p in zip(days, uncached, points, strict=True)
    ]
    assert table(page.text, "latency") == [
        [day, ms(p["p50_latency_ms"]), ms(p["p95_latency_ms"]), ms(p["p99_latency_ms"])]
        for day, p in zip(days, points, strict=True)
    ]
    # The hand rows: 7,000 prompt tokens on the first day, 1,000 of them cached.
    assert table(page.text, "tokens")[0] == ["2026-03-10", "6,000", "1,000", "0", "2,500"]
    assert table(page.text, "latency")[2] == ["2026-03-12", "30,000 ms", "30,000 ms", "30,000 ms"]


@pytest.mark.parametrize(
    ("preset", "points", "first"),
    [
        ("24h", 24, lambda now: (now - timedelta(hours=23)).strftime("%Y-%m-%d %H:00")),
        ("7d", 7, lambda now: (now - timedelta(days=6)).strftime("%Y-%m-%d")),
        ("30d", 30, lambda now: (now - timedelta(days=29)).strftime("%Y-%m-%d")),
    ],
)
def test_a_preset_range_charts_its_hours_or_days_to_now(
    console: Console, preset: str, points: int, first: Callable[[datetime], str]
) -> None:
    now = utcnow()
    page = console.client.get("/ui/usage", params={"range": preset, "user_id": "nobody"})
    assert page.status_code == 200
    rows = table(page.text, "requests")
    assert len(rows) == points
    assert rows[0][0] == first(now) and rows[-1][1:] == ["0", "0"]
    assert f'<option value="{preset}" selected>' in page.text
    csv_rows = console.client.get("/ui/usage/export.csv", params={"range": preset}).text
    assert len(csv_rows.splitlines()) == 1 + points


def test_an_unknown_range_is_refused(console: Console) -> None:
    response = console.client.get("/ui/usage", params={"range": "1y"})
    assert response.status_code == 422 and "range" in response.text


@pytest.mark.parametrize("by", ["provider", "model"])
def test_spend_stacked_by_provider_or_model_equals_the_admin_breakdown(
    console: Console, admin_headers: dict[str, str], db: Session, catalog: Catalog, by: str
) -> None:
    write_records(db, hand_rows(catalog))
    db.commit()
    days = {"range": "custom", "since": "2026-03-10", "until": "2026-03-12", "stack": by}
    page = console.client.get("/ui/usage", params=days)
    period = {"since": T0.isoformat(), "until": (T0 + timedelta(days=3)).isoformat()}
    answer = console.client.get(
        f"{URL}/spend-breakdown",
        params={**period, "granularity": "day", "by": by},
        headers=admin_headers,
    )
    assert answer.status_code == 200
    breakdown = answer.json()
    names = {"provider": ["Anthropic", "OpenAI"], "model": ["Claude Sonnet", "GPT-4o mini"]}
    assert [s["name"] for s in breakdown["series"]] == names[by]  # Sonnet cost the most
    assert [[Decimal(c) for c in s["costs"]] for s in breakdown["series"]] == [
        [Decimal("0.021"), 0, 0],
        [Decimal("0.00165"), 0, Decimal("0.0000075")],
    ]
    points = console.client.get(
        f"{URL}/timeseries", params={**period, "granularity": "day"}, headers=admin_headers
    ).json()["points"]
    for index, point in enumerate(points):
        parts = sum(Decimal(s["costs"][index]) for s in breakdown["series"])
        assert parts == Decimal(point["cost_total_usd"])
    shown = table(page.text, "cost")
    assert shown == [
        [
            start[:10],
            *(f"${Decimal(s['costs'][index]):,.6f}" for s in breakdown["series"]),
            f"${Decimal(points[index]['cost_total_usd']):,.6f}",
        ]
        for index, start in enumerate(breakdown["starts"])
    ]
    assert f"Spend by {by}" in page.text


def test_other_holds_what_the_top_parts_leave(
    console: Console, admin_headers: dict[str, str], db: Session, catalog: Catalog
) -> None:
    write_records(db, hand_rows(catalog))
    db.commit()
    period = {"since": T0.isoformat(), "until": (T0 + timedelta(days=3)).isoformat()}
    answer = console.client.get(
        f"{URL}/spend-breakdown",
        params={**period, "granularity": "day", "by": "model", "limit": 1},
        headers=admin_headers,
    ).json()
    assert [(s["id"], s["name"]) for s in answer["series"]] == [
        (catalog["sonnet"].id, "Claude Sonnet"),
        (None, "Other"),
    ]
    assert [Decimal(c) for c in answer["series"][1]["costs"]] == [
        Decimal("0.00165"),
        Decimal(0),
        Decimal("0.0000075"),
    ]


def tile(html: str, name: str) -> str:
    found = re.search(rf"<dt>{name}</dt><dd[^>]*>(.*?)</dd>", html, re.S)
    assert found is not None, name
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_the_tiles_and_fallback_rate_equal_the_admin_summary(
    console: Console, admin_headers: dict[str, str], db: Session, catalog: Catalog
) -> None:
    rows = hand_rows(catalog)
    # Two of the five rows in the period took a second attempt; the one before it did too.
    rows = [
        dataclasses.replace(row, attempts=2) if index in (0, 2, 4) else row
        for index, row in enumerate(rows)
    ]
    write_records(db, rows)
    db.commit()
    days = {"range": "custom", "since": "2026-03-10", "until": "2026-03-12"}
    page = console.client.get("/ui/usage", params=days)
    period = {"since": T0.isoformat(), "until": (T0 + timedelta(days=3)).isoformat()}
    summary = console.client.get(f"{URL}/summary", params=period, headers=admin_headers)
    assert summary.status_code == 200
    body = summary.json()
    assert (body["total_requests"], body["fallback_requests"], body["fallback_rate"]) == (5, 2, 0.4)
    assert body["user_id"] is None and body["total_cost"] == "0.0226575000"
    assert tile(page.text, "Requests") == f"{body['total_requests']:,}"
    assert tile(page.text, "Spend") == f"${Decimal(body['total_cost']):,.6f}"
    assert tile(page.text, "Tokens") == f"{body['total_tokens']:,}"
    assert tile(page.text, "Errors") == f"{body['errors']:,}"
    assert tile(page.text, "p95 latency") == f"{body['p95_latency_ms']:,.0f} ms"
    assert tile(page.text, "Fallback rate") == f"{body['fallback_rate']:.1%} (2)" == "40.0% (2)"

    bob = console.client.get("/ui/usage", params={**days, "user_id": "bob"})
    bobs = console.client.get(
        f"{URL}/summary", params={**period, "user_id": "bob"}, headers=admin_headers
    ).json()
    assert (bobs["user_id"], bobs["total_requests"], bobs["fallback_requests"]) == ("bob", 2, 1)
    assert tile(bob.text, "Fallback rate") == "50.0% (1)"


TOKYO = {"range": "custom", "since": "2026-03-10", "until": "2026-03-12", "tz": "Asia/Tokyo"}
TOKYO_PERIOD = {"since": "2026-03-09T15:00:00Z", "until": "2026-03-12T15:00:00Z"}
"""Three whole days at UTC+9: every hand row falls in them, the one before T0 on the first."""


def test_in_a_time_zone_every_number_equals_the_admin_api(
    console: Console, admin_headers: dict[str, str], db: Session, catalog: Catalog
) -> None:
    write_records(db, hand_rows(catalog))
    db.commit()
    page = console.client.get("/ui/usage", params={**TOKYO, "stack": "model"})
    assert page.status_code == 200
    day = {**TOKYO_PERIOD, "granularity": "day", "tz": "Asia/Tokyo"}

    def api(path: str, **params: str) -> Any:
        answer = console.client.get(f"{URL}/{path}", params=params, headers=admin_headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    points = api("timeseries", **day)["points"]
    assert [p["start"] for p in points] == [
        "2026-03-10T00:00:00+09:00",
        "2026-03-11T00:00:00+09:00",
        "2026-03-12T00:00:00+09:00",
    ]
    assert [p["requests"] for p in points] == [4, 1, 1]
    assert table(page.text, "requests") == [
        [p["start"][:10], f"{p['requests']:,}", f"{p['errors']:,}"] for p in points
    ]
    assert [row[-1] for row in table(page.text, "cost")] == [
        f"${Decimal(p['cost_total_usd']):,.6f}" for p in points
    ]
    assert table(page.text, "cost")[0][-1] == "$5.022650"
    parts = api("spend-breakdown", **day, by="model")["series"]
    assert [row[1:-1] for row in table(page.text, "cost")] == [
        [f"${Decimal(s['costs'][index]):,.6f}" for s in parts] for index in range(3)
    ]
    summary = api("summary", **TOKYO_PERIOD, tz="Asia/Tokyo")
    assert tile(page.text, "Requests") == "6" == f"{summary['total_requests']:,}"
    assert tile(page.text, "Spend") == f"${Decimal(summary['total_cost']):,.6f}"
    assert tile(page.text, "Fallback rate") == "0.0% (0)"
    top = api("top-models", **TOKYO_PERIOD)["items"]
    assert [m["model_name"] for m in top] == ["Claude Sonnet", "GPT-4o mini"]
    assert all(f"${Decimal(m['total_cost']):,.6f}" in page.text for m in top)
    for caption in ("Requests and errors per day; times in Asia/Tokyo", "Day (Asia/Tokyo)"):
        assert caption in page.text

    ours = console.client.get("/ui/usage/export.csv", params=TOKYO)
    theirs = console.client.get(f"{URL}/export.csv", params=day, headers=admin_headers)
    assert ours.status_code == 200 and ours.text == theirs.text
    assert ours.text.splitlines()[1].startswith("2026-03-10T00:00:00+09:00,4,")


@pytest.mark.parametrize(
    ("zone", "reason"),
    [("Asia/Kolkata", "offset is whole hours"), ("Mars/Olympus", "not an IANA time zone")],
)
def test_a_zone_that_cannot_be_exact_or_does_not_exist_is_refused(
    console: Console, admin_headers: dict[str, str], zone: str, reason: str
) -> None:
    page = console.client.get("/ui/usage", params={**TOKYO, "tz": zone})
    assert page.status_code == 422 and reason in page.text
    assert re.search(
        r"<span id=\"tz-error\" class=\"error\" role=\"alert\">[^<]*" + reason, page.text
    )
    assert 'aria-invalid="true"' in page.text and 'id="table-requests"' not in page.text
    csv_answer = console.client.get("/ui/usage/export.csv", params={**TOKYO, "tz": zone})
    assert csv_answer.status_code == 422
    answer = console.client.get(
        f"{URL}/timeseries",
        params={**TOKYO_PERIOD, "granularity": "day", "tz": zone},
        headers=admin_headers,
    )
    assert answer.status_code == 422 and reason in answer.text and "tz" in answer.text
    summary = console.client.get(
        f"{URL}/summary", params={**TOKYO_PERIOD, "tz": zone}, headers=admin_headers
    )
    assert summary.status_code == 422 and reason in summary.text
