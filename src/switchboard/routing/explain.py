"""`explain_route`: for every model in the catalog, chosen, fallback, or rejected and why."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from switchboard.catalog.snapshot import CatalogSnapshot, ModelInfo, RuleInfo
from switchboard.routing.checks import (
    Rejected,
    check_model,
    check_price_tier,
    check_rule,
    check_tokens,
    rule_applies,
)
from switchboard.routing.health import HEALTHY, HealthView
from switchboard.routing.planner import Candidate, plan_route
from switchboard.routing.reasons import Rejection
from switchboard.routing.request import RouteRequest

NO_USABLE_KEY = "no usable key"

# When a model has several rules that apply and all fail, report the one that came closest.
_RULE_REJECTION_ORDER = (Rejection.TASK_MISMATCH, Rejection.TOKEN_BOUNDS, Rejection.BYOK_REQUIRED)


class Verdict(enum.StrEnum):
    CHOSEN = "chosen"
    FALLBACK = "fallback"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ModelVerdict:
    model_db_id: int
    model_id: str
    model_name: str
    provider_slug: str
    verdict: Verdict
    position: int | None = None
    """1 for the choice, 2 for the first fallback…; None when rejected."""
    reason: Rejection | None = None
    detail: str = ""
    rule_id: int | None = None
    key_source: str | None = None
    notes: tuple[str, ...] = ()


def explain_route(
    snapshot: CatalogSnapshot,
    request: RouteRequest,
    *,
    byok_providers: frozenset[int] = frozenset(),
    health: HealthView = HEALTHY,
    rng: random.Random | None = None,
) -> list[ModelVerdict]:
    """The plan's candidates in order, then every other model with the reason it was left out.
    The chosen one is the first candidate with a usable key (the one the gateway calls first;
    candidates without a key are skipped), or the first candidate when none has a key."""
    plan = plan_route(snapshot, request, byok_providers=byok_providers, health=health, rng=rng)
    chosen = plan.usable_choice
    verdicts = [
        _candidate_verdict(position, candidate, chosen=candidate is chosen)
        for position, candidate in enumerate(plan.candidates, start=1)
    ]
    planned = {candidate.model.id for candidate in plan.candidates}
    rules_by_model: dict[int, list[RuleInfo]] = {}
    for rule in snapshot.rules:
        rules_by_model.setdefault(rule.model_id, []).append(rule)
    rejected = [
        _rejected_verdict(
            snapshot, model, request, rules_by_model.get(model.id, []), byok_providers
        )
        for model in snapshot.models.values()
        if model.id not in planned
    ]
    rejected.sort(key=lambda verdict: (verdict.provider_slug, verdict.model_id))
    return verdicts + rejected


def _candidate_verdict(position: int, candidate: Candidate, *, chosen: bool) -> ModelVerdict:
    notes = []
    if not candidate.has_usable_key:
        notes.append(NO_USABLE_KEY)
    if candidate.provider.reported_down:
        notes.append(f"provider unhealthy ({candidate.provider.health_status}): tried last")
    elif candidate.demoted:
        notes.append("cooling down: tried last")
    return ModelVerdict(
        model_db_id=candidate.model.id,
        model_id=candidate.model.model_id,
        model_name=candidate.model.name,
        provider_slug=candidate.provider.slug,
        verdict=Verdict.CHOSEN if chosen else Verdict.FALLBACK,
        position=position,
        detail=candidate.route_reason,
        rule_id=candidate.rule.id,
        key_source=candidate.key_source,
        notes=tuple(notes),
    )


def _rejected_verdict(
    snapshot: CatalogSnapshot,
    model: ModelInfo,
    request: RouteRequest,
    rules: list[RuleInfo],
    byok_providers: frozenset[int],
) -> ModelVerdict:
    provider = snapshot.provider_of(model)
    rejected = (
        check_model(snapshot, model, provider, request)
        or check_tokens(model, request)
        or check_price_tier(snapshot, model, request)
    )
    if rejected is None and provider is not None:
        rejected = _closest_rule_rejection(rules, request, byok_providers, provider.id)
    rejected = rejected or Rejected(Rejection.NO_MATCHING_RULE, "no rule placed it")
    return ModelVerdict(
        model_db_id=model.id,
        model_id=model.model_id,
        model_name=model.name,
        provider_slug=provider.slug if provider else "?",
        verdict=Verdict.REJECTED,
        reason=rejected.reason,
        detail=rejected.detail,
    )


def _closest_rule_rejection(
    rules: list[RuleInfo], request: RouteRequest, byok_providers: frozenset[int], provider_id: int
) -> Rejected:
    applicable = [rule for rule in rules if rule_applies(rule, request)]
    if not applicable:
        return Rejected(
            Rejection.NO_MATCHING_RULE,
            f"no active rule for {request.power_level} at tier {request.user_tier}",
        )
    failures = [
        failure
        for rule in applicable
        if (failure := check_rule(rule, request, byok_providers, provider_id)) is not None
    ]
    if not failures:
        return Rejected(Rejection.NO_MATCHING_RULE, "no rule placed it")
    return max(failures, key=lambda failure: _RULE_REJECTION_ORDER.index(failure.reason))
