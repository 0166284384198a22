"""Pages: `render` fills a template with what every page shows (who is signed in, their CSRF
token); `ConsoleRoute` turns what goes wrong into pages rather than the APIs' JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, cast
from urllib.parse import quote

from fastapi import HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from switchboard.console.deps import SignInRequiredError, current_session, get_state
from switchboard.console.sessions import SESSION_COOKIE, Role
from switchboard.errors import ConflictError, InvalidFieldError, NotFoundError

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
"""Pages run only the package's own scripts and styles, and are never framed (clickjacking)."""
_DOMAIN_STATUS: dict[type[Exception], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
    InvalidFieldError: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    state = get_state(request)
    signed_in = current_session(request, state)
    values = {
        "signed_in": signed_in,
        "csrf_token": signed_in.csrf if signed_in else "",
        "path": request.url.path,
        "is_htmx": is_htmx(request),
        "notice": request.query_params.get("notice"),
        **(context or {}),
    }
    response = state.templates.TemplateResponse(request, template, values, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return cast(HTMLResponse, response)


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it swaps a fragment into the page rather than load one)."""
    return request.headers.get("hx-request") == "true"


def see_other(url: str) -> RedirectResponse:
    """After a change, the page to show (POST, redirect, GET: a reload repeats nothing)."""
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


def with_notice(url: str, notice: str) -> str:
    """`url` carrying a short message for the next page (never a secret), before its
    fragment if it has one."""
    address, hash_mark, fragment = url.partition("#")
    joiner = "&" if "?" in address else "?"
    return f"{address}{joiner}notice={quote(notice)}{hash_mark}{fragment}"


class ConsoleRoute(APIRoute):
    """A sign-in needed, an HTTP error or a refused change, shown as a page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def as_page(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequiredError as needed:
                return _to_sign_in(request, needed)
            except HTTPException as error:
                return _error_page(request, error.status_code, str(error.detail))
            except RequestValidationError:
                return _error_page(request, 422, "Some values in the address are not valid.")
            except (NotFoundError, ConflictError, InvalidFieldError) as error:
                return _error_page(request, _DOMAIN_STATUS[type(error)], str(error))
            except Exception:
                log.exception("unhandled error on %s", request.url.path)
                return _error_page(request, 500, "Something went wrong; it has been logged.")

        return as_page


def _to_sign_in(request: Request, needed: SignInRequiredError) -> Response:
    """The sign-in page; a session that was ended is dropped and the page says why. An htmx
    request is sent there as a whole page rather than swapping the form into a fragment."""
    target = "/ui/sign-in" if needed.role is Role.ADMIN else "/ui/me/sign-in"
    if needed.reason:
        target = with_notice(target, needed.reason)
    response: Response = see_other(target)
    if is_htmx(request):
        response = Response(status_code=status.HTTP_204_NO_CONTENT, headers={"HX-Redirect": target})
    if needed.reason:
        response.delete_cookie(SESSION_COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


def _error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    return render(
        request, "error.html", {"status": status_code, "message": message}, status_code=status_code
    )
