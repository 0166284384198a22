"""Who may call, and what a well-formed request is: missing, wrong, revoked and expired keys,
malformed JSON, wrong field types and oversized bodies, each answered in OpenAI's error
format with the status and exception class the SDK expects — and, once the caller is known,
billed as one (failed) usage row."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy.orm import Session, sessionmaker

from switchboard._types import utcnow
from switchboard.models import User
from switchboard.services.users import issue_virtual_key, revoke_virtual_key
from tests.e2e.catalog_rows import (
    client,
    post_chat,
    user_message,
)
from tests.e2e.stage import ServedWorld, Stage
from tests.e2e.waiting import refusal_row, usage_row, wait_for_usage_rows

MODEL = "errors-model"
MAX_REQUEST_BYTES = 20_000


@dataclass(frozen=True)
class World(ServedWorld):
    keys: dict[str, str]
    """Other keys, by what is wrong with them."""
    key_ids: dict[str, int]


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    with stage.catalog() as rows:
        provider = rows.provider("errors")
        rows.rule(rows.model(provider, MODEL))
        key = rows.user("errors-user")
        keys = {"to-revoke": rows.user("revoked-user")}
        expired = issue_virtual_key(
            rows.session, user_id="errors-user", expires_at=utcnow() - timedelta(minutes=1)
        )
        keys["expired"] = expired.key
        keys["inactive-user"] = rows.user("inactive-user")
        inactive = rows.session.get(User, "inactive-user")
        assert inactive is not None
        inactive.is_active = False
        revoked = rows.session.get(User, "revoked-user")
        assert revoked is not None
        key_ids = {"to-revoke": revoked.virtual_keys[0].id}
    env = {"MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES)}
    with stage.gateway(env) as gateway, client(gateway, key) as sdk:
        yield World(gateway, stage.fake, key, sdk, keys, key_ids)


def create(sdk: openai.OpenAI, **options: Any) -> Any:
    return sdk.chat.completions.create(model="balanced", messages=user_message(), **options)


def test_a_missing_key_is_an_authentication_error(world: World) -> None:
    before = world.fake.calls(MODEL)
    with pytest.raises(openai.AuthenticationError) as raised:
        create(world.sdk, extra_headers={"Authorization": openai.Omit()})

    assert raised.value.status_code == 401
    assert raised.value.response.json() == {
        "error": {
            "message": "Missing API key: send `Authorization: Bearer sk-sb-…`.",
            "type": "authentication_error",
            "param": None,
            "code": "missing_api_key",
        }
    }
    assert world.fake.calls(MODEL) == before


@pytest.mark.parametrize("problem", ["wrong", "expired", "inactive-user"])
def test_a_key_that_is_wrong_expired_or_of_an_inactive_user_is_refused(
    world: World, problem: str
) -> None:
    key = world.keys.get(problem, "sk-sb-this-key-was-never-issued")
    with client(world.gateway, key) as sdk, pytest.raises(openai.AuthenticationError) as raised:
        create(sdk)

    assert raised.value.status_code == 401
    assert raised.value.code == "invalid_api_key"
    assert raised.value.type == "authentication_error"
    assert key not in raised.value.response.text


def test_a_revoked_key_stops_working_within_a_second(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    with client(world.gateway, world.keys["to-revoke"]) as sdk:
        assert create(sdk).choices[0].message.content
        with e2e_sessions() as session:
            revoke_virtual_key(session, world.key_ids["to-revoke"])
        revoked_at = time.monotonic()
        while still_works(sdk):
            assert time.monotonic() - revoked_at < 1.5, "the revoked key still works"
            time.sleep(0.05)


def still_works(sdk: openai.OpenAI) -> bool:
    try:
        create(sdk)
    except openai.AuthenticationError as error:
        return error.code != "invalid_api_key"
    return True


def test_the_models_list_needs_a_key_too(world: World) -> None:
    with client(world.gateway, "sk-sb-wrong") as sdk, pytest.raises(openai.AuthenticationError):
        sdk.models.list()


OTHER_KEY = "sk-sb-someone-elses-key"


@pytest.mark.parametrize(
    ("second", "where"),
    [
        (("x-api-key", OTHER_KEY), "the Authorization and x-api-key headers"),
        (("authorization", f"Bearer {OTHER_KEY}"), "2 Authorization headers"),
    ],
)
def test_two_different_keys_are_a_400_naming_the_headers(
    world: World, second: tuple[str, str], where: str
) -> None:
    before = world.fake.calls(MODEL)
    headers = [("authorization", f"Bearer {world.key}"), second]
    body = {"model": "balanced", "messages": user_message()}
    for path in ("/chat/completions", "/models"):
        url = f"{world.gateway.openai_base_url}{path}"
        response = httpx.request(
            "POST" if path == "/chat/completions" else "GET",
            url,
            headers=headers,
            json=body if path == "/chat/completions" else None,
        )

        assert response.status_code == 400, path
        assert response.json() == {
            "error": {
                "message": f"Conflicting API keys: {where} carry different keys. Send one key.",
                "type": "invalid_request_error",
                "param": None,
                "code": "conflicting_api_keys",
            }
        }
    assert world.fake.calls(MODEL) == before


def test_the_same_key_in_both_headers_is_one_key(world: World) -> None:
    response = post_chat(
        world.gateway, world.key, {"model": "balanced", "messages": user_message()},
        headers={"x-api-key": world.key},
    )  # fmt: skip
    assert response.status_code == 200


def test_malformed_json_is_a_400_and_billed_as_a_failure(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    response = post_chat(
        world.gateway,
        world.key,
        content=b'{"model": "balanced", "messages": [',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_json")
    assert error["message"].startswith("The request body is not valid JSON")
    (row,) = wait_for_usage_rows(e2e_sessions, [response.headers["x-request-id"]])
    assert (row.user_id, row.status_code, row.error_type) == ("errors-user", 400, "invalid_json")
    assert (row.model_name, row.attempts, row.cost_total_usd) == (None, 0, 0)


def test_a_body_that_is_not_an_object_is_a_400(world: World) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        world.sdk.post("/chat/completions", body=[{"role": "user"}], cast_to=httpx.Response)

    assert raised.value.code == "invalid_json"
    assert raised.value.message.endswith("The request body must be a JSON object.")


@pytest.mark.parametrize(
    ("body", "param", "problem"),
    [
        ({"temperature": "hot"}, "temperature", "must be a number"),
        ({"temperature": 3}, "temperature", "must be between 0 and 2"),
        ({"messages": None}, "messages", "is required and must be a non-empty list"),
        ({"messages": []}, "messages", "is required and must be a non-empty list"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0]", "has role 'robot'"),
        ({"messages": [{"role": "user", "content": 7}]}, "messages[0]", "content must be"),
        ({"max_tokens": 0}, "max_tokens", "must be at least 1"),
        ({"n": 129}, "n", "must be at most 128"),
        ({"n": True}, "n", "must be an integer"),
        ({"stream": "yes"}, "stream", "must be a boolean"),
        ({"models": "a,b"}, "models", "must be a non-empty list of strings"),
        ({"tools": {"name": "x"}}, "tools", "must be a list"),
        ({"response_format": {}}, "response_format.type", "is required"),
    ],
)
def test_a_field_of_the_wrong_shape_is_a_422_naming_it(
    world: World, body: dict[str, Any], param: str, problem: str
) -> None:
    request = {"model": "balanced", "messages": user_message(), **body}
    before = world.fake.calls(MODEL)
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        world.sdk.post("/chat/completions", body=request, cast_to=httpx.Response)

    assert raised.value.status_code == 422
    assert raised.value.param == param
    assert raised.value.code == "invalid_value"
    assert raised.value.type == "invalid_request_error"
    assert f"'{param}' {problem}" in raised.value.message
    assert world.fake.calls(MODEL) == before


def test_a_422_is_billed_as_a_failure(world: World, e2e_sessions: sessionmaker[Session]) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        create(world.sdk, temperature="hot")

    row = refusal_row(e2e_sessions, raised.value)
    assert (row.status_code, row.error_type, row.attempts) == (422, "invalid_value", 0)
    assert row.error_message == "Invalid request: 'temperature' must be a number."


def test_a_body_over_max_request_bytes_is_a_413(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    before = world.fake.calls(MODEL)
    with pytest.raises(openai.APIStatusError) as raised:
        world.sdk.chat.completions.create(
            model="balanced", messages=user_message("x" * MAX_REQUEST_BYTES)
        )

    assert raised.value.status_code == 413
    assert raised.value.code == "request_too_large"
    assert world.fake.calls(MODEL) == before
    row = refusal_row(e2e_sessions, raised.value)
    assert (row.status_code, row.error_type) == (413, "request_too_large")


def test_a_chunked_body_without_length_is_cut_off_at_max_request_bytes(world: World) -> None:
    def pieces() -> Iterator[bytes]:
        yield b'{"model": "balanced", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"y" * (MAX_REQUEST_BYTES // 4)
        yield b'"}]}'

    response = post_chat(world.gateway, world.key, content=pieces())

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_an_error_carries_the_clients_request_id_and_the_one_that_keys_its_bill(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        create(world.sdk, top_p=5, extra_headers={"X-Request-ID": "client-error-1"})

    headers = raised.value.response.headers
    assert headers["x-request-id"] == "client-error-1"
    (row,) = wait_for_usage_rows(e2e_sessions, [headers["x-switchboard-request-id"]])
    assert (row.status_code, row.error_type) == (422, "invalid_value")


def test_an_unknown_model_name_is_echoed_cut_short(world: World) -> None:
    name = "x" * 10_000
    response = post_chat(world.gateway, world.key, {"model": name, "messages": user_message()})

    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"model '{'x' * 100}…' does not exist"
    assert response.json()["error"]["code"] == "model_not_found"


def test_a_long_models_list_names_only_the_first_problems(world: World) -> None:
    names = [f"unknown-{n}" for n in range(500)]
    body = {"model": names[0], "models": names, "messages": user_message()}
    response = post_chat(world.gateway, world.key, body)

    assert response.status_code == 404
    assert response.json()["error"]["message"] == (
        "model 'unknown-0' does not exist; model 'unknown-1' does not exist; "
        "model 'unknown-2' does not exist; model 'unknown-3' does not exist; "
        "model 'unknown-4' does not exist; and 495 more"
    )
    assert len(response.content) < 1_000


@pytest.mark.parametrize("task_type", ["-2-3", "=HYPERLINK(1)", "+x", "@sum", "a" * 51, "co de"])
def test_a_task_type_outside_the_vocabulary_is_a_400(world: World, task_type: str) -> None:
    body = {"model": MODEL, "messages": user_message()}
    response = post_chat(world.gateway, world.key, body, headers={"x-task-type": task_type})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_task_type"
    assert response.json()["error"]["param"] == "task_type"


def test_a_task_type_is_stored_normalised(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    body = {"model": MODEL, "messages": user_message()}
    response = post_chat(world.gateway, world.key, body, headers={"x-task-type": "Code"})

    assert response.status_code == 200
    row = usage_row(e2e_sessions, response.headers)
    assert row.task_type == "code"
