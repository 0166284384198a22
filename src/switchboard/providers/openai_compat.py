"""OpenAI's Chat Completions wire format, and every provider that speaks it: OpenAI, Azure-style
base URLs, Groq, Mistral, DeepSeek, Together, Ollama, vLLM, a LiteLLM proxy.

A provider's quirks are declared, not coded: a `Profile` renames or drops parameters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import aiohttp

from switchboard.providers import _http
from switchboard.providers._sse import iter_events
from switchboard.providers.base import (
    GATEWAY_FIELDS,
    JSON,
    Completion,
    ErrorKind,
    Upstream,
    UpstreamError,
    Usage,
)


@dataclass(frozen=True, slots=True)
class Profile:
    """A provider's departures from OpenAI's parameters."""

    rename: Mapping[str, str] = field(default_factory=dict)
    drop: frozenset[str] = frozenset()


PROFILES: Mapping[str, Profile] = {
    # Mistral and most self-hosted servers know only the older `max_tokens`.
    "mistral": Profile(rename={"max_completion_tokens": "max_tokens"}),
    "local": Profile(rename={"max_completion_tokens": "max_tokens"}),
    "ollama": Profile(rename={"max_completion_tokens": "max_tokens"}),
    "vllm": Profile(rename={"max_completion_tokens": "max_tokens"}),
    # Groq rejects these with a 400 rather than ignoring them.
    "groq": Profile(drop=frozenset({"logit_bias", "logprobs", "top_logprobs"})),
}


_API = _http.ProviderApi()
"""Bearer or key auth, as the provider's `auth_type` says; OpenAI's error bodies as they are."""


class OpenAICompatAdapter:
    def __init__(self, profiles: Mapping[str, Profile] = PROFILES) -> None:
        self._profiles = profiles

    async def complete(
        self, session: aiohttp.ClientSession, upstream: Upstream, body: JSON
    ) -> Completion:
        payload = self._payload(upstream, body, stream=False)
        async with _API.post(session, upstream, "/chat/completions", payload) as response:
            raw = await response.read()
        answer = _http.decode(raw, upstream)
        return Completion(body=answer, usage=Usage.from_openai(answer.get("usage")))

    async def stream(
        self, session: aiohttp.ClientSession, upstream: Upstream, body: JSON
    ) -> AsyncIterator[JSON]:
        payload = self._payload(upstream, body, stream=True)
        async with _API.post(session, upstream, "/chat/completions", payload) as response:
            finished = False
            async for _event, data in iter_events(response.content):
                if data == b"[DONE]":
                    return
                chunk = _http.decode(data, upstream)
                if "error" in chunk and "choices" not in chunk:
                    raise UpstreamError(
                        ErrorKind.SERVER_ERROR,
                        f"{upstream.provider_slug} failed mid-stream: {_error_message(chunk)}",
                        body=chunk,
                    )
                finished = finished or _has_finish_reason(chunk)
                yield chunk
        # Some servers (older vLLM and Ollama) never send [DONE]: a finish reason is enough.
        # With neither, the body ended cleanly in the middle of an answer.
        if not finished:
            raise UpstreamError(
                ErrorKind.PROTOCOL,
                f"{upstream.provider_slug} ended the stream without a finish reason or [DONE]:"
                " the answer is cut short",
            )

    async def list_models(self, session: aiohttp.ClientSession, upstream: Upstream) -> list[str]:
        return await _API.model_ids(session, upstream, "/models")

    def _payload(self, upstream: Upstream, body: JSON, *, stream: bool) -> JSON:
        profile = self._profiles.get(upstream.provider_slug, Profile())
        payload: JSON = {}
        for name, value in body.items():
            if name in GATEWAY_FIELDS or name in profile.drop:
                continue
            payload[profile.rename.get(name, name)] = value
        payload["model"] = upstream.model
        if stream:
            payload["stream"] = True
            # Ask for usage, always: it is the bill. The gateway hides the extra chunk from
            # clients that did not ask for it.
            payload["stream_options"] = {
                **(body.get("stream_options") or {}),
                "include_usage": True,
            }
        else:
            payload.pop("stream", None)
            payload.pop("stream_options", None)
        return payload


def _has_finish_reason(chunk: JSON) -> bool:
    choices = chunk.get("choices")
    return isinstance(choices, list) and any(
        isinstance(choice, dict) and choice.get("finish_reason") for choice in choices
    )


def _error_message(chunk: JSON) -> str:
    error = chunk.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:300]
