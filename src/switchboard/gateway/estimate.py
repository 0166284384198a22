"""What a request needs, read from its (OpenAI-format) body: size, streaming, tools, vision, JSON.

The token estimate is deliberately simple and documented, since it only picks models that fit:
about four characters a token for text, 4 tokens of overhead per message, 765 tokens per image
(OpenAI's cost of a 1024×1024 high-detail image), plus the requested `max_tokens` /
`max_completion_tokens` (the answer must fit in the context window too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 765


def estimate_tokens(body: Mapping[str, Any]) -> int:
    """The prompt's estimate and the requested output: what must fit in the context window."""
    return estimate_prompt_tokens(body) + (requested_output_tokens(body) or 0)


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """The estimate of the prompt alone (for a provider that reports no usage, and what a
    request reserves of its tokens per minute before its answer)."""
    chars = 0
    tokens = 0
    for message in body.get("messages") or ():
        if not isinstance(message, Mapping):
            continue
        tokens += TOKENS_PER_MESSAGE
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, Mapping):
                    continue
                if part.get("type") == "image_url":
                    tokens += TOKENS_PER_IMAGE
                else:
                    chars += len(str(part.get("text") or ""))
        for call in message.get("tool_calls") or ():
            if isinstance(call, Mapping):
                chars += len(str(call.get("function") or ""))
    for tool in body.get("tools") or ():
        chars += len(str(tool))
    return tokens + tokens_for_chars(chars)


def tokens_for_chars(chars: int) -> int:
    """The estimate for `chars` characters of text: `CHARS_PER_TOKEN` a token, rounded up."""
    return -(-chars // CHARS_PER_TOKEN)


def answer_chars(message: Mapping[str, Any]) -> int:
    """The characters of an answer's text and tool-call arguments, in a message or in a
    stream's delta: what a provider that reports no usage is billed by."""
    chars = len(message.get("content") or "")
    for call in message.get("tool_calls") or ():
        chars += len((call.get("function") or {}).get("arguments") or "")
    return chars


def requested_output_tokens(body: Mapping[str, Any]) -> int | None:
    """The most tokens the client lets the answer have (`max_completion_tokens`, else
    `max_tokens`), when it says."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value:
            return value
    return None


def wants_tools(body: Mapping[str, Any]) -> bool:
    return bool(body.get("tools") or body.get("functions"))


def wants_vision(body: Mapping[str, Any]) -> bool:
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list) and any(
            isinstance(part, Mapping) and part.get("type") == "image_url" for part in content
        ):
            return True
    return False


def wants_json(body: Mapping[str, Any]) -> bool:
    response_format = body.get("response_format")
    return isinstance(response_format, Mapping) and response_format.get("type") in (
        "json_object",
        "json_schema",
    )
