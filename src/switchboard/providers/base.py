"""The adapter protocol and the types every adapter speaks.

The gateway's own format is OpenAI's Chat Completions: requests and responses are the JSON
objects of that API (as dicts), streams are its `chat.completion.chunk` objects, usage comes
in a chunk's or a response's `usage`. An adapter translates that to its provider's wire format
and back, and raises only `UpstreamError`.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

import aiohttp
import orjson

from switchboard.errors import SwitchboardError
from switchboard.redaction import scrub, scrub_json
from switchboard.vocabulary import AuthType

JSON = dict[str, Any]

GATEWAY_FIELDS = frozenset({"models"})
"""Request fields the gateway reads and no provider must see."""


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where and how to call: one candidate's provider, key and model."""

    provider_slug: str
    base_url: str | None
    model: str
    api_key: str | None
    auth_type: AuthType
    config: Mapping[str, Any] = field(default_factory=dict)
    connect_timeout_s: float = 5.0
    timeout_s: float = 120.0


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    """The part of `prompt_tokens` read from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """The part of `prompt_tokens` written to the provider's prompt cache (Anthropic bills
    these above the input price: `pricing`)."""
    cache_write_1h_tokens: int = 0
    """The part of `cache_write_tokens` kept for an hour (the rest: five minutes)."""

    @classmethod
    def from_openai(cls, usage: Mapping[str, Any] | None) -> Usage | None:
        """Read an OpenAI `usage` object; None when there is none. Cache writes are read where
        LiteLLM's proxy puts a Claude model's (`prompt_tokens_details.cache_creation_tokens`,
        or `cache_creation_input_tokens`), and so does `to_openai`."""
        if not usage:
            return None
        details = usage.get("prompt_tokens_details") or {}
        written = details.get("cache_creation_tokens") or usage.get("cache_creation_input_tokens")
        split = details.get("cache_creation_token_details")
        written_1h = split.get("ephemeral_1h_input_tokens") if isinstance(split, Mapping) else 0
        return cls(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=int(details.get("cached_tokens") or 0),
            cache_write_tokens=int(written or 0),
            cache_write_1h_tokens=int(written_1h or 0),
        )

    def to_openai(self) -> JSON:
        details: JSON = {"cached_tokens": self.cached_tokens}
        if self.cache_write_tokens:  # not OpenAI's; as LiteLLM's proxy reports them
            details["cache_creation_tokens"] = self.cache_write_tokens
            details["cache_creation_token_details"] = {
                "ephemeral_5m_input_tokens": self.cache_write_tokens - self.cache_write_1h_tokens,
                "ephemeral_1h_input_tokens": self.cache_write_1h_tokens,
            }
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": details,
        }


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole (non-streamed) answer: the OpenAI response object and its usage, if reported."""

    body: JSON
    usage: Usage | None


class ErrorKind(enum.StrEnum):
    CONNECTION = "connection_error"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    AUTHENTICATION = "upstream_authentication"
    NOT_FOUND = "upstream_not_found"
    BAD_REQUEST = "bad_request"
    UNSUPPORTED = "unsupported_parameter"
    PROTOCOL = "protocol_error"


# Failures that are not the caller's fault: the next candidate may well succeed.
_RETRYABLE = frozenset(
    {
        ErrorKind.CONNECTION,
        ErrorKind.TIMEOUT,
        ErrorKind.RATE_LIMITED,
        ErrorKind.SERVER_ERROR,
        ErrorKind.AUTHENTICATION,
        ErrorKind.NOT_FOUND,
        ErrorKind.PROTOCOL,
    }
)


class UpstreamError(SwitchboardError):
    """A provider call failed. `status` is the provider's HTTP status, when it answered;
    `body` its error object (already in OpenAI's error format), for passing 4xx on."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
        body: JSON | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s
        self.body = body

    @property
    def retryable(self) -> bool:
        return self.kind in _RETRYABLE

    def scrubbed(self, secrets: Iterable[str | None]) -> Self:
        """This error with `secrets`, and anything shaped like a key, masked in its text and
        its body: what a provider says goes on to clients, logs and the usage record."""
        secrets = tuple(secrets)
        clean = type(self).__new__(type(self))  # not copy.copy: it calls __init__(*args)
        clean.__dict__.update(self.__dict__)
        clean.message = scrub(self.message, secrets)
        clean.args = (clean.message,)
        clean.body = scrub_json(self.body, secrets) if self.body is not None else None
        return clean

    @property
    def provider_wide(self) -> bool:
        """A failure of the provider itself (not of one model): cool the whole provider."""
        return self.kind in (ErrorKind.CONNECTION, ErrorKind.AUTHENTICATION)


class UnsupportedParameterError(UpstreamError):
    """A request parameter this provider's API cannot honour, found before any call was made.

    Not the deployment's fault (no cooldown) and not necessarily the caller's: another
    candidate may honour it, so the executor tries the next one; when none can, the caller
    gets a 400 naming `param`."""

    def __init__(self, param: str, message: str) -> None:
        body = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": "unsupported_parameter",
            }
        }
        super().__init__(ErrorKind.UNSUPPORTED, message, status=400, body=body)
        self.param = param


def refuse_unknown_parameters(
    body: JSON,
    *,
    translated: frozenset[str],
    neutral: Mapping[str, Callable[[Any], bool]],
    who: str,
) -> None:
    """Raise UnsupportedParameterError for the first field of `body` that `who` (a provider
    family, or this gateway) cannot carry: neither translated, nor the gateway's own, nor one
    of the `neutral` fields at a value that asks for nothing."""
    for name, value in body.items():
        if name in translated or name in GATEWAY_FIELDS:
            continue
        is_neutral = neutral.get(name)
        if is_neutral is None:
            raise UnsupportedParameterError(name, f"`{name}` is not supported by {who}")
        if not is_neutral(value):
            raise UnsupportedParameterError(
                name, f"{who} cannot honour `{name}`={orjson.dumps(value).decode()}"
            )


class ProviderAdapter(Protocol):
    async def complete(
        self, session: aiohttp.ClientSession, upstream: Upstream, body: JSON
    ) -> Completion:
        """One whole answer to the OpenAI-format request `body`."""
        ...

    def stream(
        self, session: aiohttp.ClientSession, upstream: Upstream, body: JSON
    ) -> AsyncIterator[JSON]:
        """The answer as OpenAI chunks; the last one carries `usage` when the provider
        reported it. Raises UpstreamError before the first chunk if the call fails."""
        ...

    async def list_models(self, session: aiohttp.ClientSession, upstream: Upstream) -> list[str]:
        """A non-billed call that proves the base URL and key work: the provider's models."""
        ...
