"""Admin API: the price sync, `POST /catalog/sync` (a dry run unless told otherwise)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from switchboard.api.admin.schemas_sync import CatalogSyncPublic, CatalogSyncRequest
from switchboard.api.deps import AdminDep, GatewayDep
from switchboard.services.price_sync_job import run_price_sync

router = APIRouter(tags=["admin: catalog"])


@router.post("/catalog/sync")
async def sync_catalog(
    gateway: GatewayDep,
    actor: AdminDep,
    body: Annotated[CatalogSyncRequest | None, Body()] = None,
) -> CatalogSyncPublic:
    """Compare the catalog with the price map at `PRICE_MAP_SOURCE` (LiteLLM's format): price,
    context-window and output-limit changes, deprecations, models the map no longer has
    (retired?, never deleted), new models of known providers. With `"dry_run": false`, write
    the changes (prices through the price history, each model's change in the audit log);
    prices set by hand stay unless `"force": true`. A map that cannot be read or has a
    malformed entry is a 502 naming it, and nothing is written."""
    request = body or CatalogSyncRequest(dry_run=True, force=False)
    report = await run_price_sync(
        gateway.sessions,
        source=gateway.settings.price_map_source,
        timeout_s=gateway.settings.price_map_timeout_s,
        actor=actor,
        apply=not request.dry_run,
        force=request.force,
    )
    return CatalogSyncPublic.of(report)
