"""The gateway's own endpoints, served without FastAPI's routing and middleware.

A `POST /v1/chat/completions` (or `/v1/messages`) handler takes the raw request, has no
parameters or dependencies to solve, and answers every error itself in its API's format.
FastAPI's middleware stack, router and dependency machinery then add nothing but time: about
a third of the gateway's CPU per request. `GatewayApp` calls such a handler directly, as the
router would, and hands anything it raises to the app's exception handlers, as the middleware
would. Everything else (other paths and methods) goes through FastAPI as usual; so does every
request once the app has middleware of its own or a root path.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


class RequestTracker(Protocol):
    """Told when a gateway request begins and when its response is sent (requests in
    flight: `switchboard.metrics`)."""

    def request_started(self) -> None: ...

    def request_ended(self) -> None: ...


class _Untracked:
    def request_started(self) -> None:
        pass

    def request_ended(self) -> None:
        pass


class GatewayApp(FastAPI):
    hot_routes: dict[str, Handler]
    """Path → handler of the endpoints served directly (see `find_hot_routes`)."""
    requests: RequestTracker = _Untracked()
    """Told of each request to those endpoints, from its start to its response's end (a
    stream's too)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = (
            self.hot_routes.get(scope["path"])
            if scope["type"] == "http"
            and scope["method"] == "POST"
            and not self.user_middleware
            and not self.root_path
            and not scope.get("root_path")
            else None
        )
        if handler is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        request = Request(scope, receive, send)
        tracker = self.requests
        tracker.request_started()
        try:
            try:
                response = await handler(request)
            except Exception as error:
                await self._answer_error(request, error, scope, receive, send)
                return
            await response(scope, receive, send)
        finally:
            tracker.request_ended()

    async def _answer_error(
        self, request: Request, error: Exception, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """As Starlette's middleware would: the handler registered for the error's class; one
        for `Exception` answers 500 and the error goes on up to the server (which logs it)."""
        for kind in type(error).__mro__:
            handle = self.exception_handlers.get(kind)
            if handle is not None:
                answer = handle(request, error)
                response = await answer if inspect.isawaitable(answer) else answer
                await response(scope, receive, send)
                if kind is Exception:
                    raise error
                return
        raise error


def find_hot_routes(app: FastAPI, paths: Iterable[str]) -> dict[str, Handler]:
    """The `POST` endpoints at `paths` whose only parameter is the request and which have no
    dependencies (their routers' included) and no body limit of their own: for those, calling
    the endpoint is all FastAPI would do. An endpoint that gains a parameter or a dependency
    drops out, and is served the usual way."""
    wanted = set(paths)
    hot: dict[str, Handler] = {}
    for route in _effective_routes(app):
        path, endpoint = getattr(route, "path", None), getattr(route, "endpoint", None)
        dependant = getattr(route, "dependant", None)
        if path not in wanted or path in hot or endpoint is None or dependant is None:
            continue
        if (
            "POST" in (getattr(route, "methods", None) or ())
            and not dependant.dependencies
            and getattr(route, "max_body_size", None) is None
            and dependant.request_param_name is not None
            and list(inspect.signature(endpoint).parameters) == [dependant.request_param_name]
        ):
            hot[path] = endpoint
            if len(hot) == len(wanted):  # the rest are not worked out at all
                break
    return hot


def _effective_routes(app: FastAPI) -> Iterable[object]:
    """The app's routes as served: recent FastAPI versions keep included routers whole and
    work out each route's prefix and dependencies when asked (`iter_route_contexts`)."""
    effective = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: Iterable[object] = effective(app.routes) if effective is not None else app.routes
    return routes
