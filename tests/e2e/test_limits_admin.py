"""Setting budgets and limits through the admin API, and reading spend, on a real gateway:
changes apply at once in the process that made them; bad input is a 422 or 404 naming what
is wrong, and changes nothing; spend shows the current period (spent, reserved, remaining,
reset) per user and per key, and the BYOK usage endpoint shows the caller's budget."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from switchboard.vocabulary import Tier
from tests.e2e.harness import GatewayProcess
from tests.e2e.limits_rows import add_catalog, add_user
from tests.e2e.stage import Stage
from tests.fake_upstream import Reply

ADMIN_TOKEN = "sb-admin-e2e-limits-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
API = "/api/v1/admin/llm"
MODEL = "limits-admin-model"
COST = Decimal("0.000012")
"""A request's real cost: the fake reports 2 prompt and 5 completion tokens, at $1 and $2 per
1M tokens."""


@dataclass(frozen=True)
class World:
    gateway: GatewayProcess
    keys: dict[str, str]
    key_ids: dict[str, int]


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    keys, key_ids = {}, {}
    with stage.sessions() as session:
        add_catalog(session, stage.secrets, slug="la", base_url=stage.fake.url, model_id=MODEL)
        for name in ("alice", "bob", "carol", "dave"):
            keys[name], key_ids[name] = add_user(session, name)
        keys["starter"], key_ids["starter"] = add_user(session, "sam", tier=Tier.STARTER)
        session.commit()
    stage.fake.set_default(MODEL, Reply(prompt_tokens=2, completion_tokens=5))
    with stage.gateway({"ADMIN_TOKEN": ADMIN_TOKEN}, name="limits-admin") as gateway:
        yield World(gateway, keys, key_ids)


def admin(world: World, method: str, path: str, **options: Any) -> httpx.Response:
    return httpx.request(
        method, f"{world.gateway.base_url}{API}{path}", headers=ADMIN, timeout=10, **options
    )


def chat(world: World, key: str, max_tokens: int = 10) -> httpx.Response:
    return httpx.post(
        f"{world.gateway.openai_base_url}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "model": MODEL,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "Hi"}],
        },
        timeout=10,
    )


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/users/alice/limits", {"budget_usd": "-1"}, 422, "budget_usd"),
        ("/users/alice/limits", {"requests_per_minute": 0}, 422, "requests_per_minute"),
        ("/users/alice/limits", {"budget_period": "daily"}, 422, "budget_period"),
        ("/users/alice/keys/{alice}/limits", {"budget_period": "yearly"}, 422, "budget_period"),
        ("/users/alice/keys/{alice}/limits", {"tokens_per_minute": -5}, 422, "tokens_per_minute"),
        ("/users/alice/keys/999999/limits", {"requests_per_minute": 5}, 404, "999999"),
        ("/users/alice/keys/{bob}/limits", {"requests_per_minute": 5}, 404, "alice"),
        ("/users/nobody/limits", {"requests_per_minute": 5}, 404, "nobody"),
        ("/tiers/platinum/limits", {"requests_per_minute": 5}, 422, "tier"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    world: World, path: str, body: dict[str, Any], status: int, field: str
) -> None:
    before = admin(world, "GET", "/users/alice/limits").json()
    path = path.format(alice=world.key_ids["alice"], bob=world.key_ids["bob"])
    method = "PUT" if path.startswith("/tiers") else "PATCH"
    response = admin(world, method, path, json=body)
    assert response.status_code == status, response.text
    assert field in response.text
    assert admin(world, "GET", "/users/alice/limits").json() == before


def test_a_keys_rate_limit_applies_at_once(world: World) -> None:
    key_id = world.key_ids["bob"]
    set_ = admin(
        world, "PATCH", f"/users/bob/keys/{key_id}/limits", json={"requests_per_minute": 2}
    )
    assert set_.status_code == 200 and set_.json()["requests_per_minute"] == 2
    assert [chat(world, world.keys["bob"]).status_code for _ in range(3)] == [200, 200, 429]
    cleared = admin(
        world, "PATCH", f"/users/bob/keys/{key_id}/limits", json={"requests_per_minute": None}
    )
    assert cleared.json()["requests_per_minute"] is None
    assert chat(world, world.keys["bob"]).status_code == 200


def test_a_tiers_stored_limits_replace_its_defaults_until_removed(world: World) -> None:
    assert admin(world, "GET", "/tiers/starter/limits").json()["source"] == "settings"
    stored = admin(
        world, "PUT", "/tiers/starter/limits", json={"budget_usd": "0", "budget_period": "daily"}
    )
    assert stored.status_code == 200, stored.text
    assert (stored.json()["source"], stored.json()["budget_period"]) == ("stored", "daily")
    refused = chat(world, world.keys["starter"])  # within the poll interval at the latest
    deadline = datetime.now(UTC).timestamp() + 3
    while refused.status_code == 200 and datetime.now(UTC).timestamp() < deadline:
        refused = chat(world, world.keys["starter"])
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "insufficient_quota"
    assert admin(world, "DELETE", "/tiers/starter/limits").json()["source"] == "settings"


def test_a_users_spend_in_the_current_period(world: World) -> None:
    assert admin(world, "PATCH", "/users/carol/limits", json={"budget_usd": "1"}).status_code == 200
    assert chat(world, world.keys["carol"]).status_code == 200
    spend = admin(world, "GET", "/users/carol/spend").json()
    budget = spend["budget"]
    assert (budget["scope"], budget["owner"], budget["period"]) == ("user", "carol", "monthly")
    assert Decimal(budget["limit_usd"]) == 1
    assert Decimal(budget["spent_usd"]) == COST
    assert Decimal(budget["reserved_usd"]) == 0
    assert Decimal(budget["remaining_usd"]) == 1 - COST
    now = datetime.now(UTC)
    starts = datetime.fromisoformat(budget["period_start"])
    assert (starts.day, starts.month, starts.hour) == (1, now.month, 0)
    assert datetime.fromisoformat(budget["resets_at"]).day == 1
    assert spend["limits"]["budget_usd"] is not None

    mine = httpx.get(
        f"{world.gateway.base_url}/api/v1/llm/byok/usage",
        headers={"Authorization": f"Bearer {world.keys['carol']}"},
        timeout=10,
    )
    assert mine.status_code == 200, mine.text
    assert Decimal(mine.json()["budget"]["remaining_usd"]) == 1 - COST


def test_a_keys_own_daily_budget_and_its_spend(world: World) -> None:
    key_id = world.key_ids["dave"]
    set_ = admin(
        world,
        "PATCH",
        f"/users/dave/keys/{key_id}/limits",
        json={"budget_usd": "0.00003", "budget_period": "daily"},
    )
    assert set_.status_code == 200, set_.text
    # at most 10 output tokens at $2 per 1M and a few prompt tokens: $0.00003 holds one
    assert chat(world, world.keys["dave"]).status_code == 200
    assert chat(world, world.keys["dave"]).status_code == 429
    spend = admin(world, "GET", f"/users/dave/keys/{key_id}/spend").json()
    assert spend["key_id"] == key_id
    budget = spend["budget"]
    assert (budget["scope"], budget["owner"], budget["period"]) == ("key", str(key_id), "daily")
    assert Decimal(budget["spent_usd"]) == COST
    assert Decimal(budget["remaining_usd"]) == Decimal("0.00003") - COST
