"""`GET /metrics`: the gateway's Prometheus metrics, as text (see `switchboard.metrics`).
Registered only when METRICS_ENABLED is true (else 404); with METRICS_TOKEN, a scrape must
send `Authorization: Bearer <token>` (else 401)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from switchboard.api.deps import GatewayDep
from switchboard.metrics.exposition import CONTENT_TYPE

router = APIRouter(tags=["metrics"])

_BEARER = "bearer "


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request, gateway: GatewayDep) -> Response:
    configured = gateway.settings.metrics_token
    if configured is not None and not _sent(request, configured.get_secret_value()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Send the metrics token: `Authorization: Bearer $METRICS_TOKEN`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(await gateway.scrape_metrics(), media_type=CONTENT_TYPE)


def _sent(request: Request, token: str) -> bool:
    """The request carries `token` as its bearer token (compared in constant time)."""
    header = request.headers.get("authorization") or ""
    if header[: len(_BEARER)].lower() != _BEARER:
        return False
    return hmac.compare_digest(header[len(_BEARER) :].strip().encode(), token.encode())
