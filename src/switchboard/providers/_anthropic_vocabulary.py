"""The closed vocabularies that Anthropic's Messages API and OpenAI's Chat Completions name
differently: stop/finish reasons, error types, and how each counts tokens.

Each map is total: a value neither side knows maps to an explicit fallback, because a provider
adding a new reason must not break a request that otherwise succeeded.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from switchboard.providers.base import JSON, ErrorKind, Usage


class StopReason(enum.StrEnum):
    """Why an Anthropic message ended."""

    END_TURN = "end_turn"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"
    TOOL_USE = "tool_use"
    PAUSE_TURN = "pause_turn"
    REFUSAL = "refusal"
    MODEL_CONTEXT_WINDOW_EXCEEDED = "model_context_window_exceeded"


class FinishReason(enum.StrEnum):
    """Why an OpenAI choice ended."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    FUNCTION_CALL = "function_call"


_FINISH_FOR_STOP: Mapping[StopReason, FinishReason] = MappingProxyType(
    {
        StopReason.END_TURN: FinishReason.STOP,
        StopReason.STOP_SEQUENCE: FinishReason.STOP,
        StopReason.MAX_TOKENS: FinishReason.LENGTH,
        # Cut off by the context window: to the client, like running out of `max_tokens`.
        StopReason.MODEL_CONTEXT_WINDOW_EXCEEDED: FinishReason.LENGTH,
        StopReason.TOOL_USE: FinishReason.TOOL_CALLS,
        StopReason.REFUSAL: FinishReason.CONTENT_FILTER,
    }
)
FINISH_FALLBACK = FinishReason.STOP

_STOP_FOR_FINISH: Mapping[FinishReason, StopReason] = MappingProxyType(
    {
        FinishReason.STOP: StopReason.END_TURN,
        FinishReason.LENGTH: StopReason.MAX_TOKENS,
        FinishReason.TOOL_CALLS: StopReason.TOOL_USE,
        FinishReason.FUNCTION_CALL: StopReason.TOOL_USE,
        FinishReason.CONTENT_FILTER: StopReason.REFUSAL,
    }
)
STOP_FALLBACK = StopReason.END_TURN


def finish_reason_for(stop_reason: object) -> FinishReason:
    """OpenAI's finish reason for an Anthropic stop reason (`stop` when unknown)."""
    try:
        return _FINISH_FOR_STOP.get(StopReason(str(stop_reason)), FINISH_FALLBACK)
    except ValueError:
        return FINISH_FALLBACK


def stop_reason_for(finish_reason: object) -> StopReason:
    """Anthropic's stop reason for an OpenAI finish reason (`end_turn` when unknown)."""
    try:
        return _STOP_FOR_FINISH[FinishReason(str(finish_reason))]
    except ValueError:
        return STOP_FALLBACK


class AnthropicErrorType(enum.StrEnum):
    """`error.type` in Anthropic's error bodies and stream `error` events."""

    INVALID_REQUEST = "invalid_request_error"
    AUTHENTICATION = "authentication_error"
    BILLING = "billing_error"
    PERMISSION = "permission_error"
    NOT_FOUND = "not_found_error"
    REQUEST_TOO_LARGE = "request_too_large"
    RATE_LIMIT = "rate_limit_error"
    TIMEOUT = "timeout_error"
    API = "api_error"
    OVERLOADED = "overloaded_error"


_KIND_FOR_ERROR: Mapping[AnthropicErrorType, ErrorKind] = MappingProxyType(
    {
        AnthropicErrorType.INVALID_REQUEST: ErrorKind.BAD_REQUEST,
        AnthropicErrorType.REQUEST_TOO_LARGE: ErrorKind.BAD_REQUEST,
        AnthropicErrorType.AUTHENTICATION: ErrorKind.AUTHENTICATION,
        AnthropicErrorType.BILLING: ErrorKind.AUTHENTICATION,
        AnthropicErrorType.PERMISSION: ErrorKind.AUTHENTICATION,
        AnthropicErrorType.NOT_FOUND: ErrorKind.NOT_FOUND,
        AnthropicErrorType.RATE_LIMIT: ErrorKind.RATE_LIMITED,
        AnthropicErrorType.TIMEOUT: ErrorKind.TIMEOUT,
        AnthropicErrorType.API: ErrorKind.SERVER_ERROR,
        AnthropicErrorType.OVERLOADED: ErrorKind.SERVER_ERROR,
    }
)

_TYPE_FOR_STATUS: Mapping[int, AnthropicErrorType] = MappingProxyType(
    {
        400: AnthropicErrorType.INVALID_REQUEST,
        401: AnthropicErrorType.AUTHENTICATION,
        402: AnthropicErrorType.BILLING,
        403: AnthropicErrorType.PERMISSION,
        404: AnthropicErrorType.NOT_FOUND,
        413: AnthropicErrorType.REQUEST_TOO_LARGE,
        429: AnthropicErrorType.RATE_LIMIT,
        500: AnthropicErrorType.API,
        504: AnthropicErrorType.TIMEOUT,
        529: AnthropicErrorType.OVERLOADED,
    }
)


def error_kind_for(error_type: object) -> ErrorKind:
    """The gateway's error kind for an Anthropic error type. Unknown types count as server
    errors: nothing shows the failure to be the caller's, so another candidate may succeed."""
    try:
        return _KIND_FOR_ERROR[AnthropicErrorType(str(error_type))]
    except ValueError:
        return ErrorKind.SERVER_ERROR


def error_type_for_status(status: int) -> AnthropicErrorType:
    """Anthropic's error type for an HTTP status. Anthropic documents `invalid_request_error`
    for 4xx statuses it does not list, and `api_error` is its generic server failure."""
    known = _TYPE_FOR_STATUS.get(status)
    if known is not None:
        return known
    return AnthropicErrorType.INVALID_REQUEST if status < 500 else AnthropicErrorType.API


def anthropic_error_to_openai(body: Any) -> JSON | None:
    """OpenAI's error object for Anthropic's `{"type": "error", "error": {type, message}}`;
    None when `body` is not one (the caller then falls back to the raw text)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        return None
    return {
        "error": {
            "message": str(error.get("message") or ""),
            "type": str(error.get("type") or AnthropicErrorType.API),
            "param": None,
            "code": None,
        }
    }


def anthropic_error_body(status: int, message: str) -> JSON:
    """Anthropic's error body for an HTTP status: what its SDKs parse into their exceptions."""
    return {
        "type": "error",
        "error": {"type": str(error_type_for_status(status)), "message": message},
    }


def openai_error_to_anthropic(body: JSON, status: int) -> JSON:
    """Anthropic's error body for an OpenAI error object answered with `status`."""
    error = body.get("error") if isinstance(body, Mapping) else None
    message = error.get("message") if isinstance(error, Mapping) else None
    return anthropic_error_body(status, str(message) if message else f"HTTP {status}")


def usage_from_anthropic(usage: Mapping[str, Any] | None) -> Usage:
    """Anthropic counts input read from and written to its cache apart from `input_tokens`;
    OpenAI's prompt tokens include both, with the part read from cache as `cached_tokens`.
    Writes are kept for five minutes unless `cache_creation` says an hour."""
    usage = usage or {}
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    cache_write = int(usage.get("cache_creation_input_tokens") or 0)
    creation = usage.get("cache_creation")
    written_1h = (
        int(creation.get("ephemeral_1h_input_tokens") or 0) if isinstance(creation, Mapping) else 0
    )
    return Usage(
        prompt_tokens=int(usage.get("input_tokens") or 0) + cache_read + cache_write,
        completion_tokens=int(usage.get("output_tokens") or 0),
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=min(written_1h, cache_write),
    )


def usage_to_anthropic(usage: Usage) -> JSON:
    """Anthropic's `usage` for the gateway's. (OpenAI-style providers report no cache writes:
    they cost nothing extra.)"""
    written = usage.cache_write_tokens
    anthropic: JSON = {
        "input_tokens": max(usage.prompt_tokens - usage.cached_tokens - written, 0),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
    }
    if written:
        anthropic["cache_creation"] = {
            "ephemeral_5m_input_tokens": written - usage.cache_write_1h_tokens,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        }
    return anthropic
