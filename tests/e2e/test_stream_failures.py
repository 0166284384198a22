"""Streams that go wrong: a fallback is possible only before the first byte (a 500, or a
provider too slow to start); after it the stream is committed, so a provider that breaks off
ends it with an error event and a 502 bill for what was streamed. A client that hangs up
cancels the upstream call and is billed 499; a long stream is never cut while chunks flow.
A body that ends cleanly with neither a finish reason nor `[DONE]` was cut short too; one with
a finish reason but no `[DONE]` (older vLLM and Ollama) is complete."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk
from sqlalchemy.orm import Session, sessionmaker

from switchboard.vocabulary import Tier
from tests.e2e.catalog_rows import (
    Prices,
    client,
    post_chat,
)
from tests.e2e.stage import ServedWorld, Stage
from tests.e2e.waiting import wait_for_usage_rows
from tests.fake_upstream import Reply

TIMEOUT_S = 0.8
REPLIES: dict[str, Reply] = {
    "fails-500-stream": Reply(status=500),
    "slow-to-stream": Reply(delay_s=5),
    "breaks-stream": Reply(text="abcdefgh" * 4, chunks=8, break_after_chunks=2),
    "truncated-stream": Reply(text="abcdefgh" * 4, chunks=8, end_after_chunks=2),
    "stream-without-done": Reply(text="abcdefgh", chunks=2, send_done=False),
    "slow-stream": Reply(text="x" * 200, chunks=100, chunk_delay_s=0.05),
    "long-stream": Reply(text="0123456789", chunks=10, chunk_delay_s=0.15),
    "backup-stream": Reply(),
    "backup-stream-timeout": Reply(),
    "backup-broken": Reply(),
}


@dataclass(frozen=True)
class World(ServedWorld):
    prices: dict[str, Prices]


@pytest.fixture(scope="module")
def world(stage: Stage) -> Iterator[World]:
    stage.script(REPLIES)
    with stage.catalog() as rows:
        provider = rows.provider("st")
        prices = {
            name: Prices.of(rows.model(provider, name, input_price="0.5", output_price="1.5"))
            for name in REPLIES
        }
        key = rows.user("stream-user", tier=Tier.STARTER)
    env = {"REQUEST_TIMEOUT_S": str(TIMEOUT_S), "MAX_ATTEMPTS": "3"}
    with stage.gateway(env) as gateway, client(gateway, key) as sdk:
        yield World(gateway, stage.fake, key, sdk, prices)


def collect_text(stream: Iterable[ChatCompletionChunk], into: list[str]) -> None:
    for chunk in stream:
        into.extend(choice.delta.content or "" for choice in chunk.choices)


def streamed(world: World, model: str, content: str, **options: Any) -> tuple[str, httpx.Headers]:
    """Stream `model` with the SDK to its end: the text and the response's headers."""
    text: list[str] = []
    with world.sdk.chat.completions.with_streaming_response.create(
        model=model, messages=[{"role": "user", "content": content}], stream=True, **options
    ) as response:
        collect_text(response.parse(), text)
    return "".join(text), response.headers


@pytest.mark.parametrize(
    ("failing", "backup"),
    [("fails-500-stream", "backup-stream"), ("slow-to-stream", "backup-stream-timeout")],
)
def test_a_stream_falls_back_before_its_first_byte(
    world: World, e2e_sessions: sessionmaker[Session], failing: str, backup: str
) -> None:
    text, headers = streamed(world, failing, "Stream", extra_body={"models": [failing, backup]})

    assert headers["x-switchboard-model"] == backup
    assert headers["x-switchboard-attempts"] == "2"
    assert text == "Hello from the fake upstream."
    (row,) = wait_for_usage_rows(e2e_sessions, [headers["x-switchboard-request-id"]])
    assert (row.model_name, row.status_code, row.attempts) == (backup, 200, 2)
    assert (row.completion_tokens, row.usage_estimated) == (5, False)


def stream_until_it_fails(world: World, model: str, **options: Any) -> tuple[str, str, str]:
    """Stream `model` with the SDK until it raises: the text that came, the error's message
    and the request id."""
    received: list[str] = []
    with world.sdk.chat.completions.with_streaming_response.create(
        model=model, messages=[{"role": "user", "content": "Stream"}], stream=True, **options
    ) as response:
        request_id = response.headers["x-switchboard-request-id"]
        with pytest.raises(openai.APIError) as raised:
            collect_text(response.parse(), received)
    return "".join(received), raised.value.message, request_id


def assert_billed_as_cut_short(
    world: World, sessions: sessionmaker[Session], request_id: str, model: str
) -> None:
    (row,) = wait_for_usage_rows(sessions, [request_id])
    assert (row.status_code, row.error_type, row.attempts) == (502, "protocol_error", 1)
    # No usage report arrived: the record says so and bills the estimate of what was streamed.
    prompt_tokens, completion_tokens = 4 + 2, 2  # a message of 6 characters; 8 streamed
    assert row.usage_estimated is True
    assert (row.prompt_tokens, row.completion_tokens) == (prompt_tokens, completion_tokens)
    assert row.cost_total_usd == world.prices[model].cost(prompt_tokens, completion_tokens)


def error_events(world: World, model: str) -> tuple[str, list[str]]:
    """A stream of `model` read whole with httpx, which must be two chunks then an error event:
    the body and its events' data."""
    body = {"model": model, "messages": [{"role": "user", "content": "S"}], "stream": True}
    response = post_chat(world.gateway, world.key, body)
    events = [line[len("data: ") :] for line in response.text.splitlines() if line]
    assert response.status_code == 200
    assert len(events) == 3
    assert events[-1].startswith('{"error":{"message":"The provider failed while answering')
    return response.text, events


def test_no_fallback_after_the_first_streamed_byte(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    text, error, request_id = stream_until_it_fails(
        world, "breaks-stream", extra_body={"models": ["breaks-stream", "backup-broken"]}
    )

    assert text == "abcdefgh"  # the two chunks sent before the cut
    assert error.startswith("The provider failed while answering: st")
    assert world.fake.calls("backup-broken") == 0
    assert_billed_as_cut_short(world, e2e_sessions, request_id, "breaks-stream")


def test_a_broken_stream_ends_with_an_error_event_and_no_done(world: World) -> None:
    text, _ = error_events(world, "breaks-stream")

    assert "[DONE]" not in text


def test_a_stream_ending_without_a_finish_reason_or_done_is_a_billed_failure(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    text, error, request_id = stream_until_it_fails(world, "truncated-stream")

    assert text == "abcdefgh"  # the two chunks sent before the body ended
    assert error == (
        "The provider failed while answering: st ended the stream without a finish reason"
        " or [DONE]: the answer is cut short"
    )
    assert_billed_as_cut_short(world, e2e_sessions, request_id, "truncated-stream")


def test_a_truncated_stream_ends_with_an_error_event_and_no_done(world: World) -> None:
    text, events = error_events(world, "truncated-stream")

    assert "without a finish reason or [DONE]" in events[-1]
    assert "[DONE]" not in events[:-1]
    assert "data: [DONE]" not in text


def test_a_stream_with_a_finish_reason_but_no_done_is_complete(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    text, headers = streamed(world, "stream-without-done", "Hi")

    assert text == "abcdefgh"
    (row,) = wait_for_usage_rows(e2e_sessions, [headers["x-switchboard-request-id"]])
    assert (row.status_code, row.error_type) == (200, None)
    assert (row.completion_tokens, row.usage_estimated) == (5, False)


def test_a_client_hanging_up_mid_stream_cancels_the_upstream_and_is_billed(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    body = {
        "model": "slow-stream",
        "messages": [{"role": "user", "content": "Long story"}],
        "stream": True,
    }
    with httpx.stream(
        "POST",
        f"{world.gateway.openai_base_url}/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {world.key}"},
        timeout=10,
    ) as response:
        assert response.status_code == 200
        request_id = response.headers["x-switchboard-request-id"]
        events: list[str] = []
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append(line)
            if len(events) == 2:
                break

    (upstream,) = world.fake.received("slow-stream")
    world.fake.wait_finished(upstream)
    assert upstream.disconnected
    (row,) = wait_for_usage_rows(e2e_sessions, [request_id])
    assert (row.status_code, row.error_type) == (499, "client_disconnected")
    assert row.usage_estimated is True
    assert 1 <= row.completion_tokens < 50  # what was streamed, not the whole answer
    assert row.cost_total_usd == world.prices["slow-stream"].cost(
        row.prompt_tokens, row.completion_tokens
    )


def test_a_stream_longer_than_the_request_timeout_is_not_cut_while_chunks_flow(
    world: World, e2e_sessions: sessionmaker[Session]
) -> None:
    text, headers = streamed(world, "long-stream", "Count")

    assert text == "0123456789"  # 10 chunks 0.15 s apart: longer than the timeout
    (row,) = wait_for_usage_rows(e2e_sessions, [headers["x-switchboard-request-id"]])
    assert (row.status_code, row.error_type) == (200, None)
