"""Anthropic's Messages API, provider direction: an OpenAI-format request served by Anthropic.

Pure translation, no I/O, used by the Anthropic adapter; `anthropic_surface` is the other
direction. The stream translator and the shared vocabularies live in private modules and are
re-exported here.

What Anthropic cannot honour is rejected, never dropped: `n` > 1, `seed`, non-zero
`presence_penalty` / `frequency_penalty`, `logprobs`, `logit_bias`, `response_format`
json_schema, `reasoning_effort`, audio, `temperature` above 1, and any parameter this module does
not know. A parameter set to the value that asks for nothing (`n: 1`, penalties 0,
`logprobs: false`, `store: false`) is accepted, since many clients send those defaults.
Accepted without an Anthropic counterpart, because they do not change the answer: a message's
`name`, an image's `detail`, `stream_options` (Anthropic always reports usage) and
`prompt_cache_key`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import orjson

from switchboard.providers._anthropic_streams import AnthropicStreamToOpenAI
from switchboard.providers._anthropic_vocabulary import (
    AnthropicErrorType,
    FinishReason,
    StopReason,
    anthropic_error_to_openai,
    finish_reason_for,
    usage_from_anthropic,
)
from switchboard.providers.base import (
    JSON,
    UnsupportedParameterError,
    refuse_unknown_parameters,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "AnthropicErrorType",
    "AnthropicStreamToOpenAI",
    "FinishReason",
    "StopReason",
    "UnsupportedParameterError",
    "anthropic_error_to_openai",
    "anthropic_response_to_openai",
    "openai_request_to_anthropic",
]

DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires `max_tokens`; OpenAI clients often leave it out."""

# Translated below, one by one.
_TRANSLATED = frozenset(
    {
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p",
        "stop", "tools", "tool_choice", "parallel_tool_calls", "user", "safety_identifier",
        "stream", "stream_options", "response_format", "prompt_cache_key",
    }
)  # fmt: skip

# Parameters with no Anthropic counterpart, accepted only at the value that asks for nothing.
_NEUTRAL: Mapping[str, Callable[[Any], bool]] = MappingProxyType(
    {
        "n": lambda v: v in (None, 1),
        "presence_penalty": lambda v: v in (None, 0),
        "frequency_penalty": lambda v: v in (None, 0),
        "logprobs": lambda v: v in (None, False),
        "top_logprobs": lambda v: v in (None, 0),
        "logit_bias": lambda v: not v,
        "seed": lambda v: v is None,
        "store": lambda v: v in (None, False),
        "metadata": lambda v: not v,
        "service_tier": lambda v: v in (None, "auto", "default"),
        "modalities": lambda v: v in (None, ["text"]),
        "audio": lambda v: v is None,
        "prediction": lambda v: v is None,
        "reasoning_effort": lambda v: v is None,
        "verbosity": lambda v: v is None,
        "web_search_options": lambda v: v is None,
        "functions": lambda v: not v,
        "function_call": lambda v: v is None,
    }
)

# json_object is honoured with an instruction rather than rejected: Anthropic has no JSON mode
# that needs no schema, and routing already sends JSON-mode requests only to models declared
# to support it. The instruction asks for JSON; unlike OpenAI's mode it does not guarantee it.
JSON_OBJECT_INSTRUCTION = "Respond with a single valid JSON object and nothing else."

_DATA_URL = re.compile(r"^data:(?P<media_type>[^;,]+)(?:;[^;,]*)*?;base64,(?P<data>.*)$", re.S)


def anthropic_response_to_openai(body: JSON, *, created: int | None = None) -> JSON:
    """A `chat.completion` for an Anthropic `message`. Anthropic's message has no timestamp:
    `created` is the time it arrived (now, unless given)."""
    texts: list[str] = []
    tool_calls: list[JSON] = []
    for block in body.get("content") or []:
        if block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
        elif block.get("type") == "tool_use":
            tool_calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
        # Other blocks (thinking, server tools) answer parameters this module never sends.
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    elif message["content"] is None:
        message["content"] = ""
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": str(finish_reason_for(body.get("stop_reason"))),
    }
    return {
        "id": body.get("id"),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": body.get("model"),
        "choices": [choice],
        "usage": usage_from_anthropic(body.get("usage")).to_openai(),
    }


def openai_request_to_anthropic(body: JSON, model: str) -> JSON:
    """The Messages API request for an OpenAI Chat Completions request, sent to `model`.

    Raises UnsupportedParameterError for anything Anthropic cannot honour (see the module's
    docstring)."""
    _check_parameters(body)
    system, messages = _messages(body.get("messages"))
    request: JSON = {"model": model, "messages": messages}
    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
    request["max_tokens"] = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    if _response_format(body.get("response_format")) == "json_object":
        system.append(JSON_OBJECT_INSTRUCTION)
    if system:
        request["system"] = "\n\n".join(system)
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            request[name] = body[name]
    stop = body.get("stop")
    if stop:
        request["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("tools"):
        request["tools"] = [_tool(tool, i) for i, tool in enumerate(body["tools"])]
    tool_choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if tool_choice is not None:
        request["tool_choice"] = tool_choice
    user = body.get("safety_identifier") or body.get("user")
    if user:
        request["metadata"] = {"user_id": str(user)}
    if body.get("stream"):
        request["stream"] = True
    return request


def _check_parameters(body: JSON) -> None:
    refuse_unknown_parameters(
        body, translated=_TRANSLATED, neutral=_NEUTRAL, who="Anthropic models"
    )
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and temperature > 1:
        raise UnsupportedParameterError(
            "temperature", f"Anthropic models accept `temperature` from 0 to 1, not {temperature}"
        )


def _response_format(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, Mapping) else value
    if kind in (None, "text", "json_object"):
        return kind if isinstance(kind, str) else None
    raise UnsupportedParameterError(
        "response_format", f"Anthropic models cannot honour `response_format` type {kind!r}"
    )


def _messages(messages: Any) -> tuple[list[str], list[JSON]]:
    """The system prompt's parts and Anthropic's alternating turns. System and developer
    messages become the system prompt wherever they stand; tool results become user turns;
    consecutive turns of one role are merged, as Anthropic requires alternation."""
    if not isinstance(messages, list):
        raise UnsupportedParameterError("messages", "`messages` must be a list")
    system: list[str] = []
    turns: list[JSON] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role = message.get("role") if isinstance(message, Mapping) else None
        if role in ("system", "developer"):
            system.append(_plain_text(message.get("content"), f"{where}.content"))
            continue
        if role == "user":
            blocks = _user_blocks(message.get("content"), f"{where}.content")
        elif role == "assistant":
            blocks = _assistant_blocks(message, where)
        elif role == "tool":
            blocks = [_tool_result(message, where)]
            role = "user"
        else:
            raise UnsupportedParameterError(
                f"{where}.role", f"`{where}.role` {role!r} is not supported by Anthropic"
            )
        if not blocks:
            continue  # an empty turn says nothing, and Anthropic rejects empty text blocks
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _plain_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, Mapping) and p.get("type") == "text" for p in content
    ):
        return "".join(str(p.get("text") or "") for p in content)
    raise UnsupportedParameterError(where, f"`{where}` may contain only text here")


def _user_blocks(content: Any, where: str) -> list[JSON]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise UnsupportedParameterError(where, f"`{where}` must be a string or a list of parts")
    blocks: list[JSON] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": str(part["text"])})
        elif kind == "image_url":
            blocks.append(_image_block(part.get("image_url"), f"{where}[{j}]"))
        elif kind == "file":
            blocks.append(_document_block(part.get("file"), f"{where}[{j}]"))
        else:
            raise UnsupportedParameterError(
                f"{where}[{j}]", f"`{where}[{j}]`: part type {kind!r} is not supported by Anthropic"
            )
    return blocks


def _image_block(image: Any, where: str) -> JSON:
    # `detail` is a rendering hint with no Anthropic counterpart; the image is sent either way.
    url = image.get("url") if isinstance(image, Mapping) else image
    if isinstance(url, str) and url.startswith("data:"):
        media_type, data = _data_url(url, where)
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise UnsupportedParameterError(where, f"`{where}` needs an http(s) or base64 data: URL")


def _document_block(file: Any, where: str) -> JSON:
    data_url = file.get("file_data") if isinstance(file, Mapping) else None
    if not isinstance(data_url, str):
        raise UnsupportedParameterError(where, f"`{where}`: only inline `file_data` is supported")
    media_type, data = _data_url(data_url, where)
    return {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": data},
    }


def _data_url(url: str, where: str) -> tuple[str, str]:
    match = _DATA_URL.match(url)
    if match is None:
        raise UnsupportedParameterError(where, f"`{where}` must be a base64 data: URL")
    return match["media_type"], match["data"]


def _assistant_blocks(message: Mapping[str, Any], where: str) -> list[JSON]:
    content = message.get("content")
    blocks: list[JSON] = []
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        # A refusal part is what the assistant said: keep its words as text.
        text = "".join(
            str(p.get("text") or p.get("refusal") or "") for p in content if isinstance(p, Mapping)
        )
    else:
        text = ""
    if text:
        blocks.append({"type": "text", "text": text})
    for j, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": _arguments(function.get("arguments"), f"{where}.tool_calls[{j}]"),
            }
        )
    return blocks


def _arguments(arguments: Any, where: str) -> Any:
    if arguments in (None, ""):
        return {}
    try:
        value = orjson.loads(arguments) if isinstance(arguments, str | bytes) else arguments
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise UnsupportedParameterError(
            f"{where}.function.arguments", f"`{where}.function.arguments` must be a JSON object"
        )
    return value


def _tool_result(message: Mapping[str, Any], where: str) -> JSON:
    block: JSON = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    content = message.get("content")
    if isinstance(content, list):
        text = _plain_text(content, f"{where}.content")
        if text:
            block["content"] = [{"type": "text", "text": text}]
    elif content:
        block["content"] = str(content)
    return block


def _tool(tool: Any, i: int) -> JSON:
    if not isinstance(tool, Mapping) or tool.get("type") != "function":
        raise UnsupportedParameterError(f"tools[{i}]", f"`tools[{i}]`: only function tools work")
    function = tool.get("function") or {}
    out: JSON = {
        "name": function.get("name"),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    if function.get("strict"):
        out["strict"] = True
    return out


def _tool_choice(choice: Any, parallel: Any) -> JSON | None:
    if choice is None:
        result: JSON | None = None
    elif choice in ("auto", "none"):
        result = {"type": choice}
    elif choice == "required":
        result = {"type": "any"}
    elif isinstance(choice, Mapping) and choice.get("type") == "function":
        result = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    else:
        raise UnsupportedParameterError("tool_choice", f"`tool_choice` {choice!r} is not known")
    if parallel is False:
        result = result or {"type": "auto"}
        if result["type"] != "none":
            result["disable_parallel_tool_use"] = True
    return result
