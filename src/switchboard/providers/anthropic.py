"""Anthropic's Messages API as a provider: POST {base_url}/messages, base_url like
https://api.anthropic.com/v1.

The translation lives in `anthropic_format`; this module only calls. The key goes in
`x-api-key` (auth_type `api_key`) or `Authorization: Bearer` (auth_type `bearer`, for
Anthropic-compatible proxies), with the `anthropic-version` header the API requires.
The provider's `config` may set `anthropic_version` and `anthropic_beta` (a string or list).
Anthropic's 529 (overloaded) is a server error like any 5xx: retryable, next candidate.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp

from switchboard.providers import _http
from switchboard.providers._sse import iter_events
from switchboard.providers.anthropic_format import (
    AnthropicStreamToOpenAI,
    anthropic_error_to_openai,
    anthropic_response_to_openai,
    openai_request_to_anthropic,
)
from switchboard.providers.base import JSON, Completion, ErrorKind, Upstream, UpstreamError, Usage

ANTHROPIC_VERSION = "2023-06-01"
MODELS_PAGE_SIZE = 1000
"""The most `GET /models` returns at once: enough to prove the key works and list them."""


class AnthropicAdapter:
    async def complete(
        self, session: aiohttp.ClientSession, upstream: Upstream, body: JSON
    ) -> Completion:
        payload = openai_request_to_anthropic(body, upstream.model)
        payload.pop("stream", None)
        async with _API.post(session, upstream, "/messages", payload) as response:
            raw = await response.read()
        answer = anthropic_response_to_openai(_http.decode(raw, upstream), created=int(time.time()))
        return Completion(body=answer, usage=Usage.from_openai(answer["usage"]))

    async def stream(
        self, session: aiohttp.ClientSession, upstream: Upstream, body: JSON
    ) -> AsyncIterator[JSON]:
        payload = {**openai_request_to_anthropic(body, upstream.model), "stream": True}
        translator = AnthropicStreamToOpenAI(upstream.model, source=upstream.provider_slug)
        async with _API.post(session, upstream, "/messages", payload) as response:
            async for event, data in iter_events(response.content):
                for chunk in translator.feed(event, _http.decode(data, upstream)):
                    yield chunk
        if not translator.finished:
            raise UpstreamError(
                ErrorKind.PROTOCOL, f"{upstream.provider_slug} ended the stream before message_stop"
            )

    async def list_models(self, session: aiohttp.ClientSession, upstream: Upstream) -> list[str]:
        return await _API.model_ids(session, upstream, f"/models?limit={MODELS_PAGE_SIZE}")


def _headers(upstream: Upstream) -> dict[str, str]:
    headers = _http.bearer_or_key_headers(upstream, key_header="x-api-key")
    headers["anthropic-version"] = str(upstream.config.get("anthropic_version", ANTHROPIC_VERSION))
    beta = upstream.config.get("anthropic_beta")
    if beta:
        headers["anthropic-beta"] = beta if isinstance(beta, str) else ",".join(map(str, beta))
    return headers


_API = _http.ProviderApi(headers=_headers, error_body=anthropic_error_to_openai)
