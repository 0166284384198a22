"""`GET /api/v1/llm/byok/usage`: a user's own usage and spend, split by BYOK vs system key,
never anyone else's; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.services.users import create_user, issue_virtual_key
from switchboard.usage import UsageRecord, write_records
from switchboard.vocabulary import Tier

URL = "/api/v1/llm/byok/usage"
T0 = datetime(2026, 3, 10, tzinfo=UTC)
PERIOD = {"since": "2026-03-10T00:00:00Z", "until": "2026-03-11T00:00:00Z"}


def spend(
    requests: int,
    errors: int,
    prompt: int,
    cached: int,
    completion: int,
    cost: str,
    written: int = 0,
) -> dict[str, object]:
    return {
        "requests": requests,
        "errors": errors,
        "prompt_tokens": prompt,
        "cached_tokens": cached,
        "cache_write_tokens": written,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost_total_usd": cost,
    }


@pytest.fixture
def keys(db: Session) -> dict[str, dict[str, str]]:
    headers: dict[str, dict[str, str]] = {}
    for user_id in ("dana", "eve"):
        create_user(db, user_id=user_id, tier=Tier.PROFESSIONAL)
        key = issue_virtual_key(db, user_id=user_id).key
        headers[user_id] = {"Authorization": f"Bearer {key}"}

    def at(minutes: int, request_id: str, user: str, **fields: Any) -> UsageRecord:
        return UsageRecord(
            request_id=request_id,
            user_id=user,
            created_at=T0 + timedelta(minutes=minutes),
            **{"status_code": 200, **fields},
        )

    write_records(
        db,
        [
            at(30, "d1", "dana", used_byok=True, prompt_tokens=1000, completion_tokens=500,
               cost_total_usd=Decimal("0.00045")),
            at(90, "d2", "dana", used_byok=True, prompt_tokens=200, cached_tokens=100,
               cache_write_tokens=60, completion_tokens=20,
               cost_total_usd=Decimal("0.0000000003"), status_code=502),
            at(150, "d3", "dana", prompt_tokens=2000, completion_tokens=1000,
               cost_total_usd=Decimal("0.021")),
            at(60 * 25, "d4", "dana", cost_total_usd=Decimal("9")),  # the next day
            at(45, "e1", "eve", used_byok=True, prompt_tokens=7, cost_total_usd=Decimal("1")),
        ],
    )  # fmt: skip
    db.commit()
    return headers


def test_own_usage_split_by_key_source(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    response = client.get(URL, params=PERIOD, headers=keys["dana"])
    assert response.status_code == 200, response.text
    body = response.json()
    budget = body.pop("budget")  # no budget: this month's system-key spend, nothing left over
    assert (budget["owner"], budget["limit_usd"], budget["remaining_usd"]) == ("dana", None, None)
    assert body == {
        "user_id": "dana",
        **PERIOD,
        "total": spend(3, 1, 3200, 100, 1520, "0.0214500003", written=60),
        "byok": spend(2, 1, 1200, 100, 520, "0.0004500003", written=60),
        "system": spend(1, 0, 2000, 0, 1000, "0.0210000000"),
    }


def test_only_the_callers_usage(client: TestClient, keys: dict[str, dict[str, str]]) -> None:
    params = {**PERIOD, "user_id": "dana"}  # not a parameter here: ignored
    body = client.get(URL, params=params, headers=keys["eve"]).json()
    assert body["user_id"] == "eve"
    assert body["total"] == spend(1, 0, 7, 0, 0, "1.0000000000")
    assert body["system"] == spend(0, 0, 0, 0, 0, "0.0000000000")


def test_default_period_is_the_last_7_days(
    client: TestClient, db: Session, keys: dict[str, dict[str, str]]
) -> None:
    now = utcnow()
    write_records(
        db,
        [
            UsageRecord(request_id="recent", user_id="dana", created_at=now - timedelta(days=6)),
            UsageRecord(request_id="old", user_id="dana", created_at=now - timedelta(days=8)),
        ],
    )
    db.commit()
    body = client.get(URL, headers=keys["dana"]).json()
    assert body["total"]["requests"] == 1
    until = datetime.fromisoformat(body["until"])
    assert until - datetime.fromisoformat(body["since"]) == timedelta(days=7)
    assert abs(until - now) < timedelta(minutes=1)


def test_needs_a_valid_key_and_a_sane_period(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers={"Authorization": "Bearer sk-sb-nope"}).status_code == 401

    def refused_since(period: dict[str, str]) -> str:
        """The one 422 message for `period`, which names `since`."""
        response = client.get(URL, params=period, headers=keys["dana"])
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"] == ["query", "since"]
        return str(error["msg"])

    assert refused_since({"since": PERIOD["until"], "until": PERIOD["since"]}) == (
        "since (2026-03-11T00:00:00+00:00) is after until (2026-03-10T00:00:00+00:00)"
    )
    assert refused_since({"since": "2025-01-01T00:00:00Z", "until": PERIOD["until"]}) == (
        "the period from since to until covers 434 days; it may cover at most 366 days"
    )
