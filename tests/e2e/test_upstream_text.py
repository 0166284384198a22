"""What a provider says reaches clients, headers and the usage record only scrubbed and safe.

A fake upstream repeats the credential it received in its errors (as some providers and
proxies do: `Incorrect API key provided: Bearer sk-…`) — with a 400, a 401, a 500 and in the
middle of a stream, for a system key and for a user's own (BYOK) key — and another answers an
nginx-style HTML 502 with CR/LF, NUL and non-Latin-1 bytes before a fallback answers. No key
reaches any body, header or stored row, and the fallback's answer always reaches the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy.orm import Session, sessionmaker

from switchboard.vocabulary import Tier
from tests.e2e.catalog_rows import (
    client,
    post_chat,
    post_messages,
    user_message,
)
from tests.e2e.harness import GatewayProcess
from tests.e2e.stage import Stage
from tests.e2e.waiting import usage_row, wait_for_usage_rows
from tests.fake_upstream import Reply

SYSTEM_KEY = "sk-proj-Sys7emKeyThatMustNeverLeak0123456789"
BYOK_KEY = "sk-user-0wnKeyThatMustNeverLeak9876543210"
SECRETS = (SYSTEM_KEY, BYOK_KEY)
ECHO = "Incorrect API key provided: {authorization}. You can find your API key at the dashboard."
NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
    b"<body>\x00<center>nginx \xc3\xa9\xe2\x82\xac</center>\r\n</body></html>\r\n"
)
REPLIES = {
    "echo-400": Reply(status=400, error_message=ECHO, error_code="invalid_api_key"),
    "echo-401": Reply(status=401, error_message=ECHO),
    "echo-500": Reply(status=500, error_message=ECHO),
    "echo-stream": Reply(error_after_chunks=2, error_message=ECHO, chunks=4),
    "html-502": Reply(status=502, raw=NGINX_502),
    "backup": Reply(text="The backup answered."),
    "too-slow": Reply(delay_s=3),
}


@dataclass(frozen=True)
class World:
    gateway: GatewayProcess
    system_user: str
    byok_user: str


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    stage.script(REPLIES)
    with stage.catalog() as rows:
        system = rows.provider("leaky", api_key=SYSTEM_KEY)
        own = rows.provider("leaky-own", byok=True)
        for name in REPLIES:
            rows.model(system, name)
        rows.model(own, "own-echo-400")
        keyless = rows.provider("key-less", with_system_key=False)
        rows.model(keyless, "needs-a-key")
        stage.fake.set_default("own-echo-400", REPLIES["echo-400"])
        system_user = rows.user("leak-system-user", tier=Tier.PROFESSIONAL)
        byok_user = rows.user("leak-byok-user", tier=Tier.PROFESSIONAL)
        rows.byok_key(user_id="leak-byok-user", provider=own, secret=BYOK_KEY)
    env = {"COOLDOWN_FAILURES": "100", "REQUEST_TIMEOUT_S": "0.5"}
    with stage.gateway(env) as gateway:
        yield World(gateway, system_user, byok_user)


def ask(world: World, key: str, *names: str, **extra: Any) -> httpx.Response:
    body = {"model": names[0], "models": list(names), "messages": user_message(), **extra}
    return post_chat(world.gateway, key, body)


def assert_scrubbed(response: httpx.Response, row_message: str | None = None) -> None:
    """No secret in the body, in any header, or in the stored error message."""
    texts = [response.text, *response.headers.values(), row_message or ""]
    for secret in SECRETS:
        assert not any(secret in text for text in texts), f"{secret[:8]}… leaked"


def stored_error(sessions: sessionmaker[Session], response: httpx.Response) -> str | None:
    (row,) = wait_for_usage_rows(sessions, [response.headers["x-switchboard-request-id"]])
    return row.error_message


@pytest.mark.parametrize(
    ("user", "model", "masked"),
    [("system_user", "echo-400", "sk-pro…6789"), ("byok_user", "own-echo-400", "sk-use…3210")],
)
def test_a_400_repeating_the_key_is_passed_on_with_the_key_masked(
    world: World, e2e_sessions: sessionmaker[Session], user: str, model: str, masked: str
) -> None:
    response = ask(world, getattr(world, user), model)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == (
        f"Incorrect API key provided: Bearer {masked}. You can find your API key at the dashboard."
    )
    assert error["code"] == "invalid_api_key"
    message = stored_error(e2e_sessions, response)
    assert message is not None
    assert masked in message
    assert_scrubbed(response, message)


@pytest.mark.parametrize("model", ["echo-401", "echo-500"])
def test_when_every_candidate_fails_the_502_names_them_without_their_words(
    world: World, e2e_sessions: sessionmaker[Session], model: str
) -> None:
    response = ask(world, world.system_user, model)

    assert response.status_code == 502
    kind = "upstream_authentication" if model == "echo-401" else "server_error"
    assert response.json()["error"]["message"] == (
        f"Every candidate failed. Tried: leaky/{model} ({kind})"
    )
    # The operator's record keeps what the provider said, masked.
    message = stored_error(e2e_sessions, response)
    assert message is not None
    assert f"leaky/{model}: leaky answered {model[-3:]}: Incorrect API key provided" in message
    assert "Bearer sk-pro…6789" in message
    assert_scrubbed(response, message)


def test_a_fallback_after_a_key_echo_names_the_failure_in_a_safe_header(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    response = ask(world, world.system_user, "echo-401", "backup")

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "The backup answered."
    assert response.headers["x-switchboard-route-reason"] == (
        "requested as backup; fallback after 1 failed: leaky/echo-401 (upstream_authentication)"
    )
    assert stored_error(e2e_sessions, response) is None
    assert_scrubbed(response)


def test_a_stream_failing_with_a_key_echo_ends_with_a_scrubbed_error_event(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    response = ask(world, world.system_user, "echo-stream", stream=True)

    assert response.status_code == 200
    events = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert '"error"' in events[-1]
    assert "Bearer sk-pro…6789" in events[-1]
    row = usage_row(e2e_sessions, response.headers)
    assert (row.status_code, row.error_type) == (502, "server_error")
    assert_scrubbed(response, row.error_message)


def test_the_anthropic_surface_passes_a_key_echo_on_scrubbed(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    body = {"model": "echo-400", "max_tokens": 50, "messages": user_message()}
    response = post_messages(world.gateway, world.system_user, body)

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "Bearer sk-pro…6789" in body["error"]["message"]
    assert_scrubbed(response, stored_error(e2e_sessions, response))


def test_a_fallback_after_an_html_502_reaches_the_client_and_is_billed_once(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    sdk = client(world.gateway, world.system_user)
    raw = sdk.chat.completions.with_raw_response.create(
        model="html-502", messages=user_message(), extra_body={"models": ["html-502", "backup"]}
    )

    assert raw.parse().choices[0].message.content == "The backup answered."
    assert raw.headers["x-switchboard-attempts"] == "2"
    assert raw.headers["x-switchboard-route-reason"] == (
        "requested as backup; fallback after 1 failed: leaky/html-502 (server_error)"
    )
    row = usage_row(e2e_sessions, raw.headers)
    assert (row.model_name, row.status_code, row.attempts) == ("backup", 200, 2)


def test_a_streamed_fallback_after_an_html_502_reaches_the_client(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    sdk = client(world.gateway, world.system_user)
    with sdk.chat.completions.with_streaming_response.create(
        model="html-502",
        messages=user_message(),
        stream=True,
        extra_body={"models": ["html-502", "backup"]},
    ) as streamed:
        text = "".join(
            chunk.choices[0].delta.content or "" for chunk in streamed.parse() if chunk.choices
        )
        request_id = streamed.headers["x-switchboard-request-id"]
        assert streamed.headers["x-switchboard-model"] == "backup"

    assert text == "The backup answered."
    (row,) = wait_for_usage_rows(e2e_sessions, [request_id])
    assert (row.model_name, row.status_code, row.attempts) == ("backup", 200, 2)


def test_an_html_error_body_is_stored_as_a_short_excerpt_without_control_characters(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    response = ask(world, world.system_user, "html-502")

    assert response.status_code == 502
    message = stored_error(e2e_sessions, response)
    assert message is not None
    assert message.startswith("leaky/html-502: leaky answered 502: <html>")
    assert "\x00" not in message
    assert "\r" not in message
    assert len(message) <= 1000
    assert_scrubbed(response, message)


def test_the_sdk_sees_the_masked_key_in_its_exception(world: World) -> None:
    sdk = client(world.gateway, world.system_user)
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="echo-400", messages=user_message())

    assert "sk-pro…6789" in str(raised.value)
    assert SYSTEM_KEY not in str(raised.value)


def test_a_model_without_a_usable_key_names_the_variable_to_set(world: World) -> None:
    response = ask(world, world.system_user, "needs-a-key")

    assert response.status_code == 503
    assert response.json()["error"] == {
        "message": "No model is available for this request: "
        "no usable key: set KEY_LESS_API_KEY or store a system key for 'key-less'",
        "type": "api_error",
        "param": None,
        "code": "no_route",
    }


def test_a_timeout_is_a_timeout_error_on_the_anthropic_surface(world: World) -> None:
    body = {"model": "too-slow", "max_tokens": 50, "messages": user_message()}
    response = post_messages(world.gateway, world.system_user, body)

    assert response.status_code == 504
    assert response.json() == {
        "type": "error",
        "error": {
            "type": "timeout_error",
            "message": "Every candidate failed. Tried: leaky/too-slow (timeout)",
        },
    }
