"""Checking a Chat Completions body's shape before anything is routed: a wrong type is a 422
that names the field (in OpenAI's error format), not a provider's confusing 400 later.
Values are checked only where the gateway relies on them, and to the ranges OpenAI declares
(`n` 1 to 128, `temperature` 0 to 2…); the rest passes through. A token count a model cannot
take is routing's to refuse (a 400 naming the model's limit); one no API takes, here."""

from __future__ import annotations

from typing import Any

from switchboard.api.errors import ApiError
from switchboard.api.field_checks import (
    MAX_TOKENS_VALUE,
    Check,
    first_problem,
    integer,
    kind,
    non_empty_strings,
    number,
    typed_blocks,
)

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})

MAX_CHOICES = 128
"""The most choices (`n`) OpenAI's API answers with."""


def _stop(value: Any) -> str | None:
    if isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    ):
        return None
    return "must be a string or a list of strings"


FIELDS: dict[str, Check] = {
    "model": kind(str, name="a string"),
    "models": non_empty_strings,
    "stream": kind(bool, name="a boolean"),
    "max_tokens": integer(1, MAX_TOKENS_VALUE),
    "max_completion_tokens": integer(1, MAX_TOKENS_VALUE),
    "temperature": number(0, 2),
    "top_p": number(0, 1),
    "n": integer(1, MAX_CHOICES),
    "presence_penalty": number(-2, 2),
    "frequency_penalty": number(-2, 2),
    "seed": integer(-(2**63)),
    "stop": _stop,
    "user": kind(str, name="a string"),
    "tools": kind(list, name="a list"),
    "tool_choice": kind(str, dict, name="a string or an object"),
    "parallel_tool_calls": kind(bool, name="a boolean"),
    "response_format": kind(dict, name="an object"),
    "stream_options": kind(dict, name="an object"),
    "metadata": kind(dict, name="an object"),
    "logprobs": kind(bool, name="a boolean"),
    "top_logprobs": integer(0),
}


def validate_chat(body: dict[str, Any]) -> None:
    """Raise a 422 ApiError naming the first field that has the wrong shape."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages", "is required and must be a non-empty list of messages")
    for index, message in enumerate(messages):
        problem = _message_problem(message)
        if problem:
            raise _invalid(f"messages[{index}]", problem)
    _refuse_absurd_token_counts(body)
    wrong = first_problem(body, FIELDS)
    if wrong is not None:
        raise _invalid(*wrong)
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and not isinstance(response_format.get("type"), str):
        raise _invalid("response_format.type", "is required and must be a string")


def _message_problem(message: Any) -> str | None:
    if not isinstance(message, dict):
        return "must be an object"
    role = message.get("role")
    if role not in ROLES:
        return f"has role {role!r}; expected one of {', '.join(sorted(ROLES))}"
    content = message.get("content")
    if content is None or isinstance(content, str) or typed_blocks(content):
        return None
    return "content must be a string, a list of typed parts, or null"


def _refuse_absurd_token_counts(body: dict[str, Any]) -> None:
    """A token count no model takes is OpenAI's 400 `invalid_value`, as one over the models'
    own limits is (routing's), not a 422 for its shape."""
    for param in ("max_tokens", "max_completion_tokens"):
        value = body.get(param)
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_TOKENS_VALUE:
            raise ApiError(
                400,
                f"{param} is too large: {value}. No model supports more than "
                f"{MAX_TOKENS_VALUE} completion tokens.",
                code="invalid_value",
                param=param,
            )


def _invalid(param: str, problem: str) -> ApiError:
    return ApiError(
        422, f"Invalid request: '{param}' {problem}.", code="invalid_value", param=param
    )
