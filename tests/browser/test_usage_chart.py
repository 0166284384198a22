"""The usage page's charts in Chromium: values written as dollars on the spend chart and as
plain counts on the requests chart (the tokens and latency charts follow them)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ADMIN_TOKEN, ConsoleWorld
from tests.browser.console_pages import sign_in


@pytest.fixture
def admin(browser: Browser, world: ConsoleWorld) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, world.ui, ADMIN_TOKEN)
    yield page
    context.close()


def test_the_spend_chart_writes_dollars_and_the_requests_chart_counts(
    admin: Page, world: ConsoleWorld
) -> None:
    admin.goto(f"{world.ui}/usage")
    charts = admin.locator(".uplot")
    expect(charts).to_have_count(4)  # requests, spend, tokens, latency
    for chart, written in ((charts.nth(0), r"^\d+(\.\d+)?k?$"), (charts.nth(1), r"^\$\d")):
        plot = chart.locator(".u-over")
        box = plot.bounding_box()
        assert box is not None
        plot.hover(position={"x": box["width"] - 2, "y": box["height"] / 2})  # today's point
        value = chart.locator(".u-legend .u-series").nth(1).locator(".u-value")
        expect(value).to_have_text(re.compile(written))
