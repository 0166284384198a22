"""`create_app(settings)`: the whole HTTP service, its resources made in the lifespan."""

from __future__ import annotations

import functools
import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from switchboard import __version__, console
from switchboard.alerts.runner import AlertRunner
from switchboard.api import admin, byok, docs, health
from switchboard.api import metrics as metrics_endpoint
from switchboard.api.admin import alerts as admin_alerts
from switchboard.api.admin import audit as admin_audit
from switchboard.api.admin import catalog_sync as admin_catalog_sync
from switchboard.api.admin import limits as admin_limits
from switchboard.api.admin import models as admin_models
from switchboard.api.admin import providers as admin_providers
from switchboard.api.admin import rules as admin_rules
from switchboard.api.admin import usage as admin_usage
from switchboard.api.admin import users as admin_users
from switchboard.api.anthropic import messages as anthropic_messages
from switchboard.api.byok import keys as byok_keys
from switchboard.api.byok import usage as byok_usage
from switchboard.api.domain_errors import DOMAIN_ERROR_HANDLERS
from switchboard.api.errors import ApiError, render
from switchboard.api.fast_path import GatewayApp, find_hot_routes
from switchboard.api.openai import chat, models
from switchboard.db import open_database
from switchboard.gateway.job_lease import JobLease
from switchboard.gateway.service import Gateway
from switchboard.providers import AdapterRegistry
from switchboard.providers.client import provider_client
from switchboard.services.price_sync_job import LEASE_NAME as PRICE_SYNC_LEASE
from switchboard.services.price_sync_job import PriceSyncJob
from switchboard.settings import Settings

log = logging.getLogger(__name__)

HOT_PATHS = ("/v1/chat/completions", "/v1/messages")
"""The gateway's endpoints, served without FastAPI's routing and middleware (`fast_path`)."""


def create_app(
    settings: Settings, *, adapters: AdapterRegistry | None = None, freeze_heap: bool = False
) -> FastAPI:
    """The app. `freeze_heap` (for a process that only serves it) moves everything alive once
    the gateway has started into the garbage collector's permanent generation: the modules,
    the catalog and the like then stop being walked by every full collection, which otherwise
    stalls all requests in flight for tens of milliseconds. (No collection first: there is no
    garbage at that point, and one would add 0.1 s to the start.)"""
    app = GatewayApp(
        title="Switchboard",
        version=__version__,
        summary="A multi-tenant LLM gateway: OpenAI- and Anthropic-compatible.",
        lifespan=_lifespan(settings, adapters=adapters, freeze_heap=freeze_heap),
        docs_url=None,  # served by `docs`, from the package rather than another host
        redoc_url=None,
        exception_handlers=dict(DOMAIN_ERROR_HANDLERS),  # the admin and BYOK APIs' answers
    )
    _include_routers(app, settings)
    _answer_errors(app)
    app.hot_routes = find_hot_routes(app, HOT_PATHS)
    return app


def _lifespan(
    settings: Settings, *, adapters: AdapterRegistry | None, freeze_heap: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's resources: the database, the provider client, the gateway and the price
    sync, made at start and closed at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sessions = open_database(settings.database_url, migrate=False)
        async with provider_client(settings.provider_addresses) as http:
            gateway = Gateway(settings, sessions, http=http, adapters=adapters)
            await gateway.start()
            price_sync = _price_sync_job(settings, sessions)
            price_sync.start()
            alerts = AlertRunner(sessions, gateway)
            await alerts.start()
            app.state.gateway = gateway
            if isinstance(app, GatewayApp):
                app.requests = gateway.metrics  # requests in flight
            app.state.alerts = alerts
            app.state.console = console.build_console_state(settings)
            if freeze_heap:
                gc.freeze()
            try:
                yield
            finally:
                await alerts.close()
                await price_sync.close()
                await gateway.close()
                sessions.kw["bind"].dispose()

    return lifespan


def _include_routers(app: FastAPI, settings: Settings) -> None:
    """The OpenAI and Anthropic surfaces, health, docs and metrics, the admin and the BYOK
    APIs, and the console."""
    app.include_router(chat.router, tags=["openai"])
    app.include_router(models.router, tags=["openai"])
    app.include_router(anthropic_messages.router, tags=["anthropic"])
    app.include_router(health.router)
    app.include_router(docs.router)
    if settings.metrics_enabled:
        app.include_router(metrics_endpoint.router)
    for router in _joined_routers():
        app.include_router(router)


@functools.cache
def _joined_routers() -> tuple[APIRouter, ...]:
    """The admin and BYOK APIs and the console, each its pages' routers joined under its
    prefix: once per process (joined anew, FastAPI works out their ~300 routes again, 0.1 s
    for every app made after the first)."""
    return (
        admin.admin_router(
            admin_providers.router,
            admin_models.router,
            admin_rules.router,
            admin_users.router,
            admin_usage.router,
            admin_audit.router,
            admin_catalog_sync.router,
            admin_limits.router,
            admin_alerts.router,
        ),
        byok.byok_router(byok_keys.router, byok_usage.router),
        console.console_router(),
    )


def _answer_errors(app: FastAPI) -> None:
    """An `ApiError`, and anything unexpected, in the format of the surface it happened on."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        return render(request, error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return render(request, ApiError(500, "Internal error.", code="internal_error"))


def _price_sync_job(settings: Settings, sessions: sessionmaker[Session]) -> PriceSyncJob:
    """The price sync on its timer (`PRICE_SYNC_INTERVAL_H`; 0: never), on one replica at a
    time: the replica holding its lease."""
    lease = JobLease(
        sessions, name=PRICE_SYNC_LEASE, duration_s=settings.price_sync_interval_h * 3600
    )
    return PriceSyncJob(sessions, settings, take_lease=lease.take)


SWITCH_INTERVAL_S = 0.0005
"""How long a thread may hold the GIL while another waits for it (Python's default: 5 ms).
The usage writer and the catalog poller run in threads; with the default, a request that
arrives while one of them is busy waits up to 5 ms before the event loop gets to it."""


def app_from_environment() -> FastAPI:
    """The factory `switchboard serve` gives uvicorn: each worker reads its own settings, and
    is tuned as a process that does nothing but serve."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    return create_app(Settings(), freeze_heap=True)
