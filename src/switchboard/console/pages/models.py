"""Models: filter and search, add, edit prices (kept as price history), see the history,
deprecate with a replacement, activate or deactivate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from switchboard.console import forms, page_flow, paging
from switchboard.console.deps import AdminDep, SessionDep
from switchboard.console.forms import FormError
from switchboard.console.rendering import ConsoleRoute, render, see_other, with_notice
from switchboard.services import catalog_admin
from switchboard.services.audit import Actor
from switchboard.services.paging import Window
from switchboard.vocabulary import PowerLevel, Tier

router = APIRouter(route_class=ConsoleRoute)

PRICES = (
    ("cost_per_1m_input_tokens", "Input, $ per 1M tokens"),
    ("cost_per_1m_output_tokens", "Output, $ per 1M tokens"),
    ("cost_per_1m_cached_input_tokens", "Cached input, $ per 1M tokens"),
    ("cost_per_1m_cache_write_tokens", "Cache write, $ per 1M tokens"),
)
REQUIRED_PRICES = {"cost_per_1m_input_tokens", "cost_per_1m_output_tokens"}
POWER_LEVELS = [level.value for level in PowerLevel]
TIERS = [tier.value for tier in Tier]
MAX_PROVIDERS = 500


@router.get("/models", response_class=HTMLResponse)
def list_models(
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    q: str = "",
    provider: str = "",
    power: str = "",
    state: str = "",
    page: int = 1,
) -> HTMLResponse:
    page = paging.page_number(page)
    provider_id = forms.query_int(provider, "provider")
    power_level = forms.query_choice(power, PowerLevel, "power")
    listing = catalog_admin.list_models(
        session,
        window=paging.rows_of(page),
        search=q.strip() or None,
        provider_id=provider_id,
        power_level=power_level.value if power_level else None,
        is_active={"active": True, "inactive": False}.get(state),
        is_deprecated=True if state == "deprecated" else None,
    )
    filters = {"q": q, "provider": provider, "power": power, "state": state}
    context = {
        "title": "Models",
        "models": listing.items,
        **paging.pager(page, listing.total),
        **paging.filtered(filters),
        "providers": _providers(session),
        "power_levels": POWER_LEVELS,
    }
    template = (
        "models_table.html" if request.headers.get("hx-target") == "models" else "models.html"
    )
    return render(request, template, context)


@router.get("/models/new", response_class=HTMLResponse)
def new_model(request: Request, session: SessionDep, _admin: AdminDep) -> HTMLResponse:
    values = {"is_active": "on", "supports_streaming": "on", "power_level": "balanced"}
    return _form_page(request, session, None, values)


@router.post("/models/new", response_class=HTMLResponse)
def create_model(
    request: Request, session: SessionDep, _admin: AdminDep, form: forms.AdminFormDep
) -> Response:
    return page_flow.submit(
        session,
        lambda: catalog_admin.create_model(session, actor=Actor.ADMIN, fields=model_fields(form)),
        done=lambda row: (f"/ui/models/{row.id}", f"Model {row.model_name} added."),
        refused=lambda errors: _form_page(request, session, None, form, errors),
        default_field=_refused_field,
    )


@router.get("/models/{model_row_id}", response_class=HTMLResponse)
def edit_model(
    request: Request, model_row_id: int, session: SessionDep, _admin: AdminDep
) -> HTMLResponse:
    row = catalog_admin.get_model(session, model_row_id=model_row_id)
    return _form_page(request, session, row, _values_of(row))


@router.post("/models/{model_row_id}", response_class=HTMLResponse)
def update_model(
    request: Request,
    model_row_id: int,
    session: SessionDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    row = catalog_admin.get_model(session, model_row_id=model_row_id)
    return page_flow.submit(
        session,
        lambda: catalog_admin.update_model(
            session, actor=Actor.ADMIN, model_row_id=model_row_id, changes=model_fields(form)
        ),
        done=lambda _: (f"/ui/models/{model_row_id}", "Model saved."),
        refused=lambda errors: _form_page(request, session, row, form, errors),
        default_field=_refused_field,
    )


@router.post("/models/{model_row_id}/active", response_class=HTMLResponse)
def set_active(
    request: Request,
    model_row_id: int,
    session: SessionDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    active = forms.flag(form, "is_active")
    if not active and not page_flow.confirmed(form):
        row = catalog_admin.get_model(session, model_row_id=model_row_id)
        return page_flow.ask_to_confirm(
            request,
            form,
            question=f"Deactivate model {row.model_name}?",
            consequence="Routing stops choosing it at once; requests that name it are refused. "
            "You can activate it again later.",
            button=f"Deactivate {row.model_name}",
            cancel="/ui/models",
        )
    row = catalog_admin.update_model(
        session, actor=Actor.ADMIN, model_row_id=model_row_id, changes={"is_active": active}
    )
    state = "activated" if active else "deactivated"
    return see_other(with_notice("/ui/models", f"Model {row.model_name} {state}."))


@router.post("/models/{model_row_id}/deprecate", response_class=HTMLResponse)
def deprecate_model(
    request: Request,
    model_row_id: int,
    session: SessionDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    row = catalog_admin.get_model(session, model_row_id=model_row_id)
    if not page_flow.confirmed(form):
        return page_flow.ask_to_confirm(
            request,
            form,
            question=f"Deprecate model {row.model_name}?",
            consequence="Requests that name it are served by the replacement you chose, and "
            "routing stops choosing it.",
            button=f"Deprecate {row.model_name}",
            cancel=f"/ui/models/{model_row_id}",
        )
    try:
        replacement = forms.integer(form, "replacement_model_id")
        if replacement is None:
            raise FormError("replacement_model_id", "choose the model that replaces it")
        catalog_admin.deprecate_model(
            session,
            actor=Actor.ADMIN,
            model_row_id=model_row_id,
            replacement_model_id=replacement,
        )
    except page_flow.REFUSED as error:
        session.rollback()
        errors = page_flow.field_errors(error, default_field="replacement_model_id")
        return _form_page(request, session, row, _values_of(row), errors)
    return see_other(with_notice(f"/ui/models/{model_row_id}", "Model deprecated."))


def model_fields(form: Mapping[str, str]) -> dict[str, Any]:
    """The model's columns from the form; FormError for a wrong value."""
    power = form.get("power_level", "")
    if power not in POWER_LEVELS:
        raise FormError("power_level", "is not a power level")
    tier = form.get("min_tier_required", Tier.FREE.value)
    if tier not in TIERS:
        raise FormError("min_tier_required", "is not a tier")
    provider_id = forms.integer(form, "provider_id")
    if provider_id is None:
        raise FormError("provider_id", "choose a provider")
    fields: dict[str, Any] = {
        "provider_id": provider_id,
        "model_name": forms.required_text(form, "model_name"),
        "model_id": forms.required_text(form, "model_id"),
        "display_name": forms.text(form, "display_name"),
        "power_level": power,
        "min_tier_required": tier,
        "context_window": forms.integer(form, "context_window"),
    }
    for name, _ in PRICES:
        price = forms.decimal(form, name)
        if price is None and name in REQUIRED_PRICES:
            raise FormError(name, "is required")
        fields[name] = price
    for name in ("supports_streaming", "supports_function_calling", "supports_vision"):
        fields[name] = forms.flag(form, name)
    fields["supports_json_mode"] = forms.flag(form, "supports_json_mode")
    fields["is_active"] = forms.flag(form, "is_active")
    return fields


def _values_of(row: Any) -> dict[str, Any]:
    names = ("provider_id", "model_name", "model_id", "display_name", "power_level")
    values: dict[str, Any] = {name: getattr(row, name) or "" for name in names}
    values["min_tier_required"] = row.min_tier_required
    values["context_window"] = row.context_window or ""
    for name, _ in PRICES:
        price = getattr(row, name)
        values[name] = forms.decimal_text(price)
    flags = ("supports_streaming", "supports_function_calling", "supports_vision")
    for name in (*flags, "supports_json_mode", "is_active"):
        values[name] = "on" if getattr(row, name) else ""
    return values


def _refused_field(error: Exception) -> str:
    """A taken provider model id is the model id's; an unknown provider, the provider's."""
    message = str(error)
    return (
        "provider_id" if message.startswith("provider") and "not exist" in message else "model_id"
    )


def _providers(session: Session) -> list[Any]:
    return list(catalog_admin.list_providers(session, window=Window(limit=MAX_PROVIDERS)).items)


def _form_page(
    request: Request,
    session: Session,
    row: Any,
    values: Mapping[str, Any],
    errors: page_flow.FieldErrors | None = None,
) -> HTMLResponse:
    history = catalog_admin.price_history(session, model_row_id=row.id) if row else []
    others = []
    if row is not None:
        candidates = catalog_admin.list_models(session, window=Window(limit=MAX_PROVIDERS))
        others = [m for m in candidates.items if m.id != row.id and not m.is_deprecated]
    return page_flow.form_page(
        request,
        "model_form.html",
        {
            "title": f"Model {row.model_name}" if row is not None else "New model",
            "model": row,
            "values": page_flow.shown(values),
            "providers": _providers(session),
            "power_levels": POWER_LEVELS,
            "tiers": TIERS,
            "prices": PRICES,
            "history": history,
            "others": others,
        },
        errors,
    )
