"""Whose request it is decides where it goes and whose key pays: power levels route per tier
(`auto` is the user's default), a model above the user's tier is refused, and a user's own
provider key (BYOK) is used instead of the system key — the fake upstream sees which."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import openai
import pytest
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import LLMProvider, UserAPIKey
from switchboard.vocabulary import PowerLevel, Tier
from tests.e2e.catalog_rows import (
    Prices,
    client,
    system_key,
    user_message,
)
from tests.e2e.harness import GatewayProcess
from tests.e2e.stage import Stage
from tests.e2e.waiting import refusal_row, usage_row
from tests.fake_upstream import FakeUpstream, Reply

ECO, BALANCED, PRECISION = PowerLevel.ECO, PowerLevel.BALANCED, PowerLevel.PRECISION
FREE, PRO = Tier.FREE, Tier.PROFESSIONAL
OWN_SECRET = "sk-user-own-secret-0001"
# model id → (power level, input price, output price, min tier, the tier its rule is for)
MODELS = {
    "eco-free-model": (ECO, "0.1", "0.2", FREE, FREE),
    "eco-pro-model": (ECO, "0.15", "0.6", FREE, PRO),
    "balanced-free-model": (BALANCED, "0.5", "1.5", FREE, FREE),
    "balanced-pro-model": (BALANCED, "2.5", "10", PRO, PRO),
    "precision-pro-model": (PRECISION, "5", "15", PRO, None),
}
USERS = {
    "free-user": (FREE, None),
    "pro-user": (PRO, None),
    "eco-fan": (FREE, ECO),
    "byok-user": (PRO, None),
    "unvalidated-user": (PRO, None),
    "late-byok-user": (PRO, None),
}


@dataclass(frozen=True)
class World:
    gateway: GatewayProcess
    fake: FakeUpstream
    keys: dict[str, str]
    prices: dict[str, Prices]
    byok_key_id: int
    byok_provider_id: int


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    with stage.catalog() as rows:
        tiers = rows.provider("tiers")
        prices: dict[str, Prices] = {}
        for name, (level, input_price, output_price, min_tier, rule_tier) in MODELS.items():
            model = rows.model(
                tiers,
                name,
                power_level=level,
                input_price=input_price,
                output_price=output_price,
                min_tier=min_tier,
            )
            rows.rule(model, tier=rule_tier)
            prices[name] = Prices.of(model)
        byok = rows.provider("byok-prov", byok=True)
        prices["byok-model"] = Prices.of(rows.model(byok, "byok-model"))
        keys = {
            user: rows.user(user, tier=tier, default_power_level=default)
            for user, (tier, default) in USERS.items()
        }
        own = rows.byok_key(user_id="byok-user", provider=byok, secret=OWN_SECRET)
        rows.byok_key(
            user_id="unvalidated-user",
            provider=byok,
            secret="sk-not-validated-0002",
            validated=False,
        )
    with stage.gateway() as gateway:
        yield World(gateway, stage.fake, keys, prices, own.id, byok.id)


@pytest.mark.parametrize(
    ("user", "model", "served_by"),
    [
        ("free-user", "eco", "eco-free-model"),
        ("pro-user", "eco", "eco-pro-model"),
        ("free-user", "balanced", "balanced-free-model"),
        ("pro-user", "balanced", "balanced-pro-model"),
        ("pro-user", "precision", "precision-pro-model"),
        ("eco-fan", "auto", "eco-free-model"),
        ("pro-user", "auto", "balanced-pro-model"),
    ],
)
def test_power_levels_route_per_tier(
    world: World, e2e_sessions: sessionmaker[Session], user: str, model: str, served_by: str
) -> None:
    world.fake.script(served_by, Reply(prompt_tokens=1000, completion_tokens=300))
    with client(world.gateway, world.keys[user]) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(model=model, messages=user_message())

    assert raw.parse().model == served_by
    assert raw.headers["x-switchboard-model"] == served_by
    assert raw.headers["x-switchboard-route-reason"].startswith("rule ")
    assert world.fake.received(served_by)[-1].body["model"] == served_by
    row = usage_row(e2e_sessions, raw.headers)
    assert (row.user_id, row.model_name) == (user, served_by)
    assert row.power_level == str(MODELS[served_by][0])
    assert row.cost_total_usd == world.prices[served_by].cost(1000, 300)


def test_a_power_level_with_no_model_for_the_tier_is_refused(world: World) -> None:
    with (
        client(world.gateway, world.keys["free-user"]) as sdk,
        pytest.raises(openai.InternalServerError) as raised,
    ):
        sdk.chat.completions.create(model="precision", messages=user_message())

    assert raised.value.status_code == 503
    assert raised.value.code == "no_route"


def test_a_model_above_the_users_tier_is_permission_denied(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    before = world.fake.calls("balanced-pro-model")
    with (
        client(world.gateway, world.keys["free-user"]) as sdk,
        pytest.raises(openai.PermissionDeniedError) as raised,
    ):
        sdk.chat.completions.create(model="balanced-pro-model", messages=user_message())

    assert raised.value.status_code == 403
    assert (raised.value.code, raised.value.param) == ("model_not_available", "model")
    assert "requires professional, user is free" in raised.value.message
    assert world.fake.calls("balanced-pro-model") == before
    row = refusal_row(e2e_sessions, raised.value)
    assert (row.user_id, row.status_code, row.error_type) == (
        "free-user",
        403,
        "model_not_available",
    )


def test_the_models_list_shows_what_the_tier_may_use(world: World) -> None:
    def listed(user: str) -> set[str]:
        with client(world.gateway, world.keys[user]) as sdk:
            return {model.id for model in sdk.models.list()}

    free, pro = listed("free-user"), listed("pro-user")
    assert {"eco", "balanced", "precision", "auto"} <= free
    assert {"eco-free-model", "eco-pro-model", "balanced-free-model", "byok-model"} <= free
    assert not {"balanced-pro-model", "precision-pro-model"} & free
    assert set(MODELS) <= pro


def test_a_users_own_key_pays_when_they_have_one(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    with client(world.gateway, world.keys["byok-user"]) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model="byok-model", messages=user_message()
        )

    assert world.fake.received("byok-model")[-1].authorization == f"Bearer {OWN_SECRET}"
    assert raw.headers["x-switchboard-key-source"] == "byok"
    assert all(OWN_SECRET not in value for value in raw.headers.values())
    row = usage_row(e2e_sessions, raw.headers)
    assert (row.used_byok, row.user_key_id) == (True, world.byok_key_id)
    assert row.cost_total_usd == world.prices["byok-model"].cost(12, 5)
    deadline = time.monotonic() + 5
    while (last_used := byok_last_used(e2e_sessions, world.byok_key_id)) is None:
        assert time.monotonic() < deadline, "last_used_at of the BYOK key was never set"
        time.sleep(0.05)
    assert last_used >= row.created_at


@pytest.mark.parametrize("user", ["pro-user", "unvalidated-user"])
def test_the_system_key_pays_without_a_validated_key_of_the_users_own(
    world: World, e2e_sessions: sessionmaker[Session], user: str
) -> None:
    with client(world.gateway, world.keys[user]) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model="byok-model", messages=user_message()
        )

    expected = f"Bearer {system_key('byok-prov')}"
    assert world.fake.received("byok-model")[-1].authorization == expected
    assert raw.headers["x-switchboard-key-source"] == "system"
    row = usage_row(e2e_sessions, raw.headers)
    assert (row.used_byok, row.user_key_id) == (False, None)


def test_a_key_added_while_the_gateway_runs_is_used_within_a_second(
    world: World, stage: Stage
) -> None:
    with client(world.gateway, world.keys["late-byok-user"]) as sdk:
        sdk.chat.completions.create(model="byok-model", messages=user_message())
        assert world.fake.received("byok-model")[-1].authorization != "Bearer sk-late-0003"
        with stage.catalog() as rows:
            provider = rows.session.get(LLMProvider, world.byok_provider_id)
            assert provider is not None
            rows.byok_key(
                user_id="late-byok-user",
                provider=provider,
                secret="sk-late-0003",
            )
        added = time.monotonic()
        while True:
            raw = sdk.chat.completions.with_raw_response.create(
                model="byok-model", messages=user_message()
            )
            if raw.headers["x-switchboard-key-source"] == "byok":
                break
            assert time.monotonic() - added < 1.5, "the new BYOK key was never used"
            time.sleep(0.05)
    assert world.fake.received("byok-model")[-1].authorization == "Bearer sk-late-0003"


def byok_last_used(sessions: sessionmaker[Session], key_id: int) -> datetime | None:
    with sessions() as session:
        key = session.get(UserAPIKey, key_id)
        assert key is not None
        return key.last_used_at
