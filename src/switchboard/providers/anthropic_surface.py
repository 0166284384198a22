"""Anthropic's Messages API, client direction: an Anthropic SDK client served by any provider.

The gateway's `/v1/messages` endpoint turns the client's request into the gateway's OpenAI
format (`anthropic_request_to_openai`), and the OpenAI-format answer back into a Messages
`message` (`openai_response_to_anthropic`) or stream (`OpenAIStreamToAnthropic`). Pure, no I/O.

Rejected with UnsupportedParameterError, never dropped: `top_k`, `thinking` (unless disabled),
`output_config`, server tools (web search, code execution, …), MCP servers, containers,
context management, image and document sources other than base64 or URL, images inside tool
results, and any parameter this module does not know. Accepted without effect, because they
change what a request costs and not what it answers: `cache_control` wherever it appears, and
`service_tier` `standard_only`. A tool result marked `is_error` keeps that meaning by starting
its text with "Error: ", since OpenAI's tool messages have no such flag.

What the gateway itself reads passes through as on the OpenAI surface: a `models` fallback list,
and `metadata.task_type` (the gateway takes it out before any provider sees the request).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import orjson

from switchboard.providers._anthropic_streams import OpenAIStreamToAnthropic, message_id_for
from switchboard.providers._anthropic_vocabulary import (
    anthropic_error_body,
    openai_error_to_anthropic,
    stop_reason_for,
    usage_to_anthropic,
)
from switchboard.providers.base import (
    GATEWAY_FIELDS,
    JSON,
    ErrorKind,
    UnsupportedParameterError,
    UpstreamError,
    Usage,
    refuse_unknown_parameters,
)

__all__ = [
    "OpenAIStreamToAnthropic",
    "anthropic_error_body",
    "anthropic_request_to_openai",
    "openai_error_to_anthropic",
    "openai_response_to_anthropic",
]

_TRANSLATED = frozenset(
    {
        "model", "messages", "max_tokens", "system", "temperature", "top_p", "stop_sequences",
        "tools", "tool_choice", "metadata", "stream", "cache_control",
    }
)  # fmt: skip

# Parameters the OpenAI format cannot carry, accepted only at the value that asks for nothing.
_NEUTRAL: Mapping[str, Callable[[Any], bool]] = MappingProxyType(
    {
        "top_k": lambda v: v is None,
        "thinking": lambda v: v is None or (isinstance(v, Mapping) and v.get("type") == "disabled"),
        "service_tier": lambda v: v in (None, "auto", "standard_only"),
        "output_config": lambda v: not v,
        "container": lambda v: v is None,
        "context_management": lambda v: v is None,
        "mcp_servers": lambda v: not v,
        "inference_geo": lambda v: v is None,
        "speed": lambda v: v in (None, "standard"),
    }
)

_TOOL_FIELDS = frozenset({"name", "description", "input_schema", "type", "strict", "cache_control"})


def anthropic_request_to_openai(body: JSON) -> JSON:
    """The gateway's OpenAI-format request for a Messages API request. `model` is kept as
    the client named it: the gateway resolves it like any other model name."""
    refuse_unknown_parameters(body, translated=_TRANSLATED, neutral=_NEUTRAL, who="this gateway")
    request: JSON = {
        "model": body.get("model"),
        "messages": _system(body.get("system")) + _messages(body.get("messages")),
    }
    if body.get("max_tokens") is not None:
        request["max_completion_tokens"] = body["max_tokens"]
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            request[name] = body[name]
    if body.get("stop_sequences"):
        request["stop"] = list(body["stop_sequences"])
    if body.get("tools"):
        request["tools"] = [_tool(tool, i) for i, tool in enumerate(body["tools"])]
    request.update(_tool_choice(body.get("tool_choice")))
    metadata = body.get("metadata") or {}
    unknown = set(metadata) - {"user_id", "task_type"}
    if unknown:
        raise UnsupportedParameterError("metadata", f"unknown `metadata` fields: {sorted(unknown)}")
    if metadata.get("user_id"):
        request["user"] = str(metadata["user_id"])
    if "task_type" in metadata:
        request["metadata"] = {"task_type": metadata["task_type"]}
    request.update({name: body[name] for name in GATEWAY_FIELDS if name in body})
    if body.get("stream"):
        # Anthropic streams always report usage, and message_delta needs it.
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
    return request


def openai_response_to_anthropic(body: JSON, model: str) -> JSON:
    """A Messages API `message` for a `chat.completion`, reported as served by `model`."""
    choices = body.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    content: list[JSON] = []
    text = _text_of(message.get("content")) or message.get("refusal")
    if text:
        content.append({"type": "text", "text": str(text)})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": _tool_input(function.get("arguments")),
            }
        )
    return {
        "id": message_id_for(body.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": str(stop_reason_for(choice.get("finish_reason"))),
        "stop_sequence": None,
        "usage": usage_to_anthropic(Usage.from_openai(body.get("usage")) or Usage()),
    }


def _system(system: Any) -> list[JSON]:
    if not system:
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}]
    if isinstance(system, list):
        return [
            {"role": "system", "content": _text_block(block, f"system[{i}]")}
            for i, block in enumerate(system)
        ]
    raise UnsupportedParameterError("system", "`system` must be a string or text blocks")


def _messages(messages: Any) -> list[JSON]:
    if not isinstance(messages, list):
        raise UnsupportedParameterError("messages", "`messages` must be a list")
    out: list[JSON] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role = message.get("role") if isinstance(message, Mapping) else None
        if role == "user":
            out += _user_messages(message.get("content"), f"{where}.content")
        elif role == "assistant":
            out.append(_assistant_message(message.get("content"), f"{where}.content"))
        else:
            raise UnsupportedParameterError(f"{where}.role", f"`{where}.role` {role!r} is unknown")
    return out


def _user_messages(content: Any, where: str) -> list[JSON]:
    """One Anthropic user turn as OpenAI messages: each tool_result becomes a `tool` message,
    in place, and the other blocks user messages around them."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[JSON] = []
    parts: list[JSON] = []
    for kind, block, at in _blocks(content, where):
        if kind == "tool_result":
            if parts:
                out.append({"role": "user", "content": _parts_content(parts)})
                parts = []
            out.append(_tool_message(block, at))
        elif kind == "text":
            parts.append({"type": "text", "text": _text_block(block, at)})
        elif kind == "image":
            parts.append(_image_part(block, at))
        elif kind == "document":
            parts.append(_file_part(block, at))
        else:
            raise _unsupported_block(kind, at)
    if parts:
        out.append({"role": "user", "content": _parts_content(parts)})
    return out


def _blocks(content: Any, where: str) -> list[tuple[Any, Any, str]]:
    """A turn's content blocks (content that is not a string), each as (its type, the block,
    where it is); anything but a list is refused."""
    if not isinstance(content, list):
        raise UnsupportedParameterError(where, f"`{where}` must be a string or a list of blocks")
    return [
        (block.get("type") if isinstance(block, Mapping) else None, block, f"{where}[{j}]")
        for j, block in enumerate(content)
    ]


def _unsupported_block(kind: Any, at: str) -> UnsupportedParameterError:
    return UnsupportedParameterError(at, f"`{at}`: block type {kind!r} is not supported")


def _parts_content(parts: list[JSON]) -> str | list[JSON]:
    # Plain text travels as a string: several OpenAI-compatible servers accept nothing else.
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _text_block(block: Any, where: str) -> str:
    if not isinstance(block, Mapping) or block.get("type") != "text":
        raise UnsupportedParameterError(where, f"`{where}` must be a text block")
    return str(block.get("text") or "")


def _image_part(block: Mapping[str, Any], where: str) -> JSON:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif source.get("type") == "url":
        url = str(source.get("url"))
    else:
        raise UnsupportedParameterError(
            where, f"`{where}`: image source {source.get('type')!r} is not supported"
        )
    return {"type": "image_url", "image_url": {"url": url}}


def _file_part(block: Mapping[str, Any], where: str) -> JSON:
    source = block.get("source") or {}
    if source.get("type") != "base64":
        raise UnsupportedParameterError(where, f"`{where}`: only base64 documents are supported")
    file = {"file_data": f"data:{source.get('media_type')};base64,{source.get('data')}"}
    if block.get("title"):
        file["filename"] = str(block["title"])
    return {"type": "file", "file": file}


def _tool_message(block: Mapping[str, Any], where: str) -> JSON:
    content = block.get("content")
    if isinstance(content, list):
        texts = [_text_block(b, f"{where}.content[{k}]") for k, b in enumerate(content)]
        text = "".join(texts)
    else:
        text = str(content or "")
    if block.get("is_error"):
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text}


def _assistant_message(content: Any, where: str) -> JSON:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[JSON] = []
    for kind, block, at in _blocks(content, where):
        if kind == "text":
            texts.append(_text_block(block, at))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
        else:
            raise _unsupported_block(kind, at)
    message: JSON = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""
    return message


def _tool(tool: Any, i: int) -> JSON:
    if not isinstance(tool, Mapping) or tool.get("type") not in (None, "custom"):
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        raise UnsupportedParameterError(
            f"tools[{i}]", f"`tools[{i}]`: server tool {kind!r} is not supported"
        )
    unknown = set(tool) - _TOOL_FIELDS
    if unknown:
        raise UnsupportedParameterError(
            f"tools[{i}]", f"`tools[{i}]`: fields {sorted(unknown)} are not supported"
        )
    function: JSON = {
        "name": tool.get("name"),
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict"):
        function["strict"] = True
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> JSON:
    if choice is None:
        return {}
    kind = choice.get("type") if isinstance(choice, Mapping) else None
    if kind in ("auto", "none"):
        result: JSON = {"tool_choice": kind}
    elif kind == "any":
        result = {"tool_choice": "required"}
    elif kind == "tool":
        result = {"tool_choice": {"type": "function", "function": {"name": choice.get("name")}}}
    else:
        raise UnsupportedParameterError("tool_choice", f"`tool_choice` type {kind!r} is not known")
    if choice.get("disable_parallel_tool_use"):
        result["parallel_tool_calls"] = False
    return result


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, Mapping))
    return str(content or "")


def _tool_input(arguments: Any) -> JSON:
    """A tool call's arguments as the object Anthropic's `input` must be. A model that wrote
    something else failed at its task: that is the provider's error, not the client's."""
    if arguments in (None, ""):
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise UpstreamError(
            ErrorKind.PROTOCOL, "the model's tool call arguments are not a JSON object"
        )
    return value
