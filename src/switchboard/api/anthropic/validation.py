"""Checking a Messages API body's shape before anything is routed, declared as a table like
the Chat Completions one (`openai.validation`), to the ranges Anthropic declares (`temperature`
0 to 1, `top_k` a whole number…). Anthropic answers a bad field with a 400
`invalid_request_error` whose message starts with the field's path, and so does this surface.
Which parameters the gateway can honour at all is the translation's to say
(`providers.anthropic_surface`): this only checks what a value is."""

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
    strings,
    typed_blocks,
)

ROLES = ("user", "assistant")


def _system(value: Any) -> str | None:
    if isinstance(value, str) or typed_blocks(value):
        return None
    return "must be a string or a list of content blocks"


FIELDS: dict[str, Check] = {
    "max_tokens": integer(1, MAX_TOKENS_VALUE),
    "system": _system,
    "temperature": number(0, 1),
    "top_p": number(0, 1),
    "top_k": integer(0),
    "stop_sequences": strings,
    "stream": kind(bool, name="a boolean"),
    "metadata": kind(dict, name="an object"),
    "tools": kind(list, name="a list"),
    "tool_choice": kind(dict, name="an object"),
    "thinking": kind(dict, name="an object"),
    "service_tier": kind(str, name="a string"),
    "models": non_empty_strings,
}


def validate_messages(body: dict[str, Any]) -> None:
    """Raise a 400 ApiError naming the first field that is missing or has the wrong shape."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _invalid("model", "Field required (a string)")
    if body.get("max_tokens") is None:
        raise _invalid("max_tokens", "Field required (a positive integer)")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages", "Field required (a non-empty list)")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise _invalid(f"messages.{index}.role", "Input should be 'user' or 'assistant'")
        content = message.get("content")
        if not isinstance(content, str) and not typed_blocks(content):
            raise _invalid(
                f"messages.{index}.content", "must be a string or a list of content blocks"
            )
    wrong = first_problem(body, FIELDS)
    if wrong is not None:
        raise _invalid(*wrong)
    user_id = (body.get("metadata") or {}).get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise _invalid("metadata.user_id", "must be a string")


def _invalid(param: str, problem: str) -> ApiError:
    return ApiError(400, f"{param}: {problem}", code="invalid_value", param=param)
