"""The admin API, `/api/v1/admin/llm/…`, behind `Authorization: Bearer $ADMIN_TOKEN`.

One router per resource; each module exports `router`. This package joins them."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from switchboard.api.deps import require_admin

ADMIN_PREFIX = "/api/v1/admin/llm"


def admin_router(*routers: APIRouter) -> APIRouter:
    joined = APIRouter(prefix=ADMIN_PREFIX, dependencies=[Depends(require_admin)])
    for router in routers:
        joined.include_router(router)
    return joined
