"""The demo: a gateway over the seeded demo catalog answers the official OpenAI SDK."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from sqlalchemy.orm import Session, sessionmaker

from switchboard.services.seeding import seed_catalog
from switchboard.services.users import create_user, issue_virtual_key
from switchboard.vocabulary import Tier
from tests.e2e.catalog_rows import streamed_with_usage, user_message
from tests.e2e.harness import GatewayProcess
from tests.e2e.stage import Stage
from tests.e2e.waiting import usage_row, wait_for_usage_rows


@pytest.fixture(scope="module")
def demo(stage: Stage) -> Iterator[tuple[GatewayProcess, str]]:
    with stage.catalog() as rows:
        seed_catalog(rows.session, demo=True)
        create_user(rows.session, user_id="demo-user", tier=Tier.PROFESSIONAL)
        key = issue_virtual_key(rows.session, user_id="demo-user").key
    with stage.gateway() as gateway:
        yield gateway, key


def test_power_level_request_is_served_by_the_mock_and_billed(
    demo: tuple[GatewayProcess, str], e2e_sessions: sessionmaker[Session]
) -> None:
    gateway, key = demo
    client = openai.OpenAI(base_url=gateway.openai_base_url, api_key=key, max_retries=0)

    raw = client.chat.completions.with_raw_response.create(
        model="balanced", messages=[{"role": "user", "content": "What is two and two?"}]
    )
    completion = raw.parse()

    assert completion.model == "mock-balanced"
    assert completion.choices[0].message.content == (
        "Mock answer from mock-balanced to: What is two and two?"
    )
    assert raw.headers["x-switchboard-model"] == "mock-balanced"
    assert raw.headers["x-switchboard-provider"] == "mock"
    assert raw.headers["x-switchboard-key-source"] == "system"
    assert raw.headers["x-switchboard-attempts"] == "1"
    request_id = raw.headers["x-switchboard-request-id"]

    (row,) = wait_for_usage_rows(e2e_sessions, [request_id])
    assert row.user_id == "demo-user"
    assert row.model_name == "mock-balanced"
    assert row.power_level == "balanced"
    assert row.status_code == 200
    usage = completion.usage
    assert usage is not None
    assert (row.prompt_tokens, row.completion_tokens) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    # mock-balanced: $1.00 in, $4.00 out per 1M tokens
    expected = Decimal(usage.prompt_tokens) / 10**6 + Decimal(usage.completion_tokens) * 4 / 10**6
    assert row.cost_total_usd == expected


def test_a_stream_arrives_in_pieces_and_is_billed_once(
    demo: tuple[GatewayProcess, str], e2e_sessions: sessionmaker[Session]
) -> None:
    gateway, key = demo
    client = openai.OpenAI(base_url=gateway.openai_base_url, api_key=key, max_retries=0)
    with streamed_with_usage(client, "eco", user_message("Stream please")) as response:
        request_id = response.headers["x-switchboard-request-id"]
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Mock answer from mock-eco to: Stream please"
    assert len([c for c in chunks if c.choices]) > 10
    assert chunks[-1].usage is not None
    (row,) = wait_for_usage_rows(e2e_sessions, [request_id])
    assert row.completion_tokens == chunks[-1].usage.completion_tokens
    assert row.usage_estimated is False


def test_the_mock_answers_n_choices_and_bills_them_all(
    demo: tuple[GatewayProcess, str], e2e_sessions: sessionmaker[Session]
) -> None:
    gateway, key = demo
    client = openai.OpenAI(base_url=gateway.openai_base_url, api_key=key, max_retries=0)
    messages: Any = [{"role": "user", "content": "Three ways?"}]
    one = client.chat.completions.create(model="balanced", messages=messages)
    raw = client.chat.completions.with_raw_response.create(model="balanced", messages=messages, n=3)
    three = raw.parse()

    assert [choice.index for choice in three.choices] == [0, 1, 2]
    assert {choice.message.content for choice in three.choices} == {
        "Mock answer from mock-balanced to: Three ways?"
    }
    assert one.usage is not None and three.usage is not None
    assert three.usage.prompt_tokens == one.usage.prompt_tokens
    assert three.usage.completion_tokens == 3 * one.usage.completion_tokens
    row = usage_row(e2e_sessions, raw.headers)
    assert row.completion_tokens == three.usage.completion_tokens


def test_the_mock_streams_n_choices_side_by_side(demo: tuple[GatewayProcess, str]) -> None:
    gateway, key = demo
    client = openai.OpenAI(base_url=gateway.openai_base_url, api_key=key, max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="eco",
            messages=[{"role": "user", "content": "Two streams"}],
            stream=True,
            n=2,
            stream_options={"include_usage": True},
        )
    )

    texts = {0: "", 1: ""}
    finished = set()
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason is not None:
                finished.add(choice.index)
    assert texts == {index: "Mock answer from mock-eco to: Two streams" for index in (0, 1)}
    assert finished == {0, 1}
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == 2 * -(-len(texts[0]) // 4)


def test_a_wrong_key_is_an_authentication_error(demo: tuple[GatewayProcess, str]) -> None:
    gateway, _ = demo
    client = openai.OpenAI(base_url=gateway.openai_base_url, api_key="sk-sb-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model="eco", messages=[{"role": "user", "content": "x"}])
    assert raised.value.status_code == 401
    assert raised.value.code == "invalid_api_key"


def test_models_lists_aliases_and_allowed_models(demo: tuple[GatewayProcess, str]) -> None:
    gateway, key = demo
    client = openai.OpenAI(base_url=gateway.openai_base_url, api_key=key, max_retries=0)
    ids = {model.id for model in client.models.list()}
    assert {"eco", "balanced", "precision", "auto", "mock-precision", "gpt-4o-mini"} <= ids
