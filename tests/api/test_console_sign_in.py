"""The console's sign-in in-process: the session cookie, CSRF, the throttle, sign-out."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from switchboard.api.app import create_app
from switchboard.settings import Settings
from tests.api.conftest import ADMIN_TOKEN


def sign_in_token(client: TestClient, path: str = "/ui/sign-in") -> str:
    page = client.get(path)
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def test_a_page_without_a_session_sends_to_the_sign_in_page(client: TestClient) -> None:
    answer = client.get("/ui/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/sign-in"


def test_the_admin_token_signs_in_with_a_strict_httponly_cookie(client: TestClient) -> None:
    csrf = sign_in_token(client)
    answer = client.post(
        "/ui/sign-in", data={"token": ADMIN_TOKEN, "csrf_token": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303
    cookie = next(v for k, v in answer.headers.multi_items() if v.startswith("sb_console="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert ADMIN_TOKEN not in cookie
    overview = client.get("/ui/")
    assert overview.status_code == 200 and "Provider health" in overview.text
    assert ADMIN_TOKEN not in overview.text
    assert "frame-ancestors 'none'" in overview.headers["content-security-policy"]
    assert overview.headers["cache-control"] == "no-store"


def test_a_wrong_token_is_refused_and_repeated_failures_must_wait(client: TestClient) -> None:
    for _ in range(3):
        csrf = sign_in_token(client)
        answer = client.post("/ui/sign-in", data={"token": "wrong", "csrf_token": csrf})
        assert answer.status_code == 401
        assert "Wrong admin token" in answer.text
    csrf = sign_in_token(client)
    answer = client.post("/ui/sign-in", data={"token": ADMIN_TOKEN, "csrf_token": csrf})
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) >= 1


def test_sign_in_without_the_csrf_token_is_refused(client: TestClient) -> None:
    sign_in_token(client)
    answer = client.post("/ui/sign-in", data={"token": ADMIN_TOKEN})
    assert answer.status_code == 403


def test_a_tampered_cookie_is_no_session(client: TestClient) -> None:
    csrf = sign_in_token(client)
    client.post("/ui/sign-in", data={"token": ADMIN_TOKEN, "csrf_token": csrf})
    value = client.cookies["sb_console"]
    client.cookies.clear()
    client.cookies.set("sb_console", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_sign_out_needs_the_csrf_token_and_ends_the_session(client: TestClient) -> None:
    csrf = sign_in_token(client)
    client.post("/ui/sign-in", data={"token": ADMIN_TOKEN, "csrf_token": csrf})
    page = client.get("/ui/")
    session_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert session_csrf
    assert client.post("/ui/sign-out", data={"stay": "1"}).status_code == 403
    answer = client.post(
        "/ui/sign-out", data={"csrf_token": session_csrf.group(1)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_the_vendored_scripts_are_served_from_the_package(client: TestClient) -> None:
    for name in ("vendor/htmx/htmx.min.js", "vendor/uplot/uPlot.iife.min.js", "console.css"):
        assert client.get(f"/ui/static/{name}").status_code == 200
    assert client.get("/ui/static/vendor/htmx/LICENSE").status_code == 404


def test_over_https_the_cookie_is_secure_and_lives_for_the_ttl(app_settings: Settings) -> None:
    settings = app_settings.model_copy(update={"console_session_ttl_s": 120.0})
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        csrf = sign_in_token(client)
        answer = client.post(
            "/ui/sign-in", data={"token": ADMIN_TOKEN, "csrf_token": csrf}, follow_redirects=False
        )
    cookie = next(v for k, v in answer.headers.multi_items() if v.startswith("sb_console="))
    assert "Secure" in cookie and "Max-Age=120" in cookie
