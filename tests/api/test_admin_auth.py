"""The admin API's token: missing 401, wrong 403, right 200; disabled without ADMIN_TOKEN."""

from __future__ import annotations

from fastapi.testclient import TestClient

from switchboard.api.app import create_app
from switchboard.settings import Settings


def test_missing_wrong_and_right_token(client: TestClient, admin_headers: dict[str, str]) -> None:
    url = "/api/v1/admin/llm/audit"
    missing = client.get(url)
    assert missing.status_code == 401
    assert missing.json() == {
        "detail": "Missing admin token: send `Authorization: Bearer $ADMIN_TOKEN`, the server's "
        "ADMIN_TOKEN setting (`make run` and `switchboard init-env` write it to .env; load it "
        "into your shell with `set -a; . ./.env; set +a`)."
    }
    # What curl sends when ADMIN_TOKEN is not set in the shell: the same hint.
    unset = client.get(url, headers={"Authorization": "Bearer "})
    assert (unset.status_code, unset.json()) == (401, missing.json())
    wrong = client.get(url, headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()) == (403, {"detail": "Wrong admin token."})
    right = client.get(url, headers=admin_headers)
    assert right.status_code == 200


def test_admin_api_is_disabled_without_a_token(app_settings: Settings) -> None:
    settings = app_settings.model_copy(update={"admin_token": None})
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/v1/admin/llm/audit", headers={"Authorization": "Bearer x"})
    assert response.status_code == 503
    assert "ADMIN_TOKEN" in response.json()["detail"]


def test_two_different_tokens_are_a_400_naming_the_headers(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    conflict = {
        "detail": "Conflicting API keys: the Authorization and x-api-key headers carry "
        "different keys. Send one key."
    }
    for url in ("/api/v1/admin/llm/audit", "/api/v1/llm/byok/keys"):
        response = client.get(url, headers={**admin_headers, "x-api-key": "sk-sb-another"})
        assert (response.status_code, response.json()) == (400, conflict), url
    same = client.get(
        "/api/v1/admin/llm/audit",
        headers={**admin_headers, "x-api-key": admin_headers["Authorization"][len("Bearer ") :]},
    )
    assert same.status_code == 200
