"""`POST /v1/chat/completions`: OpenAI's Chat Completions API, served by any provider."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from switchboard.api.errors import to_api_error
from switchboard.api.openai.validation import validate_chat
from switchboard.api.serving import Surface, serve
from switchboard.gateway.stream_session import StreamSession
from switchboard.providers._sse import encode_event
from switchboard.providers.base import JSON
from switchboard.vocabulary import ApiSurface

router = APIRouter()

DONE = encode_event(b"[DONE]")


def _as_is(body: JSON) -> JSON:
    return dict(body)


def _answer(answer: JSON, _client_body: JSON) -> bytes:
    return orjson.dumps(answer)


async def _stream(session: StreamSession, client_body: JSON) -> AsyncIterator[bytes]:
    """The chunks as SSE. The gateway always asks providers for usage; the usage-only chunk is
    passed on only to clients that asked for it (`stream_options.include_usage`)."""
    wants_usage = bool((client_body.get("stream_options") or {}).get("include_usage"))
    try:
        async for chunk in session.chunks():
            if not wants_usage and chunk.get("usage") and not chunk.get("choices"):
                continue
            if not wants_usage and "usage" in chunk:
                chunk = {k: v for k, v in chunk.items() if k != "usage"}
            yield encode_event(orjson.dumps(chunk))
    except Exception as error:  # the stream broke after it began: tell the client in-band
        api_error = to_api_error(error)
        body = {"error": {"message": api_error.message, "type": api_error.error_type}}
        yield encode_event(orjson.dumps(body))
        return
    yield DONE


OPENAI_CHAT = Surface(
    name=ApiSurface.OPENAI,
    validate=validate_chat,
    to_gateway=_as_is,
    render_answer=_answer,
    render_stream=_stream,
)


@router.post("/v1/chat/completions", summary="Create a chat completion (OpenAI-compatible)")
async def chat_completions(request: Request) -> Response:
    return await serve(request, OPENAI_CHAT)
