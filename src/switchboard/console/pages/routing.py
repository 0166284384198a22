"""Routing: the tier × power level × task matrix as the gateway would try it, the rules
(create, edit — a refusal shown beside its field, nothing stored — and delete after a
confirmation), and an Explain form that answers as
`POST /api/v1/admin/routing/explain` does, from the same service."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from switchboard.console import forms, page_flow, paging
from switchboard.console.deps import AdminDep, GatewayDep, SessionDep
from switchboard.console.forms import FormError
from switchboard.console.rendering import ConsoleRoute, is_htmx, render, see_other, with_notice
from switchboard.gateway.service import Gateway
from switchboard.routing import RouteRequest
from switchboard.services import catalog_admin, routing_admin
from switchboard.services.audit import Actor
from switchboard.services.paging import Window
from switchboard.vocabulary import TASK_TYPE_PATTERN, PowerLevel, Tier, normalize_task_type

router = APIRouter(route_class=ConsoleRoute)

TIERS = [tier.value for tier in Tier]
POWER_LEVELS = [level.value for level in PowerLevel]
TASK_TYPE = re.compile(TASK_TYPE_PATTERN)
NEEDS = (
    ("require_streaming", "Streaming"),
    ("require_function_calling", "Function calling"),
    ("require_vision", "Vision"),
    ("require_json_mode", "JSON mode"),
)
MAX_MODELS = 500
SHOWN_CANDIDATES = 10
"""Candidates named per matrix cell, the rest counted: the gateway tries `MAX_ATTEMPTS` (3 by
default), and a cell of a large catalog can hold thousands (megabytes of page)."""


@router.get("/routing", response_class=HTMLResponse)
def routing_page(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    _admin: AdminDep,
    tier: str = "",
    power: str = "",
    page: int = 1,
) -> HTMLResponse:
    return _page(request, session, gateway, tier=tier, power=power, page=page)


@router.post("/routing/explain", response_class=HTMLResponse)
def explain(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> HTMLResponse:
    """With htmx only the verdicts are replaced (and announced); without, the whole page."""
    values = page_flow.shown(form)
    try:
        route_request = explain_request(form)
        verdicts = routing_admin.explain_request(
            session,
            settings=gateway.settings,
            health=gateway.provider_health(),
            request=route_request,
            user_id=forms.text(form, "user_id"),
        )
        result: dict[str, Any] = {"verdicts": verdicts, "explain_error": None}
    except (FormError, ValueError) as error:
        result = {"verdicts": None, "explain_error": str(error)}
        if isinstance(error, FormError):
            result["explain_errors"] = page_flow.field_errors(error)
    if is_htmx(request):
        return render(request, "explain_result.html", result)
    result.setdefault("explain_errors", {})
    return _page(request, session, gateway, explain_values=values, **result)


@router.post("/routing/rules", response_class=HTMLResponse)
def create_rule(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    return page_flow.submit(
        session,
        lambda: routing_admin.create_rule(session, actor=Actor.ADMIN, fields=rule_fields(form)),
        done=lambda rule: ("/ui/routing", f"Rule {rule.id} added."),
        refused=lambda errors: _page(
            request, session, gateway, rule_values=page_flow.shown(form), rule_errors=errors
        ),
        default_field=refused_field,
    )


@router.get("/routing/rules/{rule_id}", response_class=HTMLResponse)
def edit_rule(request: Request, rule_id: int, session: SessionDep, _admin: AdminDep) -> Response:
    rule = routing_admin.get_rule(session, rule_id=rule_id)
    return _rule_page(request, session, rule, _values_of(rule))


@router.post("/routing/rules/{rule_id}", response_class=HTMLResponse)
def update_rule(
    request: Request,
    rule_id: int,
    session: SessionDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    rule = routing_admin.get_rule(session, rule_id=rule_id)
    return page_flow.submit(
        session,
        lambda: routing_admin.update_rule(
            session, actor=Actor.ADMIN, rule_id=rule_id, changes=rule_fields(form)
        ),
        done=lambda _saved: ("/ui/routing", f"Rule {rule_id} saved."),
        refused=lambda errors: _rule_page(request, session, rule, page_flow.shown(form), errors),
        default_field=refused_field,
    )


@router.get("/routing/rules/{rule_id}/delete", response_class=HTMLResponse)
def confirm_delete(
    request: Request, rule_id: int, session: SessionDep, _admin: AdminDep
) -> Response:
    rule = routing_admin.get_rule(session, rule_id=rule_id)
    return render(request, "rule_delete.html", {"title": "Delete rule", "rule": rule})


@router.post("/routing/rules/{rule_id}/delete", response_class=HTMLResponse)
def delete_rule(
    request: Request,
    rule_id: int,
    session: SessionDep,
    _admin: AdminDep,
    form: forms.AdminFormDep,
) -> Response:
    routing_admin.delete_rule(session, actor=Actor.ADMIN, rule_id=rule_id)
    return see_other(with_notice("/ui/routing", f"Rule {rule_id} deleted."))


def explain_request(form: Mapping[str, str]) -> RouteRequest:
    """The hypothetical request of the Explain form; ValueError naming a wrong value."""
    return RouteRequest.parse(
        user_tier=form.get("tier", ""),
        power_level=form.get("power_level", ""),
        task_type=_task_type(form),
        estimated_tokens=forms.integer(form, "estimated_tokens"),
        **{name: forms.flag(form, name) for name, _ in NEEDS},
    )


def rule_fields(form: Mapping[str, str]) -> dict[str, Any]:
    power = form.get("power_level", "")
    if power not in POWER_LEVELS:
        raise FormError("power_level", "is not a power level")
    tier = forms.text(form, "user_tier")
    if tier is not None and tier not in TIERS:
        raise FormError("user_tier", "is not a tier")
    model_id = forms.integer(form, "model_id")
    if model_id is None:
        raise FormError("model_id", "choose a model")
    fields: dict[str, Any] = {
        "model_id": model_id,
        "power_level": power,
        "user_tier": tier,
        "task_type": _task_type(form),
        "priority": forms.integer(form, "priority") or 1,
        "weight": forms.integer(form, "weight") or 100,
        "min_tokens": forms.integer(form, "min_tokens"),
        "max_tokens": forms.integer(form, "max_tokens"),
    }
    for name in ("requires_byok", "is_fallback", "is_active"):
        fields[name] = forms.flag(form, name)
    for name in ("priority", "weight", "min_tokens", "max_tokens"):
        if fields[name] is not None and fields[name] < 0:
            raise FormError(name, "must be zero or more")
    return fields


def refused_field(error: Exception) -> str:
    """Where a refusal naming no field goes: the token bounds when they disagree, else the
    model (another rule has this model, power level, tier and task)."""
    return "max_tokens" if str(error).startswith("max_tokens") else "model_id"


def _task_type(form: Mapping[str, str]) -> str:
    task = normalize_task_type(form.get("task_type"))
    if not TASK_TYPE.match(task):
        raise FormError("task_type", "use a short lower-case word (chat, code, summarize…)")
    return task


def _values_of(rule: Any) -> dict[str, Any]:
    names = ("model_id", "power_level", "task_type", "priority", "weight")
    values: dict[str, Any] = {name: getattr(rule, name) for name in names}
    values["user_tier"] = rule.user_tier or ""
    values["min_tokens"] = "" if rule.min_tokens is None else rule.min_tokens
    values["max_tokens"] = "" if rule.max_tokens is None else rule.max_tokens
    for name in ("requires_byok", "is_fallback", "is_active"):
        values[name] = "on" if getattr(rule, name) else ""
    return values


def _models(session: Session) -> list[Any]:
    return list(catalog_admin.list_models(session, window=Window(limit=MAX_MODELS)).items)


def _page(
    request: Request,
    session: Session,
    gateway: Gateway,
    *,
    tier: str = "",
    power: str = "",
    page: int = 1,
    explain_values: Mapping[str, str] | None = None,
    verdicts: Any = None,
    explain_error: str | None = None,
    explain_errors: page_flow.FieldErrors | None = None,
    rule_values: Mapping[str, str] | None = None,
    rule_errors: page_flow.FieldErrors | None = None,
) -> HTMLResponse:
    page = paging.page_number(page)
    chosen_tier = forms.query_choice(tier, Tier, "tier") or Tier.PROFESSIONAL
    chosen_power = forms.query_choice(power, PowerLevel, "power")
    matrix = routing_admin.routing_matrix(
        session,
        settings=gateway.settings,
        health=gateway.provider_health(),
        user_tier=chosen_tier,
        power_level=chosen_power,
        stored=gateway.stored_snapshot(session),
    )
    rules = routing_admin.list_rules(session, window=paging.rows_of(page))
    defaults = {"tier": chosen_tier.value, "power_level": "balanced", "task_type": "general"}
    models = _models(session)
    return render(
        request,
        "routing.html",
        {
            "title": "Routing",
            "matrix": matrix,
            "shown_candidates": SHOWN_CANDIDATES,
            "filters": {"tier": chosen_tier.value, "power": chosen_power or ""},
            "rules": rules.items,
            **paging.pager(page, rules.total),
            "models": models,
            "model_names": {model.id: model.model_name for model in models},
            "tiers": TIERS,
            "power_levels": POWER_LEVELS,
            "needs": NEEDS,
            "explain_values": explain_values or defaults,
            "verdicts": verdicts,
            "explain_error": explain_error,
            "explain_errors": explain_errors or {},
            "rule_values": rule_values or {"power_level": "balanced", "is_active": "on"},
            "rule_errors": rule_errors or {},
        },
        status_code=422 if rule_errors else 200,
    )


def _rule_page(
    request: Request,
    session: Session,
    rule: Any,
    values: Mapping[str, Any],
    errors: page_flow.FieldErrors | None = None,
) -> HTMLResponse:
    return page_flow.form_page(
        request,
        "rule_form.html",
        {
            "title": f"Rule {rule.id}",
            "rule": rule,
            "values": values,
            "models": _models(session),
            "tiers": TIERS,
            "power_levels": POWER_LEVELS,
        },
        errors,
    )
