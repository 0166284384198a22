"""The console in Chromium against a live gateway: sign-in (by keyboard too), the main flows
of each page, CSRF, accessibility (axe-core: no serious or critical violations), and a 375 px
wide window without horizontal scrolling."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN_TOKEN, ConsoleWorld
from tests.browser.console_pages import (
    NARROW,
    checked_layout,
    horizontal_overflow,
    screenshot,
    serious_violations,
    start_adding_a_provider,
)
from tests.e2e.catalog_rows import post_chat, user_message

PAGES = (
    *("/", "/providers", "/providers/new", "/models", "/models/new", "/routing", "/users"),
    *("/usage", "/alerts", "/audit"),
)


def test_a_wrong_token_is_refused_and_the_right_one_signs_in_by_keyboard(
    page: Page, world: ConsoleWorld, artifacts: Path
) -> None:
    page.goto(f"{world.ui}/")
    expect(page).to_have_url(f"{world.ui}/sign-in")
    page.keyboard.type("not-the-token")  # the token field has the focus
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Wrong admin token.")
    screenshot(page, artifacts, "sign-in-refused")
    page.get_by_label("Admin token").focus()
    page.keyboard.type(ADMIN_TOKEN)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    assert ADMIN_TOKEN not in page.content()
    cookie = next(c for c in page.context.cookies() if c["name"] == "sb_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def test_create_a_provider_add_a_model_and_reprice_it(
    admin: Page, world: ConsoleWorld, artifacts: Path
) -> None:
    page = admin
    start_adding_a_provider(page, "Fake Two", "fake-two")
    page.get_by_label("Base URL").fill(world.stage.fake.url)
    page.get_by_label("API format").fill("openai")
    page.get_by_label("System API key").fill("sk-fake-two-secret-000111")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#notice")).to_contain_text("Provider fake-two added.")
    assert "sk-fake-two-secret-000111" not in page.content()
    last_check = (
        page.get_by_role("row").filter(has_text="fake-two").locator('td[data-label="Last check"]')
    )
    expect(last_check).to_have_text("never")
    page.get_by_role("button", name="Check fake-two now").click()
    expect(page.locator("#notice")).to_contain_text("Checked fake-two")
    expect(last_check).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"))
    screenshot(page, artifacts, "providers")

    page.goto(f"{world.ui}/models/new")
    page.get_by_label("Provider", exact=True).select_option(label="fake-two")
    page.get_by_label("Name", exact=True).fill("two-chat")
    page.get_by_label("Provider's model id").fill("two-chat")
    page.get_by_label("Input, $ per 1M tokens", exact=True).fill("1")
    page.get_by_label("Output, $ per 1M tokens", exact=True).fill("2")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#notice")).to_contain_text("Model two-chat added.")
    page.get_by_label("Input, $ per 1M tokens", exact=True).fill("1.5")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#notice")).to_contain_text("Model saved.")
    expect(page.locator("#price-history tbody tr")).to_have_count(2)
    screenshot(page, artifacts, "model-price-history")

    page.goto(f"{world.ui}/models")
    page.get_by_label("Search").fill("two-")
    expect(page.locator("#models tbody tr")).to_have_count(1)


def test_create_a_user_issue_a_key_and_revoke_it(
    admin: Page, world: ConsoleWorld, artifacts: Path
) -> None:
    page = admin
    page.get_by_role("link", name="Users and keys").click()
    page.get_by_label("User id").fill("grace")
    page.get_by_label("Tier", exact=True).select_option("starter")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#notice")).to_contain_text("User grace created.")
    page.get_by_label("Key name (optional)").fill("laptop")
    page.get_by_role("button", name="Issue a key").click()
    key = page.locator("#issued-key").inner_text().strip()
    assert key.startswith("sk-sb-")
    screenshot_without_key(page, artifacts)
    chat = {"model": "balanced", "messages": user_message()}
    assert post_chat(world.gateway, key, chat).status_code == 200

    page.goto(f"{world.ui}/users/grace")
    assert key not in page.content(), "a key is shown once"
    page.get_by_role("button", name=re.compile("Revoke key")).click()
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    page.get_by_role("button", name=re.compile("^Revoke sk-sb-")).click()
    expect(page.locator("#notice")).to_contain_text("revoked.")
    assert post_chat(world.gateway, key, chat).status_code == 401


def screenshot_without_key(page: Page, artifacts: Path) -> None:
    page.locator("#issued-key").evaluate("node => node.textContent = 'sk-sb-…'")
    screenshot(page, artifacts, "user-key-issued")


def test_a_form_without_its_csrf_token_is_refused(admin: Page, world: ConsoleWorld) -> None:
    answer = admin.request.post(
        f"{world.ui}/users", form={"id": "mallory", "tier": "enterprise"}, max_redirects=0
    )
    assert answer.status == 403
    assert (
        httpx.get(
            f"{world.gateway.base_url}/api/v1/admin/llm/users/mallory",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ).status_code
        == 404
    )


@pytest.mark.parametrize("path", PAGES)
def test_every_page_passes_axe_and_fits_375_px(
    admin: Page, world: ConsoleWorld, artifacts: Path, path: str
) -> None:
    admin.goto(f"{world.ui}{path}")
    assert serious_violations(admin) == []
    name = path.strip("/").replace("/", "-") or "overview"
    screenshot(admin, artifacts, name)
    admin.set_viewport_size(NARROW)
    admin.goto(f"{world.ui}{path}")
    assert horizontal_overflow(admin) <= 0
    assert serious_violations(admin) == []
    screenshot(admin, artifacts, f"{name}-375px")


def test_the_sign_in_page_passes_axe_and_fits_375_px(page: Page, world: ConsoleWorld) -> None:
    page.set_viewport_size(NARROW)
    page.goto(f"{world.ui}/sign-in")
    assert serious_violations(page) == []
    assert horizontal_overflow(page) <= 0


def test_a_user_signs_in_with_their_key_to_my_keys(
    page: Page, world: ConsoleWorld, artifacts: Path
) -> None:
    page.goto(f"{world.ui}/me/sign-in")
    page.get_by_label("Your Switchboard API key (sk-sb-…)").fill(world.user_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My keys")).to_be_visible()
    expect(page.locator("#my-requests")).not_to_have_text("0")
    assert world.user_key not in page.content()
    checked_layout(page, artifacts, "my-keys", reload=True)
    page.goto(f"{world.ui}/providers")
    expect(page).to_have_url(f"{world.ui}/sign-in")


def test_with_htmx_a_refused_form_shows_why_and_links_load_charts(
    admin: Page, world: ConsoleWorld
) -> None:
    page = admin
    start_adding_a_provider(page, "Fake again", "fake")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("fake")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Fake again")

    page.get_by_role("link", name="Usage").click()
    expect(page.locator(".uplot")).to_have_count(4)


def test_explain_answers_in_place(admin: Page, world: ConsoleWorld) -> None:
    page = admin
    page.get_by_role("link", name="Routing").click()
    expect(page.locator("#matrix")).to_contain_text("fake-chat")
    page.locator("#explain-tier").select_option("free")
    page.get_by_role("button", name="Explain").click()
    expect(page.locator("#verdicts tbody tr").first).to_contain_text("chosen")
    expect(page).to_have_url(f"{world.ui}/routing")


def test_acknowledge_an_alert_in_place(admin: Page, world: ConsoleWorld, artifacts: Path) -> None:
    page = admin
    walt, grace = world.alerts
    expect(page.locator("#firing-alerts li")).to_have_count(2)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Alerts").click()
    row = page.locator(f"#alert-{walt}")
    expect(row).to_contain_text("firing")
    page.get_by_role("button", name=f"Acknowledge alert {walt}").click()
    expect(page.locator("#notice")).to_contain_text(f"Alert {walt} acknowledged.")
    expect(row).to_contain_text("acknowledged")
    expect(page.get_by_role("button", name=f"Acknowledge alert {walt}")).to_have_count(0)
    expect(page).to_have_url(f"{world.ui}/alerts")
    answer = httpx.get(
        f"{world.gateway.base_url}/api/v1/admin/llm/alerts/{walt}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ).json()
    assert [event["state"] for event in answer["history"]] == ["firing", "acknowledged"]
    assert answer["history"][-1]["actor"] == "admin"

    page.get_by_label("Kind", exact=True).last.select_option("error_rate")
    expect(page.get_by_label("Threshold", exact=True)).to_be_visible()
    expect(page.get_by_label("Thresholds, %")).to_be_hidden()
    screenshot(page, artifacts, "console-alerts")

    page.get_by_role("link", name=f"Alert {walt}", exact=True).click()
    expect(page.locator("#history tbody tr")).to_have_count(2)
    assert serious_violations(page) == []
    page.set_viewport_size(NARROW)
    page.goto(f"{world.ui}/alerts/{grace}/resolve")
    assert horizontal_overflow(page) <= 0
    assert serious_violations(page) == []
