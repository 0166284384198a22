"""The web console at `/ui`: server-rendered pages (Jinja2, htmx for partial updates, uPlot
for charts; all served from the package) over the same services as the admin API.

`console_router()` is what the app mounts; `build_console_state(settings)` what its lifespan
keeps in `app.state.console`. Every page reads without JavaScript."""

from __future__ import annotations

from fastapi import APIRouter

from switchboard.console import assets
from switchboard.console.pages import (
    alert_settings,
    alerts,
    audit,
    models,
    my_keys,
    overview,
    providers,
    routing,
    sign_in,
    usage,
    users,
)
from switchboard.console.state import ConsoleState, build_console_state

CONSOLE_PREFIX = "/ui"

__all__ = ["CONSOLE_PREFIX", "ConsoleState", "build_console_state", "console_router"]


def console_router() -> APIRouter:
    router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
    for page in (
        assets,
        sign_in,
        overview,
        providers,
        models,
        routing,
        users,
        usage,
        alerts,
        alert_settings,
        audit,
        my_keys,
    ):
        router.include_router(page.router)
    return router
