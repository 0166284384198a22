"""Editing and ending things in Chromium: a routing rule edited and seen in the matrix, a
webhook edited keeping its secret, a refusal beside its field, a deactivation confirmed first,
a signed-in user signed out with a notice when deactivated; the new pages pass axe-core and fit
a 375 px window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ADMIN_TOKEN, ConsoleWorld
from tests.browser.console_pages import (
    checked_layout,
    screenshot,
    serious_violations,
)

ADMIN = "/api/v1/admin/llm"
SECRET = "webhook-signing-secret-0123"


def admin_api(world: ConsoleWorld, method: str, path: str, **options: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    url = f"{world.gateway.base_url}{ADMIN}{path}"
    return httpx.request(method, url, headers=headers, timeout=10, **options)


def test_edit_a_rule_and_see_it_in_the_matrix(
    admin: Page, world: ConsoleWorld, artifacts: Path
) -> None:
    (rule,) = admin_api(world, "GET", "/routing/rules").json()["items"]
    page = admin
    page.goto(f"{world.ui}/routing")
    page.get_by_role("link", name=f"Rule {rule['id']}", exact=True).click()
    expect(page.get_by_role("heading", name=f"Rule {rule['id']}")).to_be_visible()
    page.locator("#rule-task").fill("code")
    page.locator("#priority").fill("4")
    page.locator("#weight").fill("30")
    page.get_by_label("Fallback").check()
    checked_layout(page, artifacts, "rule-edit")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#notice")).to_contain_text(f"Rule {rule['id']} saved.")
    stored = admin_api(world, "GET", f"/routing/rules/{rule['id']}").json()
    assert (stored["task_type"], stored["priority"], stored["weight"]) == ("code", 4, 30)
    assert stored["is_fallback"] is True
    cell = page.locator("#matrix tbody tr").filter(has_text=stored["power_level"])
    expect(cell.filter(has_text="code")).to_contain_text("fake-chat")

    page.get_by_role("link", name=f"Rule {rule['id']}", exact=True).click()
    expect(page.get_by_role("heading", name=f"Rule {rule['id']}")).to_be_visible()
    page.locator("#max_tokens").fill("10")
    page.locator("#min_tokens").fill("100")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#max_tokens-error")
    expect(error).to_contain_text("below min_tokens")
    expect(page.locator("#max_tokens")).to_have_attribute("aria-invalid", "true")
    checked_layout(page, artifacts, "rule-edit-refused")
    assert admin_api(world, "GET", f"/routing/rules/{rule['id']}").json() == stored


def test_edit_a_webhook_keeping_its_secret(
    admin: Page, world: ConsoleWorld, artifacts: Path
) -> None:
    url = "http://127.0.0.1:9/services/T0/B0/hidden-part"
    body = {"name": "ops", "url": url, "format": "json", "secret": SECRET}
    hook = admin_api(world, "POST", "/alerts/webhooks", json=body).json()
    page = admin
    page.goto(f"{world.ui}/alerts")
    page.get_by_role("link", name="Edit webhook ops").click()
    expect(page.get_by_role("heading", name="Webhook ops")).to_be_visible()
    expect(page.get_by_label("URL (stored: http://127.0.0.1:9/services/…)")).to_have_value("")
    assert url not in page.content() and SECRET not in page.content()
    checked_layout(page, artifacts, "webhook-edit")
    page.get_by_label("Name").fill("ops-renamed")
    page.get_by_label("Format").select_option("slack")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#notice")).to_contain_text("Webhook ops-renamed saved.")
    stored = admin_api(world, "GET", f"/alerts/webhooks/{hook['id']}").json()
    assert (stored["name"], stored["format"], stored["has_secret"]) == (
        "ops-renamed",
        "slack",
        True,
    )
    assert stored["url"] == hook["url"], "an empty URL field keeps the stored URL"


def test_deactivating_a_user_asks_first_and_signs_them_out_with_a_notice(
    admin: Page, browser: Browser, world: ConsoleWorld, artifacts: Path
) -> None:
    user = browser.new_context(bypass_csp=True).new_page()
    user.goto(f"{world.ui}/me/sign-in")
    user.get_by_label("Your Switchboard API key (sk-sb-…)").fill(world.user_key)
    user.get_by_role("button", name="Sign in").click()
    expect(user.get_by_role("heading", name="My keys")).to_be_visible()

    page = admin
    page.goto(f"{world.ui}/users/walt")
    page.get_by_role("button", name="Deactivate walt").click()
    expect(page.get_by_role("heading", name="Deactivate user walt?")).to_be_visible()
    assert admin_api(world, "GET", "/users/walt").json()["is_active"] is True
    checked_layout(page, artifacts, "confirm-deactivate")
    page.get_by_role("button", name="Deactivate walt").click()
    expect(page.locator("#notice")).to_contain_text("User walt deactivated")
    assert admin_api(world, "GET", "/users/walt").json()["is_active"] is False

    user.reload()
    expect(user).to_have_url(
        f"{world.ui}/me/sign-in?notice="
        + "Your%20account%20has%20been%20deactivated%3A%20you%20have%20been%20signed%20out."
    )
    expect(user.locator("#notice")).to_contain_text("Your account has been deactivated")
    assert serious_violations(user) == []
    screenshot(user, artifacts, "signed-out-deactivated")
    assert not [c for c in user.context.cookies() if c["name"] == "sb_console"]
    admin_api(world, "PATCH", "/users/walt", json={"is_active": True})
    user.context.close()


@pytest.mark.parametrize("path", ["/routing", "/providers", "/audit", "/alerts", "/users"])
def test_lists_and_forms_fit_375_px_and_pass_axe(
    admin: Page, world: ConsoleWorld, artifacts: Path, path: str
) -> None:
    admin.goto(f"{world.ui}{path}")
    checked_layout(admin, artifacts, "page" + path.replace("/", "-"))
