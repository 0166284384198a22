"""Errors on the HTTP surfaces, each in the format its clients expect, mapped in one place.

`/v1/messages` answers in Anthropic's format (`{"type": "error", "error": {…}}`); every other
`/v1/*` path in OpenAI's (`{"error": {"message", "type", "param", "code"}}`); the admin and
BYOK APIs (`/api/…`) in FastAPI's (`{"detail": …}`). No response ever carries a stack trace
or a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from switchboard.errors import InvalidKeyError, KeyStoreUnavailableError, MissingKeyError
from switchboard.gateway.executor import AllFailedError, CallerFaultError, NoRouteError
from switchboard.gateway.token_limits import TokenLimitError
from switchboard.providers.anthropic_surface import anthropic_error_body
from switchboard.providers.base import ErrorKind, UnsupportedParameterError, UpstreamError
from switchboard.routing import NamedModelError, NamedModelProblem

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    """An error answer: status, message, and OpenAI's `code` and `param` when they apply.
    `upstream_body` is a provider's own (OpenAI-format) error, passed on as it is (already
    scrubbed of secrets). `detail` is what operators see of it (the usage record, the log):
    the message, or more than the caller is told."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        upstream_body: dict[str, Any] | None = None,
        detail: str | None = None,
        openai_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.detail = detail or message
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = dict(headers or {})
        self.upstream_body = upstream_body
        self.openai_type = openai_type
        """OpenAI's `type` when it is not the status's usual one (`insufficient_quota`)."""

    @property
    def error_type(self) -> str:
        return self.code or _OPENAI_TYPES.get(self.status, "api_error")


def to_api_error(error: BaseException) -> ApiError:
    """The answer for any exception the gateway raised while serving a request."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, MissingKeyError):
        return ApiError(401, str(error), code="missing_api_key")
    if isinstance(error, InvalidKeyError):
        return ApiError(401, "Invalid, revoked or expired API key.", code="invalid_api_key")
    if isinstance(error, KeyStoreUnavailableError):
        return ApiError(
            503,
            "The API key cannot be verified right now; try again shortly.",
            code="key_store_unavailable",
        )
    if isinstance(error, NamedModelError):
        status = {
            NamedModelProblem.UNKNOWN: 404,
            NamedModelProblem.NOT_ALLOWED: 403,
            NamedModelProblem.CANNOT_SERVE: 400,
        }[error.problem]
        code = "model_not_found" if status == 404 else "model_not_available"
        return ApiError(status, str(error), code=code, param="model")
    if isinstance(error, TokenLimitError):  # a NoRouteError that is the client's to fix
        return ApiError(400, str(error), code=error.code, param=error.param)
    if isinstance(error, NoRouteError):
        return ApiError(503, f"No model is available for this request: {error}", code="no_route")
    if isinstance(error, AllFailedError):
        return _all_failed(error)
    if isinstance(error, UnsupportedParameterError):  # the client's own API cannot say it
        return ApiError(400, error.message, code="unsupported_parameter", param=error.param)
    if isinstance(error, UpstreamError):  # after the answer began: no other candidate now
        return ApiError(
            502, f"The provider failed while answering: {error.message}", code="upstream_error"
        )
    if isinstance(error, CallerFaultError):
        upstream = error.error
        return ApiError(
            upstream.status or 400,
            upstream.message,
            code="upstream_rejected_request",
            upstream_body=upstream.body,
        )
    return ApiError(500, "Internal error: the request could not be served.", code="internal_error")


def _all_failed(error: AllFailedError) -> ApiError:
    """The caller learns which deployments failed and how; the providers' own words (and
    which keys are missing) go to the usage record and the log (`detail`)."""
    trail = error.trail
    tried = ", ".join(f"{entry.deployment} ({entry.kind})" for entry in trail.failures)
    detail = trail.detail()
    if error.last.kind is ErrorKind.RATE_LIMITED:
        headers = {}
        if error.last.retry_after_s is not None:
            headers["retry-after"] = str(max(1, round(error.last.retry_after_s)))
        return ApiError(
            429,
            f"Every candidate is rate limited. Tried: {tried}",
            code="rate_limited",
            headers=headers,
            detail=detail,
        )
    status = 504 if error.last.kind is ErrorKind.TIMEOUT else 502
    return ApiError(
        status, f"Every candidate failed. Tried: {tried}", code="upstream_error", detail=detail
    )


def _upstream_message(error: ApiError) -> str | None:
    """A provider's own error message, as OpenAI clients see it passed on unchanged."""
    inner = (error.upstream_body or {}).get("error")
    message = inner.get("message") if isinstance(inner, dict) else None
    return message if isinstance(message, str) and message else None


def render(request: Request, error: ApiError, headers: Mapping[str, str] | None = None) -> Response:
    """`error` in the format of the surface `request` came to."""
    body: dict[str, Any]
    if request.url.path.startswith("/api/"):  # the admin and BYOK APIs answer FastAPI-style
        body = {"detail": error.message}
    elif request.url.path.startswith("/v1/messages"):
        body = anthropic_error_body(error.status, _upstream_message(error) or error.message)
    elif error.upstream_body is not None and isinstance(error.upstream_body.get("error"), dict):
        body = error.upstream_body
    else:
        body = {
            "error": {
                "message": error.message,
                "type": error.openai_type or _OPENAI_TYPES.get(error.status, "api_error"),
                "param": error.param,
                "code": error.code,
            }
        }
    return Response(
        orjson.dumps(body),
        status_code=error.status,
        headers={**error.headers, **(headers or {})},
        media_type="application/json",
    )
