"""`RedactingRoute`: a route whose 422 answers pass each validation error through `redact`.

FastAPI's answer to a request validation error echoes the input that failed, and a missing
field's input is the whole body. Routes that take secrets (a provider's key, a user's own
key) say what of an error may be shown; the answer is then FastAPI's as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


class RedactingRoute(APIRoute):
    def redact(self, error: Any) -> Any:
        """One validation error as it may be shown (here: as it is)."""
        return error

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def redacting(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                raise RequestValidationError([self.redact(e) for e in error.errors()]) from None

        return redacting
