"""The BYOK API, `/api/v1/llm/byok/…`, authenticated with the user's own virtual key."""

from __future__ import annotations

from fastapi import APIRouter

BYOK_PREFIX = "/api/v1/llm/byok"


def byok_router(*routers: APIRouter) -> APIRouter:
    joined = APIRouter(prefix=BYOK_PREFIX, tags=["byok"])
    for router in routers:
        joined.include_router(router)
    return joined
