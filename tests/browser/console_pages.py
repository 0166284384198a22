"""What the browser tests do on every page: sign in, check accessibility with axe-core, check
there is no horizontal scrolling, and keep a screenshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}
NARROW = {"width": 375, "height": 800}


def sign_in(page: Page, ui: str, token: str) -> None:
    page.goto(f"{ui}/sign-in")
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{ui}/")


def start_adding_a_provider(page: Page, name: str, slug: str) -> None:
    """From any console page, by its links, to the new-provider form with a name and slug."""
    page.get_by_role("link", name="Providers").click()
    page.get_by_role("link", name="Add a provider").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Slug").fill(slug)


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now (WCAG 2.1 AA)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: "tag",
            values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]


def horizontal_overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scrolling)."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))


def screenshot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def checked_layout(page: Page, artifacts: Path, name: str, *, reload: bool = False) -> None:
    """No serious axe finding at full width nor at 375 px, where nothing scrolls sideways; a
    screenshot of each. At 375 px the page reflows, or with `reload` is loaded again, for a
    page that sizes itself when it loads (charts); never for a page a POST answered, which a
    reload would send again."""
    assert serious_violations(page) == []
    screenshot(page, artifacts, name)
    page.set_viewport_size(NARROW)
    if reload:
        page.reload()
    assert horizontal_overflow(page) <= 0
    assert serious_violations(page) == []
    screenshot(page, artifacts, f"{name}-375px")
    page.set_viewport_size({"width": 1280, "height": 800})
