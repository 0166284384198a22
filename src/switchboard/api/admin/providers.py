"""Admin API: providers, their system keys (write-only) and their health."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, status

from switchboard.api.admin.schemas_catalog import (
    ProviderCreate,
    ProviderHealth,
    ProviderPublic,
    ProviderQuery,
    ProviderUpdate,
)
from switchboard.api.deps import AdminDep, GatewayDep, SessionDep
from switchboard.api.redacting_route import RedactingRoute
from switchboard.api.schemas import Page, PagingDep, QueryBool, RowIdPath
from switchboard.errors import InvalidFieldError
from switchboard.gateway.service import Gateway
from switchboard.services import catalog_admin

_SECRET_FIELDS = frozenset({"api_key"})


class SecretSafeRoute(RedactingRoute):
    """A 422 answer echoes the input that failed, and a missing field's input is the whole
    body: never let it carry the provider's key."""

    def redact(self, error: Any) -> Any:
        return _without_secrets(error)


router = APIRouter(tags=["admin: providers"], route_class=SecretSafeRoute)


@router.get("/providers")
def list_providers(
    session: SessionDep,
    gateway: GatewayDep,
    filters: Annotated[ProviderQuery, Query()],
    paging: PagingDep,
) -> Page[ProviderPublic]:
    """Providers by id; filter by `is_active`, `health_status`, `slug`."""
    page = catalog_admin.list_providers(
        session, **cast(catalog_admin.ProviderFilters, filters.model_dump()), window=paging
    )
    environ = gateway.settings.provider_key_environment()
    return Page[ProviderPublic].of(page, lambda row: ProviderPublic.of(row, environ), paging)


@router.post("/providers", status_code=status.HTTP_201_CREATED)
def create_provider(
    body: ProviderCreate, session: SessionDep, actor: AdminDep, gateway: GatewayDep
) -> ProviderPublic:
    """Add a provider. `api_key`, if given, is stored encrypted and shown only masked.
    `base_url` must point where `PROVIDER_ADDRESSES` allows (else 422), and so must what its
    host name resolves to now."""
    _check_format(gateway, body.api_format)
    row = catalog_admin.create_provider(
        session,
        actor=actor,
        fields=body.row_fields(),
        addresses=gateway.settings.provider_addresses,
        api_key=body.given_api_key(),
        secrets=gateway.secrets,
    )
    return ProviderPublic.of(row, gateway.settings.provider_key_environment())


@router.get("/providers/{provider_id}")
def read_provider(
    provider_id: RowIdPath, session: SessionDep, gateway: GatewayDep
) -> ProviderPublic:
    row = catalog_admin.get_provider(session, provider_id=provider_id)
    return ProviderPublic.of(row, gateway.settings.provider_key_environment())


@router.patch("/providers/{provider_id}")
def update_provider(
    provider_id: RowIdPath,
    body: ProviderUpdate,
    session: SessionDep,
    actor: AdminDep,
    gateway: GatewayDep,
) -> ProviderPublic:
    """Change the fields given. `"api_key": "…"` replaces the key, `"api_key": null` removes it."""
    changes = body.row_fields()
    if "api_key" in body.model_fields_set:
        changes["api_key"] = body.given_api_key()
    if "api_format" in changes:
        _check_format(gateway, changes["api_format"])
    row = catalog_admin.update_provider(
        session,
        actor=actor,
        provider_id=provider_id,
        changes=changes,
        addresses=gateway.settings.provider_addresses,
        secrets=gateway.secrets,
    )
    return ProviderPublic.of(row, gateway.settings.provider_key_environment())


@router.delete("/providers/{provider_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_provider(
    provider_id: RowIdPath,
    session: SessionDep,
    actor: AdminDep,
    cascade: Annotated[
        QueryBool, Query(description="Also delete its models, their rules, and users' keys for it.")
    ] = False,
) -> None:
    """Refused (409) while models or users' keys refer to the provider, unless `cascade`."""
    catalog_admin.delete_provider(session, actor=actor, provider_id=provider_id, cascade=cascade)


@router.get("/providers/{provider_id}/health")
async def check_provider_health(provider_id: RowIdPath, gateway: GatewayDep) -> ProviderHealth:
    """Probe the provider now with a non-billed call (listing its models, with its system key)
    and record the result: `healthy`, `degraded` (slow, or a non-fatal refusal), `down`, or
    `unknown` (it cannot be probed: no system key)."""
    report = await gateway.probe_provider(provider_id)
    return ProviderHealth(
        provider_id=report.provider_id,
        provider_slug=report.provider_slug,
        health_status=report.status,
        health_latency_ms=report.latency_ms,
        health_error=report.error,
        last_health_check_at=report.checked_at,
        models_found=report.models_found,
    )


def _check_format(gateway: Gateway, api_format: str | None) -> None:
    if api_format is not None and not gateway.speaks_format(api_format):
        raise InvalidFieldError("api_format", f"no adapter speaks {api_format!r}")


def _without_secrets(error: Any) -> Any:
    if not isinstance(error, dict):
        return error
    loc = error.get("loc") or ()
    value = error.get("input")
    if loc and loc[-1] in _SECRET_FIELDS:
        return {**error, "input": "(hidden)"}
    if isinstance(value, dict) and _SECRET_FIELDS & value.keys():
        hidden = {k: "(hidden)" if k in _SECRET_FIELDS else v for k, v in value.items()}
        return {**error, "input": hidden}
    return error
