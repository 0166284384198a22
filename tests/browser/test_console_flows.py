"""Whole flows through the console in Chromium, each checked by what follows from it: the
gateway serving a deprecated model's replacement, a new rule in the routing matrix and an
Explain that agrees with the admin API, a user's own key refused then used, the usage page
and its CSV agreeing with the admin usage API, and a user created with the keyboard alone."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from switchboard.usage import write_records
from switchboard.usage.record import UsageRecord
from switchboard.vocabulary import PowerLevel
from tests.browser.conftest import ADMIN_TOKEN
from tests.browser.console_pages import (
    checked_layout,
    screenshot,
    sign_in,
)
from tests.e2e.catalog_rows import post_chat, system_key, user_message
from tests.e2e.harness import GatewayProcess
from tests.e2e.stage import Stage
from tests.e2e.waiting import usage_row

ADMIN = "/api/v1/admin/llm"
OWN_KEY = "sk-own-accepted-0123456789abcdWXYZ"
REFUSED_KEY = "sk-own-refused-0123456789abcdQRST"
DEADLINE_S = 5.0
DAY = datetime(2026, 3, 10, tzinfo=UTC)
"""The known usage set's first day: long before any request the tests make."""


@dataclass(frozen=True)
class Flows:
    gateway: GatewayProcess
    stage: Stage
    user_key: str
    """A key of user `walt`, who may chat with every model here."""
    model_ids: dict[str, int]

    @property
    def ui(self) -> str:
        return f"{self.gateway.base_url}/ui"

    def admin_api(self, method: str, path: str, **options: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        url = f"{self.gateway.base_url}{ADMIN}{path}"
        return httpx.request(method, url, headers=headers, timeout=10, **options)

    def chat(self, model: str) -> httpx.Response:
        answer = post_chat(
            self.gateway, self.user_key, {"model": model, "messages": user_message()}
        )
        assert answer.status_code == 200, answer.text
        return answer


@pytest.fixture(scope="module")
def flows(stage: Stage) -> Iterator[Flows]:
    """Provider `fake` (models base-chat with a rule, old-chat, new-chat, route-chat) and
    provider `own`, which takes users' own keys of the form `sk-own-*` (model own-chat); the
    fake upstream answers only their system keys and OWN_KEY. A known usage set in March."""
    with stage.catalog() as rows:
        fake = rows.provider("fake")
        own = rows.provider("own", byok=True, api_key_format="sk-own-*")
        models = {
            "base-chat": rows.model(fake, "base-chat"),
            "old-chat": rows.model(fake, "old-chat"),
            "new-chat": rows.model(fake, "new-chat"),
            "route-chat": rows.model(fake, "route-chat", power_level=PowerLevel.PRECISION),
            "own-chat": rows.model(own, "own-chat"),
        }
        rows.rule(models["base-chat"])
        key = rows.user("walt")
        model_ids = {name: model.id for name, model in models.items()}
    write_known_usage(stage.sessions, model_ids["base-chat"], fake.id)
    stage.fake.accept(system_key("fake"), system_key("own"), OWN_KEY)
    env = {"ADMIN_TOKEN": ADMIN_TOKEN, "CONSOLE_FREE_SIGN_IN_FAILURES": "20"}
    with stage.gateway(env) as gateway:
        yield Flows(gateway, stage, key, model_ids)


@pytest.fixture
def admin(page: Page, flows: Flows) -> Page:
    """Signed in to this module's own gateway, not the shared console world's."""
    sign_in(page, flows.ui, ADMIN_TOKEN)
    return page


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE_S} s: {what}")
        time.sleep(0.1)


# Deprecation -------------------------------------------------------------------------------


def test_a_model_deprecated_in_the_browser_is_served_by_the_replacement_picked(
    admin: Page, flows: Flows, artifacts: Path
) -> None:
    assert flows.chat("old-chat").headers["x-switchboard-model"] == "old-chat"
    page = admin
    page.goto(f"{flows.ui}/models?q=old-chat")
    expect(page.locator("#models tbody tr")).to_have_count(1)
    page.get_by_role("link", name="old-chat", exact=True).click()
    page.get_by_label("Replacement model").select_option(label="new-chat (new-chat)")
    page.get_by_role("button", name="Deprecate old-chat").click()
    expect(page.get_by_role("heading", name="Deprecate model old-chat?")).to_be_visible()
    page.get_by_role("button", name="Deprecate old-chat").click()
    expect(page.locator("#notice")).to_contain_text("Model deprecated.")
    expect(page.get_by_text("Deprecated: served by new-chat")).to_be_visible()
    screenshot(page, artifacts, "flow-model-deprecated")

    stored = flows.admin_api("GET", f"/models/{flows.model_ids['old-chat']}").json()
    assert stored["is_deprecated"] is True
    assert stored["replacement_model_id"] == flows.model_ids["new-chat"]
    eventually(
        lambda: flows.chat("old-chat").headers["x-switchboard-model"] == "new-chat",
        "the gateway serves old-chat's requests with new-chat",
    )
    calls = (flows.stage.fake.calls("old-chat"), flows.stage.fake.calls("new-chat"))
    answer = flows.chat("old-chat")
    assert answer.headers["x-switchboard-route-reason"] == "requested as old-chat"
    assert answer.json()["model"] == "new-chat"
    assert (flows.stage.fake.calls("old-chat"), flows.stage.fake.calls("new-chat")) == (
        calls[0],
        calls[1] + 1,
    )


# Routing -----------------------------------------------------------------------------------


def test_a_rule_made_in_the_browser_shows_in_the_matrix_and_explain_agrees_with_the_api(
    admin: Page, flows: Flows, artifacts: Path
) -> None:
    page = admin
    page.get_by_role("link", name="Routing").click()
    page.locator("#model_id").select_option(label="route-chat (precision)")
    page.locator("#rule-power").select_option("precision")
    page.locator("#user_tier").select_option("enterprise")
    page.locator("#rule-task").fill("code")
    page.locator("#priority").fill("2")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("#notice")).to_contain_text("added.")
    [rule] = flows.admin_api("GET", "/routing/rules", params={"task_type": "code"}).json()["items"]
    assert (rule["model_id"], rule["power_level"]) == (flows.model_ids["route-chat"], "precision")
    assert (rule["user_tier"], rule["priority"]) == ("enterprise", 2)

    page.locator("#matrix-tier").select_option("enterprise")
    page.locator("#matrix-power").select_option("precision")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{flows.ui}/routing?tier=enterprise&power=precision")
    code_row = page.locator("#matrix tbody tr", has=page.locator("td", has_text="code"))
    expect(code_row.locator("td").nth(2).locator("strong")).to_have_text("route-chat")

    page.locator("#explain-tier").select_option("enterprise")
    page.locator("#explain-power").select_option("precision")
    page.locator("#explain-task").fill("code")
    page.locator("#estimated_tokens").fill("500")
    page.get_by_role("button", name="Explain").click()
    expect(page.locator("#verdicts tbody tr").first).to_contain_text("route-chat")
    screenshot(page, artifacts, "flow-explain")
    body = {"tier": "enterprise", "power_level": "precision", "task_type": "code"}
    answer = flows.admin_api("POST", "/routing/explain", json=body | {"estimated_tokens": 500})
    assert answer.status_code == 200, answer.text
    assert table_rows(page.locator("#verdicts")) == [
        explained_row(verdict) for verdict in answer.json()["verdicts"]
    ]
    assert answer.json()["chosen"]["model_name"] == "route-chat"


def table_rows(table: Locator) -> list[list[str]]:
    return [
        [cell.strip() for cell in row.locator("th, td").all_inner_texts()]
        for row in table.locator("tbody tr").all()
    ]


def explained_row(verdict: dict[str, Any]) -> list[str]:
    """How the console's Explain table shows one verdict of the admin API's answer."""
    why = ": ".join(part for part in (verdict["reason"], verdict["detail"]) if part)
    if verdict["key_source"]:
        why += f" (key: {verdict['key_source']})"
    position = verdict["position"]
    return [
        str(position or ""),
        verdict["model_name"],
        verdict["provider_slug"],
        verdict["verdict"],
        why.strip(),
    ]


# A user's own keys -------------------------------------------------------------------------


def test_my_keys_shows_why_a_key_is_refused_and_the_next_request_uses_a_valid_one(
    page: Page, flows: Flows, e2e_sessions: sessionmaker[Session], artifacts: Path
) -> None:
    assert flows.chat("own-chat").headers["x-switchboard-key-source"] == "system"
    page.goto(f"{flows.ui}/me/sign-in")
    page.get_by_label("Your Switchboard API key (sk-sb-…)").fill(flows.user_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My keys")).to_be_visible()

    add_own_key(page, "not-an-own-key", "typo")
    expect(page.get_by_role("alert")).to_contain_text("expected the format 'sk-own-*'")
    expect(page.get_by_label("Name (optional)")).to_have_value("typo")

    add_own_key(page, REFUSED_KEY, "refused")
    expect(page.locator("#notice")).to_contain_text("not validated")
    refused = page.locator("#byok-keys tbody tr", has_text="refused")
    expect(refused).to_contain_text("not validated: ")
    expect(refused).to_contain_text("401")
    expect(refused).to_contain_text("Incorrect API key")
    assert REFUSED_KEY not in page.content()
    assert flows.chat("own-chat").headers["x-switchboard-key-source"] == "system"

    add_own_key(page, OWN_KEY, "mine")
    expect(page.locator("#notice")).to_contain_text("added, validated.")
    expect(page.locator("#byok-keys tbody tr", has_text="mine")).to_contain_text(
        "active, validated"
    )
    screenshot(page, artifacts, "flow-my-keys")
    assert OWN_KEY not in page.content()

    stored = httpx.get(
        f"{flows.gateway.base_url}/api/v1/llm/byok/keys",
        headers={"Authorization": f"Bearer {flows.user_key}"},
        timeout=10,
    ).json()
    assert [(k["key_name"], k["is_validated"]) for k in stored] == [
        ("refused", False),
        ("mine", True),
    ]
    assert "401" in stored[0]["validation_error"]
    answer = flows.chat("own-chat")
    assert answer.headers["x-switchboard-key-source"] == "byok"
    assert flows.stage.fake.received("own-chat")[-1].authorization == f"Bearer {OWN_KEY}"
    row = usage_row(e2e_sessions, answer.headers)
    assert (row.user_id, row.used_byok, row.model_name) == ("walt", True, "own-chat")
    assert row.user_key_id == stored[1]["id"]


def add_own_key(page: Page, secret: str, name: str) -> None:
    page.get_by_label("Provider", exact=True).select_option(label="own")
    page.get_by_label("API key", exact=True).fill(secret)
    page.get_by_label("Name (optional)").fill(name)
    page.get_by_role("button", name="Add key").click()


# Usage -------------------------------------------------------------------------------------


def write_known_usage(sessions: sessionmaker[Session], model_id: int, provider_id: int) -> None:
    """Two users over three days from DAY, and one row on each side of those days."""

    def spent(user: str, at: datetime, cost: str, **fields: Any) -> UsageRecord:
        return UsageRecord(
            request_id=f"known-{user}-{at.isoformat()}",
            user_id=user,
            model_id=model_id,
            provider_id=provider_id,
            model_name="base-chat",
            user_tier="free",
            power_level="balanced",
            created_at=at,
            cost_total_usd=Decimal(cost),
            status_code=fields.pop("status_code", 200),
            **fields,
        )

    hour = timedelta(hours=1)
    rows = [
        spent("ana", DAY - hour, "5", prompt_tokens=9, completion_tokens=9),  # the day before
        spent("ana", DAY + 9 * hour, "0.00045", prompt_tokens=1000, completion_tokens=500),
        spent(
            "ana",
            DAY + 34 * hour,
            "0.021",
            prompt_tokens=2000,
            completion_tokens=1000,
            latency_ms=300,
            used_byok=True,
        ),
        spent(
            "ben",
            DAY + 35 * hour,
            "0.000008",
            prompt_tokens=10,
            completion_tokens=10,
            latency_ms=900,
            status_code=429,
        ),
        spent("ben", DAY + 72 * hour, "7", prompt_tokens=9, completion_tokens=9),  # the day after
    ]
    with sessions() as session:
        write_records(session, rows)
        session.commit()


def tile(page: Page, name: str) -> str:
    return (
        page.locator("dl.tiles > div", has=page.get_by_text(name, exact=True))
        .locator("dd")
        .inner_text()
    )


def shown(requests: int, cost: Decimal, tokens: int) -> dict[str, str]:
    return {"Requests": f"{requests:,}", "Spend": f"${cost:,.6f}", "Tokens": f"{tokens:,}"}


@pytest.mark.parametrize("user", ["", "ana"])
def test_the_usage_page_and_its_csv_equal_the_admin_api_for_the_same_view(
    admin: Page, flows: Flows, artifacts: Path, user: str
) -> None:
    page = admin
    page.get_by_role("link", name="Usage").click()
    page.get_by_label("Period", exact=True).select_option("custom")
    page.get_by_label("From (day)").fill("2026-03-10")
    page.get_by_label("To (day, included)").fill("2026-03-12")
    page.get_by_label("User id").fill(user)
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("daily points, 2026-03-10 00:00 to 2026-03-13 00:00")).to_be_visible()
    on_page = {name: tile(page, name) for name in ("Requests", "Spend", "Tokens")}

    period = {"since": "2026-03-10T00:00:00Z", "until": "2026-03-13T00:00:00Z"}
    if user:
        stats = [flows.admin_api("GET", f"/usage/users/{user}", params=period).json()]
    else:
        stats = flows.admin_api("GET", "/usage/users", params=period).json()["items"]
    requests = sum(s["total_requests"] for s in stats)
    cost = sum((Decimal(s["total_cost"]) for s in stats), Decimal(0))
    tokens = sum(s["total_tokens"] for s in stats)
    assert on_page == shown(requests, cost, tokens)
    known = {"": (3, Decimal("0.021458"), 4520), "ana": (2, Decimal("0.02145"), 4500)}
    assert on_page == shown(*known[user])

    with page.expect_download() as started:
        page.get_by_role("link", name="Download this view as CSV").click()
    download = started.value
    downloaded = Path(download.path()).read_bytes().decode()
    query = (
        period | {"kind": "timeseries", "granularity": "day"} | ({"user_id": user} if user else {})
    )
    theirs = flows.admin_api("GET", "/usage/export.csv", params=query)
    assert theirs.status_code == 200
    assert downloaded == theirs.text
    assert len(downloaded.splitlines()) == 1 + 3  # the header, then one row a day
    assert download.suggested_filename == "usage-timeseries-20260310T0000-20260313T0000.csv"
    screenshot(page, artifacts, f"flow-usage{'-' + user if user else ''}")


# The keyboard alone ------------------------------------------------------------------------


def focus_ring(page: Page) -> str:
    """The focused element's outline or box shadow: what shows where the focus is."""
    return str(
        page.evaluate(
            """() => {
                const style = getComputedStyle(document.activeElement);
                if (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
                    return `outline ${style.outlineWidth} ${style.outlineStyle}`;
                return style.boxShadow === "none" ? "" : `box-shadow ${style.boxShadow}`;
            }"""
        )
    )


def focused_id(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement.id || document.activeElement.tagName"))


def tab_to(page: Page, element_id: str, most: int = 40) -> None:
    """Tab until the element with `element_id` has the focus; every stop shows it."""
    for _ in range(most):
        page.keyboard.press("Tab")
        assert focus_ring(page), f"no visible focus on {focused_id(page)}"
        if focused_id(page) == element_id:
            return
    raise AssertionError(f"{element_id} not reached in {most} presses of Tab")


def test_a_user_is_created_with_the_keyboard_alone_and_the_focus_always_shows(
    admin: Page, flows: Flows, artifacts: Path
) -> None:
    page = admin
    page.goto(f"{flows.ui}/users")
    tab_to(page, "id")
    page.keyboard.type("kay")
    tab_to(page, "display_name")
    page.keyboard.type("Kay Board")
    tab_to(page, "tier")
    page.keyboard.press("ArrowDown")  # free → the next tier
    tab_to(page, "monthly_budget_usd")
    page.keyboard.type("25")
    page.keyboard.press("Tab")
    assert focused_id(page) == "default_power_level"
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Create user")).to_be_focused()
    assert focus_ring(page).startswith("outline 3px")
    screenshot(page, artifacts, "flow-keyboard-focus")
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text("User kay created.")

    stored = flows.admin_api("GET", "/users/kay").json()
    assert (stored["display_name"], stored["tier"]) == ("Kay Board", "starter")
    assert Decimal(stored["monthly_budget_usd"]) == Decimal(25)


def test_usage_in_a_time_zone_30_days_and_spend_stacked_by_model(
    admin: Page, flows: Flows, artifacts: Path
) -> None:
    page = admin
    page.get_by_role("link", name="Usage").click()
    page.get_by_label("Period", exact=True).select_option("30d")
    page.get_by_label("Time zone (IANA name)").fill("America/New_York")
    page.get_by_role("button", name="Show").click()
    expect(
        page.get_by_text("Requests and errors per day; times in America/New_York")
    ).to_be_visible()
    expect(page.locator("#table-requests tbody tr")).to_have_count(30)
    expect(page.locator(".uplot")).to_have_count(4)

    page.get_by_label("Period", exact=True).select_option("custom")
    page.get_by_label("From (day)").fill("2026-03-10")
    page.get_by_label("To (day, included)").fill("2026-03-12")
    page.get_by_label("Time zone (IANA name)").fill("Asia/Tokyo")
    page.get_by_label("Stack spend by").select_option("model")
    page.get_by_role("button", name="Show").click()
    expect(
        page.get_by_text("Spend by model per day, US dollars; times in Asia/Tokyo")
    ).to_be_visible()
    page.get_by_text("Spend by model as a table").click()
    costs = page.locator("#table-cost")
    expect(costs.locator("thead")).to_contain_text("base-chat")
    period = {"since": "2026-03-09T15:00:00Z", "until": "2026-03-12T15:00:00Z"}
    series = flows.admin_api(
        "GET", "/usage/timeseries", params=period | {"granularity": "day", "tz": "Asia/Tokyo"}
    ).json()["points"]
    assert [p["requests"] for p in series] == [2, 2, 0]  # the row before the UTC days counts
    rows = costs.locator("tbody tr")
    for index, point in enumerate(series):
        expect(rows.nth(index).locator("th")).to_have_text(point["start"][:10])
        expect(rows.nth(index).locator("td").last).to_have_text(
            f"${Decimal(point['cost_total_usd']):,.6f}"
        )
    checked_layout(page, artifacts, "flow-usage-tokyo-by-model", reload=True)
