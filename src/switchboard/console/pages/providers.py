"""Providers: the list (health, last check, latency, model count, BYOK), create and edit (the
system key write-only, shown masked; a refusal beside its field), activate or deactivate
(confirmed first), check health now, delete after a confirmation."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from switchboard.console import forms, page_flow, paging
from switchboard.console.deps import AdminDep, GatewayDep, SessionDep
from switchboard.console.forms import FormError
from switchboard.console.rendering import ConsoleRoute, is_htmx, render, see_other, with_notice
from switchboard.errors import ConflictError
from switchboard.gateway.service import Gateway
from switchboard.services import catalog_admin
from switchboard.services.audit import Actor
from switchboard.vocabulary import Tier

router = APIRouter(route_class=ConsoleRoute)

SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
KEY = re.compile(r"^[!-~]{1,1000}$")
URL = re.compile(r"^https?://[^\s]{1,490}$")
FLAGS = (
    "supports_streaming",
    "supports_function_calling",
    "supports_vision",
    "is_active",
    "is_byok_supported",
)
TIERS = [tier.value for tier in Tier]


@router.get("/providers", response_class=HTMLResponse)
def list_providers(
    request: Request, session: SessionDep, gateway: GatewayDep, _admin: AdminDep, page: int = 1
) -> HTMLResponse:
    page = paging.page_number(page)
    listing = catalog_admin.list_providers(session, window=paging.rows_of(page))
    ids = [row.id for row in listing.items]
    return render(
        request,
        "providers.html",
        {
            "title": "Providers",
            "providers": listing.items,
            "model_counts": catalog_admin.model_counts(session, provider_ids=ids),
            **paging.pager(page, listing.total),
            "masked": catalog_admin.masked_key,
        },
    )


@router.get("/providers/new", response_class=HTMLResponse)
def new_provider(request: Request, _admin: AdminDep) -> HTMLResponse:
    return _form_page(request, None, {"is_active": "on", "supports_streaming": "on"})


@router.post("/providers/new", response_class=HTMLResponse)
def create_provider(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    def create() -> Any:
        return catalog_admin.create_provider(
            session,
            actor=Actor.ADMIN,
            fields=provider_fields(form, creating=True, gateway=gateway),
            addresses=gateway.settings.provider_addresses,
            api_key=forms.text(form, "api_key"),
            secrets=gateway.secrets,
        )

    return _save(request, session, None, form, create, done="added")


@router.get("/providers/{provider_id}", response_class=HTMLResponse)
def edit_provider(
    request: Request, provider_id: int, session: SessionDep, _admin: AdminDep
) -> HTMLResponse:
    row = catalog_admin.get_provider(session, provider_id=provider_id)
    values = {
        name: getattr(row, name) or ""
        for name in ("provider_name", "provider_slug", "display_name", "base_url", "api_format")
    }
    values |= {name: "on" for name in FLAGS if getattr(row, name)}
    values["min_tier_required"] = row.min_tier_required
    return _form_page(request, row, values)


@router.post("/providers/{provider_id}", response_class=HTMLResponse)
def update_provider(
    request: Request,
    provider_id: int,
    session: SessionDep,
    gateway: GatewayDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    row = catalog_admin.get_provider(session, provider_id=provider_id)

    def update() -> Any:
        changes = provider_fields(form, creating=False, gateway=gateway)
        if forms.flag(form, "remove_api_key"):
            changes["api_key"] = None
        elif (api_key := forms.text(form, "api_key")) is not None:
            changes["api_key"] = _checked_key(api_key)
        return catalog_admin.update_provider(
            session,
            actor=Actor.ADMIN,
            provider_id=provider_id,
            changes=changes,
            addresses=gateway.settings.provider_addresses,
            secrets=gateway.secrets,
        )

    return _save(request, session, row, form, update, done="saved")


@router.post("/providers/{provider_id}/active", response_class=HTMLResponse)
def set_active(
    request: Request,
    provider_id: int,
    session: SessionDep,
    gateway: GatewayDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    active = forms.flag(form, "is_active")
    if not active and not page_flow.confirmed(form):
        slug = catalog_admin.get_provider(session, provider_id=provider_id).provider_slug
        return page_flow.ask_to_confirm(
            request,
            form,
            question=f"Deactivate provider {slug}?",
            consequence="Routing stops choosing its models at once, and its users' own keys "
            "for it stop being used. You can activate it again later.",
            button=f"Deactivate {slug}",
            cancel="/ui/providers",
        )
    row = catalog_admin.update_provider(
        session,
        actor=Actor.ADMIN,
        provider_id=provider_id,
        changes={"is_active": active},
        addresses=gateway.settings.provider_addresses,
    )
    state = "activated" if active else "deactivated"
    return see_other(with_notice("/ui/providers", f"Provider {row.provider_slug} {state}."))


@router.post("/providers/{provider_id}/check", response_class=HTMLResponse)
async def check_now(
    request: Request,
    provider_id: int,
    gateway: GatewayDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    """Probe now. With htmx, the provider's Health cell is replaced, and its Last check cell
    and the notice (announced politely) swapped out of band; without, the list is shown
    again with the result as its notice."""
    report = await gateway.probe_provider(provider_id)
    summary = f"{report.provider_slug}: {report.status}" + (
        f" ({report.latency_ms} ms)" if report.latency_ms is not None else ""
    )
    if is_htmx(request):
        return render(request, "provider_health.html", {"report": report, "summary": summary})
    return see_other(with_notice("/ui/providers", f"Checked {summary}."))


@router.get("/providers/{provider_id}/delete", response_class=HTMLResponse)
def confirm_delete(
    request: Request, provider_id: int, session: SessionDep, _admin: AdminDep
) -> HTMLResponse:
    row = catalog_admin.get_provider(session, provider_id=provider_id)
    return render(request, "provider_delete.html", {"title": "Delete provider", "provider": row})


@router.post("/providers/{provider_id}/delete", response_class=HTMLResponse)
def delete_provider(
    request: Request,
    provider_id: int,
    session: SessionDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    row = catalog_admin.get_provider(session, provider_id=provider_id)
    slug = row.provider_slug
    try:
        catalog_admin.delete_provider(
            session, actor=Actor.ADMIN, provider_id=provider_id, cascade=forms.flag(form, "cascade")
        )
    except ConflictError as error:
        session.rollback()
        context = {"title": "Delete provider", "provider": row, "error": str(error)}
        return render(request, "provider_delete.html", context, status_code=409)
    return see_other(with_notice("/ui/providers", f"Provider {slug} deleted."))


def provider_fields(form: Mapping[str, str], *, creating: bool, gateway: Gateway) -> dict[str, Any]:
    """The provider's columns from the form (its key apart); FormError for a wrong value."""
    slug = forms.required_text(form, "provider_slug")
    if not SLUG.match(slug):
        raise FormError("provider_slug", "use lower-case letters, digits, '.', '_' or '-'")
    base_url = forms.text(form, "base_url")
    if base_url is not None and not URL.match(base_url):
        raise FormError("base_url", "must be an http:// or https:// address")
    api_format = forms.text(form, "api_format")
    if api_format is not None and not gateway.speaks_format(api_format):
        raise FormError("api_format", f"no adapter speaks {api_format!r}")
    tier = form.get("min_tier_required", Tier.FREE.value)
    if tier not in TIERS:
        raise FormError("min_tier_required", "is not a tier")
    fields: dict[str, Any] = {
        "provider_name": forms.required_text(form, "provider_name"),
        "provider_slug": slug,
        "display_name": forms.text(form, "display_name"),
        "base_url": base_url,
        "api_format": api_format,
        "min_tier_required": tier,
    }
    fields |= {name: forms.flag(form, name) for name in FLAGS}
    if creating and (api_key := forms.text(form, "api_key")) is not None:
        _checked_key(api_key)
    return fields


def _checked_key(api_key: str) -> str:
    if not KEY.match(api_key):
        raise FormError("api_key", "must be printable ASCII without spaces")
    return api_key


def _refused_field(error: Exception) -> str:
    """A taken slug is the slug's; a key that cannot be stored, the key's."""
    return "provider_slug" if "slug" in str(error) else "api_key"


def _save(
    request: Request,
    session: Session,
    row: Any,
    form: Mapping[str, str],
    change: Callable[[], Any],
    *,
    done: str,
) -> Response:
    """Adding and editing end alike: the list, saying `Provider <slug> <done>.`, or the form
    (of `row`, None for a new one) again with the refusal beside its field."""
    return page_flow.submit(
        session,
        change,
        done=lambda saved: ("/ui/providers", f"Provider {saved.provider_slug} {done}."),
        refused=lambda errors: _form_page(request, row, form, errors),
        default_field=_refused_field,
    )


def _form_page(
    request: Request,
    row: Any,
    values: Mapping[str, Any],
    errors: page_flow.FieldErrors | None = None,
) -> HTMLResponse:
    shown = page_flow.shown(values, write_only={"api_key"})
    return page_flow.form_page(
        request,
        "provider_form.html",
        {
            "title": "Edit provider" if row is not None else "New provider",
            "provider": row,
            "values": shown,
            "masked_key": catalog_admin.masked_key(row) if row is not None else None,
            "tiers": TIERS,
        },
        errors,
    )
