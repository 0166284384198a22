"""`POST /v1/messages`: Anthropic's Messages API, so the official `anthropic` SDK works against
Switchboard; any provider may serve it (the body is translated to the gateway's format and the
answer back)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from switchboard.api.anthropic.validation import validate_messages
from switchboard.api.errors import to_api_error
from switchboard.api.serving import Surface, serve
from switchboard.gateway.estimate import estimate_prompt_tokens
from switchboard.gateway.stream_session import StreamSession
from switchboard.providers._sse import encode_event
from switchboard.providers.anthropic_surface import (
    OpenAIStreamToAnthropic,
    anthropic_error_body,
    anthropic_request_to_openai,
    openai_response_to_anthropic,
)
from switchboard.providers.base import JSON
from switchboard.vocabulary import ApiSurface

router = APIRouter()


def _answer(answer: JSON, client_body: JSON) -> bytes:
    return orjson.dumps(
        openai_response_to_anthropic(answer, str(answer.get("model") or client_body["model"]))
    )


async def _stream(session: StreamSession, client_body: JSON) -> AsyncIterator[bytes]:
    translator = OpenAIStreamToAnthropic(
        session.served.candidate.model.model_id,
        input_tokens=estimate_prompt_tokens(session.body),
    )
    try:
        async for chunk in session.chunks():
            for event, data in translator.feed(chunk):
                yield encode_event(orjson.dumps(data), event)
    except Exception as error:  # the stream broke after it began: tell the client in-band
        api_error = to_api_error(error)
        yield encode_event(
            orjson.dumps(anthropic_error_body(api_error.status, api_error.message)), "error"
        )
        return
    for event, data in translator.finish():
        yield encode_event(orjson.dumps(data), event)


ANTHROPIC_MESSAGES = Surface(
    name=ApiSurface.ANTHROPIC,
    validate=validate_messages,
    to_gateway=anthropic_request_to_openai,
    render_answer=_answer,
    render_stream=_stream,
)


@router.post("/v1/messages", summary="Create a message (Anthropic-compatible)")
async def messages(request: Request) -> Response:
    return await serve(request, ANTHROPIC_MESSAGES)
