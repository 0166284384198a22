"""`GET /health/live` (the process answers) and `GET /health/ready` (it can serve: catalog
loaded and database reachable; otherwise 503 `degraded`, while it keeps serving from cache)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from switchboard.api.deps import GatewayDep

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready", summary="The gateway can serve: catalog loaded, database reachable")
async def ready(gateway: GatewayDep) -> JSONResponse:
    readiness = await gateway.readiness()
    serving = readiness.database_ok and not gateway.limits.refusing
    body = {
        "status": "ready" if serving and readiness.limits != "degraded" else "degraded",
        "catalog_version": readiness.catalog_version,
        "database": "ok" if readiness.database_ok else "unreachable",
        "usage_writer": readiness.usage_writer_error or "ok",
        "usage_spool_segments": readiness.spool_segments,
        "limits": readiness.limits,
    }
    # Redis away with LIMITS_WHEN_REDIS_DOWN=open still serves (limits per process): degraded,
    # but ready for traffic; with `closed` it refuses requests, so it is not.
    return JSONResponse(body, status_code=200 if serving else 503)
