"""`create_app(settings)`: the whole HTTP service, its resources made in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from switchboard import __version__
from switchboard.api import admin, byok, health
from switchboard.api.admin import audit as admin_audit
from switchboard.api.admin import models as admin_models
from switchboard.api.admin import providers as admin_providers
from switchboard.api.admin import rules as admin_rules
from switchboard.api.admin import usage as admin_usage
from switchboard.api.admin import users as admin_users
from switchboard.api.anthropic import messages as anthropic_messages
from switchboard.api.byok import keys as byok_keys
from switchboard.api.byok import usage as byok_usage
from switchboard.api.errors import ApiError, render
from switchboard.api.openai import chat, models
from switchboard.db import open_database
from switchboard.gateway.service import Gateway
from switchboard.providers import AdapterRegistry
from switchboard.secrets import SecretManager
from switchboard.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


class _GatewayApp(FastAPI):
    """FastAPI, except that a `POST` to one of the gateway's own endpoints (`hot_routes`) goes
    straight to its handler. Those handlers take the raw request, need no dependencies, and
    answer every error themselves in their API's format, so FastAPI's routing, dependency
    solving and middleware only cost time there: about a third of the gateway's CPU per
    request. The routes stay registered (for OpenAPI, and for every other method); with any
    middleware added, or a root path, every request takes FastAPI's way again."""

    hot_routes: dict[str, Handler]

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
        try:
            response = await handler(request)
        except ApiError as error:  # as the exception handlers below would answer
            response = render(request, error)
        except Exception:
            log.exception("unhandled error on %s", request.url.path)
            response = render(request, ApiError(500, "Internal error.", code="internal_error"))
        await response(scope, receive, send)


def create_app(settings: Settings, *, adapters: AdapterRegistry | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sessions = open_database(settings.database_url, migrate=False)
        secrets = (
            SecretManager.from_value(settings.encryption_key.get_secret_value())
            if settings.encryption_key is not None
            else None
        )
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=True) as http:
            gateway = Gateway(settings, sessions, secrets=secrets, http=http, adapters=adapters)
            await gateway.start()
            app.state.gateway = gateway
            try:
                yield
            finally:
                await gateway.close()
                sessions.kw["bind"].dispose()

    app = _GatewayApp(
        title="Switchboard",
        version=__version__,
        summary="A multi-tenant LLM gateway: OpenAI- and Anthropic-compatible.",
        lifespan=lifespan,
    )
    app.include_router(chat.router, tags=["openai"])
    app.hot_routes = {"/v1/chat/completions": chat.chat_completions}
    app.include_router(models.router, tags=["openai"])
    app.include_router(anthropic_messages.router, tags=["anthropic"])
    app.include_router(health.router)
    app.include_router(
        admin.admin_router(
            admin_providers.router,
            admin_models.router,
            admin_rules.router,
            admin_users.router,
            admin_usage.router,
            admin_audit.router,
        )
    )
    app.include_router(byok.byok_router(byok_keys.router, byok_usage.router))

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        return render(request, error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return render(request, ApiError(500, "Internal error.", code="internal_error"))

    return app


def app_from_environment() -> FastAPI:
    """The factory `switchboard serve` gives uvicorn: each worker reads its own settings."""
    return create_app(Settings())
