"""`plan_route`: the ordered candidates for a request. Pure: same inputs, same answer.

Order: non-fallback rules before fallback rules; an exact task match before a `general`
rule; then `priority` (1 first); then the model's `power_level_priority` (1 first); among
what is still tied, a weighted random order by the rules' `weight` (Efraimidis–Spirakis:
the chance of coming first is proportional to the weight). A model reachable through several
rules appears once, at its best place. Candidates whose provider or model is cooling down, or
whose provider's last health check said down, come after all the others, in the same order.

The part of this that does not depend on the token count, the user's keys or health is
computed once per (tier, power level, task, needs) and memoised in the snapshot.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import groupby

from switchboard.catalog.snapshot import CatalogSnapshot, ModelInfo, ProviderInfo, RuleInfo
from switchboard.routing.checks import (
    check_context,
    check_model,
    check_token_bounds,
    rule_applies,
    task_matches,
)
from switchboard.routing.health import HEALTHY, HealthView
from switchboard.routing.request import RouteRequest
from switchboard.vocabulary import GENERAL_TASK, KeySource


@dataclass(frozen=True, slots=True)
class Candidate:
    model: ModelInfo
    provider: ProviderInfo
    rule: RuleInfo
    key_source: KeySource
    has_usable_key: bool
    demoted: bool

    @property
    def route_reason(self) -> str:
        kind = "fallback rule" if self.rule.is_fallback else "rule"
        return f"{kind} {self.rule.id} ({self.rule.task_type}, priority {self.rule.priority})"


@dataclass(frozen=True, slots=True)
class RoutePlan:
    request: RouteRequest
    candidates: tuple[Candidate, ...]

    @property
    def choice(self) -> Candidate | None:
        """The first candidate, whether or not a key is configured for it."""
        return self.candidates[0] if self.candidates else None

    @property
    def usable_choice(self) -> Candidate | None:
        """The first candidate with a usable key, else the first candidate: the model that
        `select_model` returns and that the gateway calls first."""
        usable = next((c for c in self.candidates if c.has_usable_key), None)
        return usable or self.choice


@dataclass(frozen=True, slots=True)
class _Entry:
    rule: RuleInfo
    model: ModelInfo
    provider: ProviderInfo


def plan_route(
    snapshot: CatalogSnapshot,
    request: RouteRequest,
    *,
    byok_providers: frozenset[int] = frozenset(),
    health: HealthView = HEALTHY,
    rng: random.Random | None = None,
) -> RoutePlan:
    """Every model that may serve `request`, best first. `byok_providers` are the ids of the
    providers for which the user has an active, validated key of their own."""
    rng = rng or random.Random()
    tokens = request.estimated_tokens
    ordered: list[Candidate] = []
    demoted: list[Candidate] = []
    seen: set[int] = set()
    for group in _static_groups(snapshot, request):
        survivors = [
            entry
            for entry in group
            if entry.model.id not in seen
            and (
                tokens is None
                or (
                    check_context(entry.model, tokens) is None
                    and check_token_bounds(entry.rule, tokens) is None
                )
            )
            and (not entry.rule.requires_byok or entry.provider.id in byok_providers)
        ]
        if len(survivors) > 1:
            survivors = _weighted_order(survivors, rng)
        for entry in survivors:
            if entry.model.id in seen:
                continue
            seen.add(entry.model.id)
            candidate = _candidate(entry, byok_providers, health)
            (demoted if candidate.demoted else ordered).append(candidate)
    return RoutePlan(request=request, candidates=(*ordered, *demoted))


def _candidate(entry: _Entry, byok_providers: frozenset[int], health: HealthView) -> Candidate:
    provider = entry.provider
    byok = provider.is_byok_supported and provider.id in byok_providers
    return Candidate(
        model=entry.model,
        provider=provider,
        rule=entry.rule,
        key_source=KeySource.BYOK if byok else KeySource.SYSTEM,
        has_usable_key=byok or provider.has_system_key or not provider.needs_key,
        demoted=provider.reported_down or health.is_cooling(provider.id, entry.model.id),
    )


def _static_groups(
    snapshot: CatalogSnapshot, request: RouteRequest
) -> tuple[tuple[_Entry, ...], ...]:
    task = request.task_type if request.task_type in snapshot.task_types else GENERAL_TASK
    key = (request.user_tier, request.power_level, task, request.needs)
    groups: tuple[tuple[_Entry, ...], ...] | None = snapshot.route_cache.get(key)
    if groups is None:
        groups = _build_groups(snapshot, request, task)
        snapshot.route_cache[key] = groups
    return groups


def _build_groups(
    snapshot: CatalogSnapshot, request: RouteRequest, task: str
) -> tuple[tuple[_Entry, ...], ...]:
    entries = []
    for rule in snapshot.rules_by_power.get(request.power_level, ()):
        if not rule_applies(rule, request) or not task_matches(rule, task):
            continue
        model = snapshot.models.get(rule.model_id)
        if model is None:
            continue
        provider = snapshot.provider_of(model)
        if provider is None or check_model(snapshot, model, provider, request) is not None:
            continue
        entries.append(_Entry(rule, model, provider))
    entries.sort(key=lambda entry: _static_key(entry, task))
    return tuple(
        tuple(group) for _, group in groupby(entries, key=lambda entry: _static_key(entry, task))
    )


def _static_key(entry: _Entry, task: str) -> tuple[bool, bool, int, int]:
    return (
        entry.rule.is_fallback,
        entry.rule.task_type != task,
        entry.rule.priority,
        entry.model.power_level_priority,
    )


def _weighted_order(entries: list[_Entry], rng: random.Random) -> list[_Entry]:
    """A random order in which each entry comes first with probability weight / total.
    Entries of weight 0 or less come last."""

    def sort_key(entry: _Entry) -> float:
        weight = entry.rule.weight
        return rng.random() ** (1.0 / weight) if weight > 0 else -1.0

    return sorted(entries, key=sort_key, reverse=True)
