"""The Anthropic adapter against a real local HTTP server replaying recorded answers: what it
sends (URL, headers, body), what it returns (exact OpenAI-format output) and how it fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp
import pytest

from switchboard.providers.anthropic import ANTHROPIC_VERSION, AnthropicAdapter
from switchboard.providers.anthropic_format import UnsupportedParameterError
from switchboard.providers.base import (
    Completion,
    ErrorKind,
    ProviderAdapter,
    Upstream,
    UpstreamError,
    Usage,
)
from switchboard.vocabulary import AuthType
from tests.fake_upstream import (
    FakeUpstream,
    Scripted,
    closed_port_url,
    json_reply,
    stream_reply,
)
from tests.unit.providers.recordings import load, sse_body, with_created

T = TypeVar("T")
KEY = "sk-ant-api03-test"
MESSAGES = "/v1/messages"
MODELS = "/v1/models"


def upstream_at(
    base_url: str,
    *,
    model: str = "claude-sonnet-4-20250514",
    auth_type: AuthType = AuthType.API_KEY,
    config: Mapping[str, Any] | None = None,
) -> Upstream:
    return Upstream(
        provider_slug="anthropic",
        base_url=f"{base_url}/v1",
        model=model,
        api_key=KEY,
        auth_type=auth_type,
        config=config or {},
        connect_timeout_s=2.0,
        timeout_s=10.0,
    )


def answering(path: str, reply: Scripted) -> FakeUpstream:
    """A fake upstream answering `reply` at `path`."""
    fake = FakeUpstream()
    fake.set_default(path, reply)
    return fake


def run_against(
    fake: FakeUpstream, call: Callable[[aiohttp.ClientSession, str], Awaitable[T]]
) -> T:
    """Serve `fake`, run `call` with a client session and its URL; what `call` returned."""

    async def main() -> T:
        async with fake.serving(), aiohttp.ClientSession() as session:
            return await call(session, fake.url)

    return asyncio.run(main())


async def collect(chunks: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk async for chunk in chunks]


def test_the_adapter_is_a_provider_adapter() -> None:
    adapter: ProviderAdapter = AnthropicAdapter()
    assert callable(adapter.complete) and callable(adapter.stream)


@pytest.mark.parametrize("name", ["text", "tool_use"])
def test_complete_sends_the_recorded_request_and_returns_openai_format(name: str) -> None:
    recording = load(name)

    async def call(session: aiohttp.ClientSession, base_url: str) -> Completion:
        upstream = upstream_at(base_url, model=recording["model"])
        return await AnthropicAdapter().complete(session, upstream, recording["openai_request"])

    fake = answering(MESSAGES, json_reply(recording["anthropic_response"]))
    completion = run_against(fake, call)

    [received] = fake.received()
    assert received.body == recording["anthropic_request"]
    assert received.headers["x-api-key"] == KEY
    assert received.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert received.headers["content-type"] == "application/json"
    assert "authorization" not in received.headers
    assert isinstance(completion.body["created"], int)
    assert completion.body == {
        **recording["openai_response"],
        "created": completion.body["created"],
    }
    assert completion.usage == Usage.from_openai(recording["openai_response"]["usage"])


def test_text_usage_counts_input_read_from_and_written_to_the_cache_as_prompt_tokens() -> None:
    recording = load("text")

    async def call(session: aiohttp.ClientSession, base_url: str) -> Completion:
        return await AnthropicAdapter().complete(
            session, upstream_at(base_url), recording["openai_request"]
        )

    completion = run_against(answering(MESSAGES, json_reply(recording["anthropic_response"])), call)

    assert completion.usage == Usage(
        prompt_tokens=2095, completion_tokens=503, cached_tokens=1800, cache_write_tokens=200
    )


def test_bearer_auth_and_configured_headers() -> None:
    recording = load("text")
    config = {"anthropic_beta": ["prompt-caching-2024-07-31", "pdfs-2024-09-25"]}

    async def call(session: aiohttp.ClientSession, base_url: str) -> Completion:
        upstream = upstream_at(base_url, auth_type=AuthType.BEARER, config=config)
        return await AnthropicAdapter().complete(session, upstream, recording["openai_request"])

    fake = answering(MESSAGES, json_reply(recording["anthropic_response"]))
    run_against(fake, call)

    headers = fake.received()[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert "x-api-key" not in headers
    assert headers["anthropic-beta"] == "prompt-caching-2024-07-31,pdfs-2024-09-25"


@pytest.mark.parametrize("name", ["stream_text", "stream_tool_use"])
def test_stream_translates_recorded_events_to_openai_chunks(name: str) -> None:
    recording = load(name)

    async def call(session: aiohttp.ClientSession, base_url: str) -> list[dict[str, Any]]:
        upstream = upstream_at(base_url, model=recording["model"])
        return await collect(
            AnthropicAdapter().stream(session, upstream, recording["openai_request"])
        )

    fake = answering(MESSAGES, stream_reply(sse_body(recording["sse"])))
    chunks = run_against(fake, call)

    assert fake.received()[0].body == recording["anthropic_request"]
    assert chunks == with_created(recording["openai_chunks"], chunks[0]["created"])
    assert Usage.from_openai(chunks[-1]["usage"]) is not None


def test_stream_asks_for_a_stream_even_when_the_body_does_not() -> None:
    recording = load("stream_text")
    body = {k: v for k, v in recording["openai_request"].items() if k != "stream"}

    async def call(session: aiohttp.ClientSession, base_url: str) -> list[dict[str, Any]]:
        return await collect(AnthropicAdapter().stream(session, upstream_at(base_url), body))

    fake = answering(MESSAGES, stream_reply(sse_body(recording["sse"])))
    run_against(fake, call)

    assert fake.received()[0].body is not None
    assert fake.received()[0].body["stream"] is True


def test_complete_never_asks_for_a_stream() -> None:
    recording = load("text")
    body = {**recording["openai_request"], "stream": True}

    async def call(session: aiohttp.ClientSession, base_url: str) -> Completion:
        return await AnthropicAdapter().complete(session, upstream_at(base_url), body)

    fake = answering(MESSAGES, json_reply(recording["anthropic_response"]))
    run_against(fake, call)

    assert fake.received()[0].body == recording["anthropic_request"]


def test_an_error_event_mid_stream_raises_after_the_chunks_before_it() -> None:
    recording = load("stream_error")
    received: list[dict[str, Any]] = []

    async def call(session: aiohttp.ClientSession, base_url: str) -> None:
        upstream = upstream_at(base_url, model=recording["model"])
        async for chunk in AnthropicAdapter().stream(
            session, upstream, {"messages": [{"role": "user", "content": "Hi"}]}
        ):
            received.append(chunk)

    with pytest.raises(UpstreamError) as raised:
        run_against(answering(MESSAGES, stream_reply(sse_body(recording["sse"]))), call)

    assert received == with_created(recording["openai_chunks_before_error"], received[0]["created"])
    assert raised.value.kind == recording["error_kind"]
    assert raised.value.retryable
    assert raised.value.status is None
    assert raised.value.body == recording["error_body"]


def test_a_stream_cut_before_message_stop_is_a_protocol_error() -> None:
    recording = load("stream_text")
    cut = recording["sse"][: recording["sse"].index("event: message_delta")]

    async def call(session: aiohttp.ClientSession, base_url: str) -> list[dict[str, Any]]:
        body = recording["openai_request"]
        return await collect(AnthropicAdapter().stream(session, upstream_at(base_url), body))

    with pytest.raises(UpstreamError) as raised:
        run_against(answering(MESSAGES, stream_reply(sse_body(cut))), call)

    assert raised.value.kind is ErrorKind.PROTOCOL
    assert raised.value.retryable


ERRORS = load("errors")["cases"]


@pytest.mark.parametrize("case", ERRORS, ids=[case["name"] for case in ERRORS])
@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
def test_error_answers_become_upstream_errors(case: dict[str, Any], streamed: bool) -> None:
    reply = Scripted(status=case["status"], raw=case["body"].encode(), headers=case["headers"])
    body = load("text")["openai_request"]

    async def call(session: aiohttp.ClientSession, base_url: str) -> object:
        adapter = AnthropicAdapter()
        if streamed:
            return await collect(adapter.stream(session, upstream_at(base_url), body))
        return await adapter.complete(session, upstream_at(base_url), body)

    with pytest.raises(UpstreamError) as raised:
        run_against(answering(MESSAGES, reply), call)

    error = raised.value
    assert error.kind == case["kind"]
    assert error.status == case["status"]
    assert error.retryable is case["retryable"]
    assert error.retry_after_s == case["retry_after_s"]
    assert error.body == case["openai_body"]
    assert error.message.startswith(f"anthropic answered {case['status']}: ")


def test_connection_refused_is_a_retryable_provider_wide_failure() -> None:
    base_url = closed_port_url()

    async def main() -> Completion:
        async with aiohttp.ClientSession() as session:
            return await AnthropicAdapter().complete(
                session, upstream_at(base_url), load("text")["openai_request"]
            )

    with pytest.raises(UpstreamError) as raised:
        asyncio.run(main())

    assert raised.value.kind is ErrorKind.CONNECTION
    assert raised.value.retryable and raised.value.provider_wide
    assert raised.value.status is None


def test_no_base_url_is_a_connection_error() -> None:
    upstream = Upstream("anthropic", None, "claude-sonnet-4-20250514", KEY, AuthType.API_KEY)

    async def main() -> Completion:
        async with aiohttp.ClientSession() as session:
            return await AnthropicAdapter().complete(session, upstream, {"messages": []})

    with pytest.raises(UpstreamError) as raised:
        asyncio.run(main())

    assert raised.value.kind is ErrorKind.CONNECTION


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
def test_an_unsupported_parameter_fails_before_any_call(streamed: bool) -> None:
    body = {"messages": [{"role": "user", "content": "Hi"}], "n": 2}

    async def call(session: aiohttp.ClientSession, base_url: str) -> object:
        adapter = AnthropicAdapter()
        if streamed:
            return await collect(adapter.stream(session, upstream_at(base_url), body))
        return await adapter.complete(session, upstream_at(base_url), body)

    fake = answering(MESSAGES, json_reply({}))
    with pytest.raises(UnsupportedParameterError) as raised:
        run_against(fake, call)

    assert raised.value.param == "n"
    assert raised.value.kind is ErrorKind.UNSUPPORTED
    assert not raised.value.retryable
    assert fake.received() == []


def test_list_models_reads_the_models_endpoint() -> None:
    recording = load("models")

    async def call(session: aiohttp.ClientSession, base_url: str) -> list[str]:
        return await AnthropicAdapter().list_models(session, upstream_at(base_url))

    fake = answering(MODELS, json_reply(recording["response"]))
    ids = run_against(fake, call)

    assert ids == recording["ids"]
    [received] = fake.received()
    assert received.query == {"limit": "1000"}
    assert received.headers["x-api-key"] == KEY
    assert received.headers["anthropic-version"] == ANTHROPIC_VERSION


def test_list_models_with_a_bad_key_is_an_authentication_error() -> None:
    case = next(case for case in ERRORS if case["status"] == 401)
    reply = Scripted(status=401, raw=case["body"].encode(), headers=case["headers"])

    async def call(session: aiohttp.ClientSession, base_url: str) -> list[str]:
        return await AnthropicAdapter().list_models(session, upstream_at(base_url))

    with pytest.raises(UpstreamError) as raised:
        run_against(answering(MODELS, reply), call)

    assert raised.value.kind is ErrorKind.AUTHENTICATION
    assert raised.value.body == case["openai_body"]
