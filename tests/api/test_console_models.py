"""The console's models page in-process: adding a model, repricing it (kept as history),
searching, deprecating it in favour of another."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.api.catalog_calls import ADMIN, add_provider
from tests.api.console_session import Console, signed_in


@pytest.fixture
def console(client: TestClient) -> Console:
    return signed_in(client)


def model_form(provider_id: int, name: str, input_price: str) -> dict[str, str]:
    return {
        "provider_id": str(provider_id),
        "model_name": name,
        "model_id": name,
        "power_level": "balanced",
        "min_tier_required": "free",
        "cost_per_1m_input_tokens": input_price,
        "cost_per_1m_output_tokens": "4",
        "supports_streaming": "on",
        "is_active": "on",
    }


def test_add_reprice_search_and_deprecate_a_model(
    console: Console, admin_headers: dict[str, str]
) -> None:
    api = console.client
    provider = add_provider(api, admin_headers, "acme", api_format="mock")
    added = console.post("/ui/models/new", model_form(provider["id"], "acme-small", "1"))
    assert added.status_code == 200 and "Model acme-small added." in added.text
    (small,) = api.get(f"{ADMIN}/models", headers=admin_headers).json()["items"]

    repriced = console.post(
        f"/ui/models/{small['id']}", model_form(provider["id"], "acme-small", "1.5")
    )
    assert repriced.status_code == 200 and "Model saved." in repriced.text
    history = api.get(f"{ADMIN}/models/{small['id']}/prices", headers=admin_headers).json()
    assert [p["cost_per_1m_input_tokens"] for p in history] in (["1.5", "1"], ["1", "1.5"])
    assert repriced.text.count('<tr><td data-label="From">') == 2, "both price periods are shown"

    console.post("/ui/models/new", model_form(provider["id"], "acme-large", "3"))
    found = api.get("/ui/models", params={"q": "LARGE"})
    assert "acme-large" in found.text and "acme-small" not in found.text
    partial = api.get(
        "/ui/models", params={"q": "small"}, headers={"HX-Request": "true", "HX-Target": "models"}
    )
    assert "<html" not in partial.text and "acme-small" in partial.text

    large = next(
        m
        for m in api.get(f"{ADMIN}/models", headers=admin_headers).json()["items"]
        if m["model_name"] == "acme-large"
    )
    choice = {"replacement_model_id": str(large["id"])}
    asked = console.post(f"/ui/models/{small['id']}/deprecate", choice)
    assert "Deprecate model acme-small?" in asked.text
    assert f'name="replacement_model_id" value="{large["id"]}"' in asked.text
    assert (
        api.get(f"{ADMIN}/models/{small['id']}", headers=admin_headers).json()["is_deprecated"]
        is False
    )
    deprecated = console.post(f"/ui/models/{small['id']}/deprecate", {**choice, "confirmed": "yes"})
    assert "Model deprecated." in deprecated.text
    row = api.get(f"{ADMIN}/models/{small['id']}", headers=admin_headers).json()
    assert row["is_deprecated"] is True and row["replacement_model_id"] == large["id"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"cost_per_1m_input_tokens": "-1"}, "cost_per_1m_input_tokens", "zero or more"),
        ({"model_id": "taken"}, "model_id", "already has a model"),
        ({"provider_id": "999999"}, "provider_id", "does not exist"),
        ({"context_window": "lots"}, "context_window", "whole number"),
    ],
)
def test_a_refused_model_shows_the_reason_beside_the_field_and_stores_nothing(
    console: Console,
    admin_headers: dict[str, str],
    change: dict[str, str],
    field: str,
    message: str,
) -> None:
    provider = add_provider(console.client, admin_headers, "acme", api_format="mock")
    assert (
        console.post("/ui/models/new", model_form(provider["id"], "taken", "1")).status_code == 200
    )
    before = console.client.get(f"{ADMIN}/models", headers=admin_headers).json()
    answer = console.post("/ui/models/new", {**model_form(provider["id"], "new", "1"), **change})
    assert answer.status_code == 422
    beside = re.search(rf'<span id="{field}-error" class="error">([^<]*)</span>', answer.text)
    assert beside and message in beside.group(1), answer.text
    assert f'aria-invalid="true" aria-describedby="{field}-error"' in answer.text
    assert console.client.get(f"{ADMIN}/models", headers=admin_headers).json() == before
