"""`GET /metrics` of a real gateway: its counters agree with the usage rows of the same
traffic (requests, tokens, cost to the last digit), its series stay bounded however many users
call, it adds up every worker of `switchboard serve --workers 2`, it wants METRICS_TOKEN when
one is set and is not there when metrics are off; and the Grafana dashboard and the alerting
rules shipped in deploy/ use only metrics it exports."""

from __future__ import annotations

import json
import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from switchboard.services.seeding import seed_catalog
from switchboard.vocabulary import Tier
from tests.e2e.catalog_rows import post_chat, streamed_with_usage, user_message
from tests.e2e.harness import GatewayProcess, running_gateway
from tests.e2e.metrics_scrape import scrape_until
from tests.e2e.stage import Stage
from tests.e2e.waiting import wait_for_usage_rows

DEPLOY = Path(__file__).parents[2] / "deploy"
TOKEN = "metrics-token-for-tests"
CROWD = 300
"""Users in the crowd: a label holding a user would add a series each, hundreds of them."""
# The starter tier may make one request a minute: the second is refused.
TIER_LIMITS = json.dumps({"starter": {"requests_per_minute": 1}})


@dataclass(frozen=True)
class World:
    key: str
    starter_key: str
    crowd: list[str]


@pytest.fixture(scope="module")
def world(stage: Stage) -> World:
    with stage.catalog() as rows:
        seed_catalog(rows.session, demo=True)
        key = rows.user("metrics-user", tier=Tier.PROFESSIONAL)
        starter_key = rows.user("metrics-starter", tier=Tier.STARTER)
        crowd = [rows.user(f"metrics-crowd-{n}", tier=Tier.PROFESSIONAL) for n in range(CROWD)]
    return World(key, starter_key, crowd)


@pytest.fixture
def gateway(stage: Stage) -> Iterator[GatewayProcess]:
    """A gateway of its own for each test: its counters start at zero."""
    env = {"METRICS_TOKEN": TOKEN, "TIER_LIMITS": TIER_LIMITS, "HEALTH_CHECK_INTERVAL_S": "0"}
    with stage.gateway(env, name="metered") as gateway:
        yield gateway


def traffic(gateway: GatewayProcess, world: World) -> list[str]:
    """Answers by every power level, a stream, an Anthropic message, an unknown model (404)
    and a rate-limit refusal; the request ids."""
    client = openai.OpenAI(base_url=gateway.openai_base_url, api_key=world.key, max_retries=0)
    ids = []
    for model in ("balanced", "eco", "precision", "balanced"):
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": f"Count for {model}."}]
        )
        ids.append(raw.headers["x-switchboard-request-id"])
    with streamed_with_usage(client, "balanced", user_message("Stream, please.")) as streamed:
        ids.append(streamed.headers["x-switchboard-request-id"])
        for _ in streamed.iter_lines():
            pass
    message = httpx.post(
        f"{gateway.base_url}/v1/messages",
        headers={"x-api-key": world.key, "anthropic-version": "2023-06-01"},
        json={"model": "balanced", "max_tokens": 64, "messages": user_message("Hi, Claude.")},
        timeout=10,
    )
    assert message.status_code == 200, message.text
    ids.append(message.headers["x-switchboard-request-id"])
    unknown = post_chat(gateway, world.key, {"model": "no-such-model", "messages": user_message()})
    assert unknown.status_code == 404
    ids.append(unknown.headers["x-switchboard-request-id"])
    statuses = []
    for _ in range(2):
        limited = post_chat(
            gateway, world.starter_key, {"model": "eco", "messages": user_message()}
        )
        statuses.append(limited.status_code)
        ids.append(limited.headers["x-switchboard-request-id"])
    assert statuses == [200, 429]
    return ids


def test_counters_agree_with_the_usage_rows(
    gateway: GatewayProcess, world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    ids = traffic(gateway, world)
    rows = wait_for_usage_rows(e2e_sessions, ids)
    found = scrape_until(
        gateway.base_url,
        lambda s: s.total("switchboard_requests_total") >= len(rows),
        token=TOKEN,
    )

    assert found.total("switchboard_requests_total") == len(rows)
    statuses = Counter(f"{row.status_code // 100}xx" for row in rows)
    assert found.by("switchboard_requests_total", "status_class") == statuses
    by_model = Counter(row.model_name or "none" for row in rows)
    assert found.by("switchboard_requests_total", "model") == by_model
    assert found.by("switchboard_requests_total", "surface") == {"openai": 8, "anthropic": 1}

    tokens = found.by("switchboard_tokens_total", "kind")
    assert tokens["input"] == sum(
        row.prompt_tokens - row.cached_tokens - row.cache_write_tokens for row in rows
    )
    assert tokens["cached"] == sum(row.cached_tokens for row in rows)
    assert tokens["cache_write"] == sum(row.cache_write_tokens for row in rows)
    assert tokens["output"] == sum(row.completion_tokens for row in rows)
    assert sum(tokens.values()) == sum(row.total_tokens for row in rows) > 0

    for model in {row.model_name for row in rows if row.model_name}:
        spent = sum((row.cost_total_usd for row in rows if row.model_name == model), Decimal(0))
        assert found.total("switchboard_cost_dollars_total", model=model) == float(spent)
    assert found.total("switchboard_cost_dollars_total") > 0

    assert found.total("switchboard_upstream_attempts_total") == sum(row.attempts for row in rows)
    assert found.total("switchboard_limit_refusals_total", reason="rate_limit_exceeded") == 1
    assert found.total("switchboard_request_duration_seconds_count") == len(rows)
    assert found.total("switchboard_time_to_first_token_seconds_count") == 1
    served = sum(1 for row in rows if row.attempts)
    assert found.total("switchboard_upstream_duration_seconds_count") == served
    assert found.total("switchboard_requests_in_flight") == 0
    assert found.total("switchboard_provider_health", provider="mock", state="unknown") == 1


def test_series_stay_bounded_whatever_the_number_of_users(
    gateway: GatewayProcess, world: World
) -> None:
    def ask(key: str) -> None:
        answer = post_chat(gateway, key, {"model": "balanced", "messages": user_message()})
        assert answer.status_code == 200, answer.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(ask, world.crowd[:10]))
        few = scrape_until(
            gateway.base_url, lambda s: s.total("switchboard_requests_total") >= 10, token=TOKEN
        )
        list(pool.map(ask, world.crowd[10:]))
    many = scrape_until(
        gateway.base_url,
        lambda s: s.total("switchboard_requests_total") >= CROWD,
        token=TOKEN,
    )

    assert many.total("switchboard_requests_total") == CROWD
    assert many.series() == few.series()
    assert len(many.series()) < CROWD  # a series a user would make more than the crowd
    values = {value for _, labels in many.series() for _, value in labels}
    assert not [value for value in values if "metrics-crowd" in value or "sk-sb" in value]


def test_the_token_is_required_when_set(gateway: GatewayProcess) -> None:
    url = f"{gateway.base_url}/metrics"
    assert httpx.get(url).status_code == 401
    wrong = httpx.get(url, headers={"authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert httpx.get(url, headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_metrics_turned_off_are_not_there(stage: Stage, world: World) -> None:
    with stage.gateway({"METRICS_ENABLED": "false"}, name="unmetered") as gateway:
        answer = post_chat(gateway, world.key, {"model": "eco", "messages": user_message()})
        assert answer.status_code == 200
        assert httpx.get(f"{gateway.base_url}/metrics").status_code == 404


def test_the_dashboard_and_alerts_use_only_exported_metrics(
    gateway: GatewayProcess, world: World
) -> None:
    traffic(gateway, world)
    exported = scrape_until(
        gateway.base_url,
        lambda s: "switchboard_limit_refusals_total" in s.names(),
        token=TOKEN,
    ).names()

    dashboard = json.loads((DEPLOY / "grafana" / "switchboard.json").read_text())
    panels = dashboard["panels"]
    queries = [target["expr"] for panel in panels for target in panel.get("targets", ())]
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    rules = [rule for group in alerts["groups"] for rule in group["rules"]]
    expressions = [rule["expr"] for rule in rules]

    assert len(panels) >= 10
    assert {rule["alert"] for rule in rules} >= {
        "SwitchboardErrorRateHigh",
        "SwitchboardLatencyP95High",
        "SwitchboardProviderDown",
        "SwitchboardUsageSpoolBacklog",
        "SwitchboardLimitRefusalsSpike",
    }
    used = {name for text in queries + expressions for name in _METRIC.findall(text)}
    assert used, "no metric named"
    assert used - exported == set()


_METRIC = re.compile(r"\bswitchboard_[a-z0-9_]+")


def test_workers_add_up(stage: Stage, world: World, tmp_path: Path) -> None:
    """`switchboard serve --workers 2`: requests reach both workers, and whichever answers the
    scrape counts them all, a killed worker's counts too (its live gauges go); the metrics
    directory is emptied at exit."""
    directory = tmp_path / "metrics"
    env = {"ENCRYPTION_KEY": stage.encryption_key, "METRICS_DIR": str(directory)}
    with running_gateway(
        stage.database_url, tmp_path, env, workers=2, ready_timeout_s=60
    ) as gateway:
        sent = 0
        while sent < 1000 and (sent < 20 or len(_serving_pids(gateway)) < 2):
            answer = post_chat(gateway, world.key, {"model": "eco", "messages": user_message()})
            assert answer.status_code == 200, answer.text
            sent += 1
        assert len(_serving_pids(gateway)) == 2
        found = scrape_until(
            gateway.base_url, lambda s: s.total("switchboard_requests_total") >= sent
        )
        assert found.total("switchboard_requests_total") == sent
        assert found.total("switchboard_request_duration_seconds_count") == sent
        pids = {int(name.split("_")[-1][:-3]) for name in _files(directory)}
        assert _serving_pids(gateway) <= pids

        killed = min(_serving_pids(gateway))
        os.kill(killed, signal.SIGKILL)
        live_files = f"gauge_live*_{killed}.db"
        after = scrape_until(gateway.base_url, lambda _: not list(directory.glob(live_files)))
        assert not list(directory.glob(live_files))  # its requests in flight count no more
        assert after.total("switchboard_requests_total") == sent  # what it counted stays
    assert _files(directory) == []


def _serving_pids(gateway: GatewayProcess) -> set[int]:
    """The processes that wrote an access line."""
    return {int(pid) for pid in re.findall(r"\[(\d+)\] switchboard\.access request", gateway.log())}


def _files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob("*.db"))
