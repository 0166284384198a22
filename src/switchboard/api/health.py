"""`GET /health/live` (the process answers) and `GET /health/ready` (it can serve: catalog
loaded and database reachable; otherwise 503 `degraded`, while it keeps serving from cache)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from switchboard.gateway.service import Gateway

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready", summary="The gateway can serve: catalog loaded, database reachable")
async def ready(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    view = gateway.catalog.view
    database_ok = await asyncio.to_thread(gateway.check_database)
    body = {
        "status": "ready" if view is not None and database_ok else "degraded",
        "catalog_version": view.snapshot.version if view is not None else None,
        "database": "ok" if database_ok else "unreachable",
        "usage_writer": gateway.writer.last_error or "ok",
        "usage_spool_segments": len(gateway.spool.sealed_segments()),
    }
    return JSONResponse(body, status_code=200 if body["status"] == "ready" else 503)
