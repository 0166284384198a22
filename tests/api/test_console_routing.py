"""The console's routing page in-process: the matrix, rules, and an Explain that answers as
the admin API's does."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.api.catalog_calls import ADMIN, add_provider
from tests.api.console_session import Console, signed_in


@pytest.fixture
def console(client: TestClient) -> Console:
    return signed_in(client)


@pytest.fixture
def models(console: Console, admin_headers: dict[str, str]) -> dict[str, int]:
    api = console.client
    provider = add_provider(api, admin_headers, "acme", api_format="mock")
    ids = {}
    for name, price in (("acme-cheap", "0.1"), ("acme-dear", "5")):
        body = {
            "provider_id": provider["id"],
            "model_name": name,
            "model_id": name,
            "power_level": "balanced",
            "cost_per_1m_input_tokens": price,
            "cost_per_1m_output_tokens": price,
        }
        ids[name] = api.post(f"{ADMIN}/models", json=body, headers=admin_headers).json()["id"]
    return ids


def rule_form(model_id: int, priority: int, **extra: str) -> dict[str, str]:
    return {
        "model_id": str(model_id),
        "power_level": "balanced",
        "user_tier": "",
        "task_type": "general",
        "priority": str(priority),
        "weight": "100",
        "is_active": "on",
        **extra,
    }


def test_rules_the_matrix_and_explain_agree_with_the_api(
    console: Console, admin_headers: dict[str, str], models: dict[str, int]
) -> None:
    added = console.post("/ui/routing/rules", rule_form(models["acme-dear"], 1))
    assert re.search(r"Rule \d+ added\.", added.text)
    console.post("/ui/routing/rules", rule_form(models["acme-cheap"], 2))
    page = console.client.get("/ui/routing", params={"tier": "free", "power": "balanced"})
    assert re.search(r"<strong>acme-dear</strong>.*acme-cheap", page.text)

    explained = console.post(
        "/ui/routing/explain", {"tier": "free", "power_level": "balanced", "task_type": "chat"}
    )
    api = console.client.post(
        f"{ADMIN}/routing/explain",
        json={"tier": "free", "power_level": "balanced", "task_type": "chat"},
        headers=admin_headers,
    ).json()
    ours = re.findall(
        r'<th scope="row">([^<]+)</th><td data-label="Provider">acme</td>'
        r'<td data-label="Verdict">(\w+)</td>',
        explained.text,
    )
    theirs = [(v["model_name"], v["verdict"]) for v in api["verdicts"]]
    assert ours == theirs and ours[0] == ("acme-dear", "chosen")
    assert 'class="wrap">: ' not in explained.text  # a choice has a detail but no reason

    partial = console.post(
        "/ui/routing/explain",
        {"tier": "free", "power_level": "eco"},
        headers={"HX-Request": "true"},
    )
    assert "<html" not in partial.text and "rejected" in partial.text


def test_edit_and_delete_a_rule(
    console: Console, admin_headers: dict[str, str], models: dict[str, int]
) -> None:
    console.post("/ui/routing/rules", rule_form(models["acme-dear"], 1))
    (rule,) = console.client.get(f"{ADMIN}/routing/rules", headers=admin_headers).json()["items"]
    saved = console.post(f"/ui/routing/rules/{rule['id']}", rule_form(models["acme-dear"], 7))
    assert f"Rule {rule['id']} saved." in saved.text
    stored = console.client.get(f"{ADMIN}/routing/rules/{rule['id']}", headers=admin_headers)
    assert stored.json()["priority"] == 7
    assert "Delete rule" in console.client.get(f"/ui/routing/rules/{rule['id']}/delete").text
    deleted = console.post(f"/ui/routing/rules/{rule['id']}/delete")
    assert f"Rule {rule['id']} deleted." in deleted.text


def test_a_wrong_task_type_is_shown_with_the_form(console: Console, models: dict[str, int]) -> None:
    answer = console.post(
        "/ui/routing/rules", rule_form(models["acme-dear"], 1, task_type="=HYPERLINK()")
    )
    assert answer.status_code == 422 and "task_type" in answer.text


def test_a_refused_edit_shows_its_reason_beside_the_field_and_stores_nothing(
    console: Console, admin_headers: dict[str, str], models: dict[str, int]
) -> None:
    console.post("/ui/routing/rules", rule_form(models["acme-dear"], 1))
    console.post("/ui/routing/rules", rule_form(models["acme-cheap"], 2, task_type="code"))
    listed = console.client.get(f"{ADMIN}/routing/rules", headers=admin_headers).json()["items"]
    dear, cheap = sorted(listed, key=lambda rule: rule["priority"])

    duplicate = console.post(
        f"/ui/routing/rules/{cheap['id']}", rule_form(models["acme-dear"], 5, is_fallback="on")
    )
    assert duplicate.status_code == 422
    why = re.search(r'<span id="model_id-error" class="error">([^<]*)</span>', duplicate.text)
    assert why and f"routing rule {dear['id']} already routes" in why.group(1)
    assert 'aria-invalid="true" aria-describedby="model_id-error"' in duplicate.text
    bounds = console.post(
        f"/ui/routing/rules/{cheap['id']}",
        rule_form(models["acme-cheap"], 5, min_tokens="900", max_tokens="100"),
    )
    assert bounds.status_code == 422 and 'id="max_tokens-error"' in bounds.text
    again = console.post("/ui/routing/rules", rule_form(models["acme-dear"], 9))
    assert again.status_code == 422 and 'id="model_id-error"' in again.text
    after = console.client.get(f"{ADMIN}/routing/rules", headers=admin_headers).json()
    assert after["items"] == listed and after["total"] == 2, "nothing stored"


def test_edit_a_rules_weight_fallback_and_state_and_see_it_in_the_matrix(
    console: Console, admin_headers: dict[str, str], models: dict[str, int]
) -> None:
    console.post("/ui/routing/rules", rule_form(models["acme-dear"], 1))
    console.post("/ui/routing/rules", rule_form(models["acme-cheap"], 2))
    listed = console.client.get(f"{ADMIN}/routing/rules", headers=admin_headers).json()["items"]
    dear = next(rule for rule in listed if rule["model_id"] == models["acme-dear"])
    form = console.client.get(f"/ui/routing/rules/{dear['id']}").text
    assert 'name="is_fallback"> Fallback' in form and 'name="is_active" checked' in form
    changed = rule_form(models["acme-dear"], 3, weight="40", is_fallback="on")
    assert "saved." in console.post(f"/ui/routing/rules/{dear['id']}", changed).text
    stored = console.client.get(f"{ADMIN}/routing/rules/{dear['id']}", headers=admin_headers)
    assert (stored.json()["priority"], stored.json()["weight"]) == (3, 40)
    assert stored.json()["is_fallback"] is True
    page = console.client.get("/ui/routing", params={"tier": "free", "power": "balanced"})
    assert re.search(r"<strong>acme-cheap</strong>.*acme-dear", page.text), "fallback goes last"
    inactive = {k: v for k, v in changed.items() if k != "is_active"}
    console.post(f"/ui/routing/rules/{dear['id']}", inactive)
    page = console.client.get("/ui/routing", params={"tier": "free", "power": "balanced"})
    assert "acme-dear" not in page.text.split('id="matrix"')[1].split("</table>")[0]
