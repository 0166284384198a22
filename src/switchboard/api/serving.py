"""One request through the gateway, whatever the surface: authenticate, read, route, call,
answer, and make sure exactly one usage record is written. A `Surface` supplies what differs
between the OpenAI and Anthropic APIs: checking the body, translating it to the gateway's
(OpenAI) format, and rendering answers and streams back."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from switchboard.api.errors import ApiError, render, to_api_error
from switchboard.api.http import (
    authenticate,
    client_request_id,
    header_value,
    read_json_object,
    request_meta,
)
from switchboard.api.rate_limits import rate_limit_headers, refused, unavailable
from switchboard.api.streaming import EventStreamResponse
from switchboard.gateway.executor import Served
from switchboard.gateway.keys import Principal
from switchboard.gateway.service import Gateway
from switchboard.gateway.stream_session import StreamSession
from switchboard.gateway.usage_records import RequestMeta, Route, failure_record
from switchboard.limits import LimitRefusedError, LimitsUnavailableError
from switchboard.providers.base import JSON
from switchboard.vocabulary import TASK_TYPE_PATTERN, ApiSurface, normalize_task_type

TASK_HEADER = "x-task-type"
_TASK_TYPE = re.compile(TASK_TYPE_PATTERN)


@dataclass(frozen=True, slots=True)
class Surface:
    name: ApiSurface
    validate: Callable[[JSON], None]
    to_gateway: Callable[[JSON], JSON]
    """The client's body in the gateway's (OpenAI) format."""
    render_answer: Callable[[JSON, JSON], bytes]
    """(the gateway's answer, the client's body) → the response body."""
    render_stream: Callable[[StreamSession, JSON], AsyncIterator[bytes]]
    """(the stream, the client's body) → the SSE bytes."""


async def serve(request: Request, surface: Surface) -> Response:
    gateway: Gateway = request.app.state.gateway  # the hot path: no dependency injection
    meta = request_meta(request, gateway.new_request_id(), surface.name)
    # Every answer, errors too, names the request id that keys its usage record.
    echo = {
        "x-request-id": client_request_id(request, meta),
        "x-switchboard-request-id": meta.request_id,
        "request-id": meta.request_id,  # where Anthropic's SDK looks for it
    }
    try:
        principal = await authenticate(request, gateway)
    except Exception as error:  # not yet a user's request: nobody to bill, nothing recorded
        return render(request, to_api_error(error), echo)
    route: Route | None = None
    try:
        client_body = await read_json_object(request, gateway.settings.max_request_bytes)
        surface.validate(client_body)
        body = surface.to_gateway(client_body)
        body_task_type = _pop_task_type(body)  # even when the header wins: not for providers
        task_type = _checked_task_type(request.headers.get(TASK_HEADER) or body_task_type)
        route = await gateway.route(principal, body, task_type)
        route = gateway.limited(route, meta.request_id, principal, body)
        if body.get("stream"):
            session = await gateway.open_stream(meta, principal, route, body)
            return EventStreamResponse(
                surface.render_stream(session, client_body),
                headers={
                    **echo,
                    **_served_headers(meta, session.served),
                    **_limit_headers(request, route),
                    "cache-control": "no-cache",
                },
            )
        completion, served = await gateway.complete(meta, principal, route, body)
        return Response(
            surface.render_answer(completion.body, client_body),
            media_type="application/json",
            headers={**echo, **_served_headers(meta, served), **_limit_headers(request, route)},
        )
    except Exception as error:
        api_error = _limit_error(request, error) or to_api_error(error)
        _record_failure(gateway, meta, principal, route, error, api_error)
        return render(request, api_error, echo)


def _record_failure(
    gateway: Gateway,
    meta: RequestMeta,
    principal: Principal,
    route: Route | None,
    error: BaseException,
    api_error: ApiError,
) -> None:
    trail = getattr(error, "trail", None)
    served: Served | None = getattr(error, "served", None)
    if trail is None and served is not None:
        trail = served.trail
    gateway.record(
        failure_record(
            meta,
            principal,
            status_code=api_error.status,
            error_type=api_error.code or api_error.error_type,
            error_message=api_error.detail,
            route=route,
            trail=trail,
            served=served,
        ),
        meta,
        trail,
    )


def _anthropic(request: Request) -> bool:
    path: str = request.scope["path"]  # not `request.url`: every answer would build one
    return path.startswith("/v1/messages")


def _limit_headers(request: Request, route: Route) -> dict[str, str]:
    if route.gate is None:
        return {}
    return rate_limit_headers(route.gate.decision, anthropic=_anthropic(request))


def _limit_error(request: Request, error: BaseException) -> ApiError | None:
    """A refusal by a budget or a rate limit, in the surface's terms (its headers)."""
    if isinstance(error, LimitRefusedError):
        return refused(error, anthropic=_anthropic(request))
    if isinstance(error, LimitsUnavailableError):
        return unavailable(error)
    return None


def _served_headers(meta: RequestMeta, served: Served) -> dict[str, str]:
    candidate, trail = served.candidate, served.trail
    reason = candidate.route_reason
    if summary := trail.summary():
        reason += f"; {summary}"
    overhead_ms = (time.perf_counter() - meta.started - trail.upstream_s) * 1000
    values = {
        "x-switchboard-request-id": meta.request_id,
        "x-switchboard-model": candidate.model.model_id,
        "x-switchboard-provider": candidate.provider.slug,
        "x-switchboard-key-source": str(served.key_source),
        "x-switchboard-route-reason": reason,
        "x-switchboard-attempts": str(trail.attempts),
        "x-switchboard-overhead-ms": f"{max(0.0, overhead_ms):.2f}",
    }
    return {name: header_value(value) for name, value in values.items()}


def _checked_task_type(task_type: str | None) -> str | None:
    """Task types are short words (`chat`, `code`, `summarize`): anything else is a 400, not a
    value that would later be cut to fit the usage record or read as a spreadsheet formula."""
    if task_type is None:
        return None
    normalized = normalize_task_type(task_type)
    if _TASK_TYPE.match(normalized):
        return normalized
    raise ApiError(
        400,
        "Invalid task type: use 1 to 50 letters, digits, '_', '-' or '.', starting with a "
        "letter or digit (X-Task-Type header or metadata.task_type).",
        code="invalid_task_type",
        param="task_type",
    )


def _pop_task_type(body: JSON) -> str | None:
    """`metadata.task_type` is for the gateway; the provider does not see it."""
    metadata: Any = body.get("metadata")
    if not isinstance(metadata, dict) or "task_type" not in metadata:
        return None
    remaining = {k: v for k, v in metadata.items() if k != "task_type"}
    if remaining:
        body["metadata"] = remaining
    else:
        body.pop("metadata")
    task = metadata["task_type"]
    return task if isinstance(task, str) else None
