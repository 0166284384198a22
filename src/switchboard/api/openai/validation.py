"""Checking a Chat Completions body's shape before anything is routed: a wrong type is a 422
that names the field (in OpenAI's error format), not a provider's confusing 400 later.
Values are checked only where the gateway relies on them; the rest passes through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from switchboard.api.errors import ApiError

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})

Check = Callable[[Any], str | None]


def _integer(minimum: int) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        return None if value >= minimum else f"must be at least {minimum}"

    return check


def _number(low: float, high: float) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        return None if low <= value <= high else f"must be between {low:g} and {high:g}"

    return check


def _kind(*types: type, name: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) and bool not in types:
            return f"must be {name}"
        return None if isinstance(value, types) else f"must be {name}"

    return check


def _strings(value: Any) -> str | None:
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return None
    return "must be a non-empty list of strings"


def _stop(value: Any) -> str | None:
    if isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    ):
        return None
    return "must be a string or a list of strings"


FIELDS: dict[str, Check] = {
    "model": _kind(str, name="a string"),
    "models": _strings,
    "stream": _kind(bool, name="a boolean"),
    "max_tokens": _integer(1),
    "max_completion_tokens": _integer(1),
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "n": _integer(1),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "seed": _integer(-(2**63)),
    "stop": _stop,
    "user": _kind(str, name="a string"),
    "tools": _kind(list, name="a list"),
    "tool_choice": _kind(str, dict, name="a string or an object"),
    "parallel_tool_calls": _kind(bool, name="a boolean"),
    "response_format": _kind(dict, name="an object"),
    "stream_options": _kind(dict, name="an object"),
    "metadata": _kind(dict, name="an object"),
    "logprobs": _kind(bool, name="a boolean"),
    "top_logprobs": _integer(0),
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
    for name, check in FIELDS.items():
        value = body.get(name)
        if value is None:
            continue
        problem = check(value)
        if problem:
            raise _invalid(name, problem)
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
    if content is None or isinstance(content, str):
        return None
    if isinstance(content, list) and all(
        isinstance(part, dict) and isinstance(part.get("type"), str) for part in content
    ):
        return None
    return "content must be a string, a list of typed parts, or null"


def _invalid(param: str, problem: str) -> ApiError:
    return ApiError(
        422, f"Invalid request: '{param}' {problem}.", code="invalid_value", param=param
    )
