"""The domain's errors (`switchboard.errors`) as the admin and BYOK APIs answer them, in
FastAPI's own shapes: `{"detail": "…"}` for 404, 409 and 503, and for 422 the list a request
validation error has, naming the field (`{"detail": [{"loc": ["body", "base_url"], "msg": …,
"type": "value_error"}]}`).

`create_app` registers `DOMAIN_ERROR_HANDLERS` once, so a route calls its service and lets
these errors go: no route catches one. A 422 here never carries the field's input (a
validation error of FastAPI's may): the service that refused it cannot know whether it is a
secret. The gateway's own surfaces (`/v1/…`) never let these errors out; they answer every
error in their clients' format (`api.errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, status
from fastapi.responses import JSONResponse, Response

from switchboard.errors import (
    ConfigurationError,
    ConflictError,
    InvalidFieldError,
    NotFoundError,
    PriceMapError,
)

Handler = Callable[[Request, Any], Coroutine[Any, Any, Response]]
"""What FastAPI takes as an exception handler (the error's type is the handler's own)."""


def _detail(status_code: int) -> Handler:
    async def answer(request: Request, error: Exception) -> Response:
        return JSONResponse({"detail": str(error)}, status_code=status_code)

    return answer


async def _invalid_field(request: Request, error: InvalidFieldError) -> Response:
    detail = [{"loc": [error.location, error.field], "msg": error.message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


DOMAIN_ERROR_HANDLERS: Mapping[int | type[Exception], Handler] = {
    NotFoundError: _detail(status.HTTP_404_NOT_FOUND),
    ConflictError: _detail(status.HTTP_409_CONFLICT),
    InvalidFieldError: _invalid_field,
    ConfigurationError: _detail(status.HTTP_503_SERVICE_UNAVAILABLE),
    PriceMapError: _detail(status.HTTP_502_BAD_GATEWAY),
}
"""Error class → its answer; Starlette picks the handler of the nearest class up the tree."""
