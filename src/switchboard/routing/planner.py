"""`plan_route`: the ordered candidates for a request. Pure: same inputs, same answer.

Order: non-fallback rules before fallback rules; an exact task match before a `general`
rule; then `priority` (1 first); then the model's `power_level_priority` (1 first); among
what is still tied, a weighted random order by the rules' `weight` (Efraimidis–Spirakis:
the chance of coming first is proportional to the weight). A model reachable through several
rules appears once, at its best place. Candidates whose provider or model is cooling down, or
whose provider's last health check said down, come after all the others, in the same order.

A model whose own output limit (`max_tokens` on the model) is below the answer the client
allows for (its `max_tokens`) is left out, as one whose context window is too small: another
model may take the request. When none can, `routing.limits` says which limit stopped it.

The part of this that does not depend on the token count, the user's keys or health is
computed once per (tier, power level, task, needs) and memoised in the snapshot's
`route_cache`: a bounded memo, and the one thing routing writes. That keeps `plan_route` pure
in what it answers: the memoised value is a function of the snapshot and the key alone, so a
hit, a miss and an evicted entry all give the same plan.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import groupby

from switchboard.catalog.snapshot import CatalogSnapshot, ModelInfo, ProviderInfo, RuleInfo
from switchboard.routing.checks import check_model, rule_applies, task_matches
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
    requested_as: str | None = None
    """The name the client asked for, when the model was requested by name (no rule chose it)."""

    @property
    def route_reason(self) -> str:
        if self.requested_as is not None:
            return f"requested as {self.requested_as}"
        kind = "fallback rule" if self.rule.is_fallback else "rule"
        return f"{kind} {self.rule.id} ({self.rule.task_type}, priority {self.rule.priority})"


class RoutePlan:
    """The ordered candidates for one request, produced lazily: the gateway usually needs only
    the first one or two, so the weighted shuffles of later tie groups are done only when
    someone walks that far. Walking it twice gives the same order."""

    def __init__(self, request: RouteRequest, candidates: Iterator[Candidate]) -> None:
        self.request = request
        self._pending: Iterator[Candidate] | None = candidates
        self._taken: list[Candidate] = []

    def __iter__(self) -> Iterator[Candidate]:
        position = 0
        while True:
            if position < len(self._taken):
                yield self._taken[position]
                position += 1
            elif self._pending is None:
                return
            else:
                candidate = next(self._pending, None)
                if candidate is None:
                    self._pending = None
                    return
                self._taken.append(candidate)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RoutePlan):
            return NotImplemented
        return self.request == other.request and self.candidates == other.candidates

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RoutePlan({self.request!r}, {len(self.candidates)} candidates)"

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        """All of them, in order."""
        return tuple(self)

    @property
    def choice(self) -> Candidate | None:
        """The first candidate, whether or not a key is configured for it."""
        return next(iter(self), None)

    @property
    def usable_choice(self) -> Candidate | None:
        """The first candidate with a usable key, else the first candidate: the model that
        `select_model` returns and that the gateway calls first."""
        usable = next((c for c in self if c.has_usable_key), None)
        return usable or self.choice


@dataclass(frozen=True, slots=True)
class _Entry:
    """A rule that passed every check that does not depend on tokens, keys or health, with
    what the remaining checks need, precomputed."""

    rule: RuleInfo
    model: ModelInfo
    provider: ProviderInfo
    min_tokens: int
    max_tokens: float
    max_output: float
    """The model's own output limit (`max_tokens` on the model), for the client's `max_tokens`."""
    byok_provider: int | None
    """The provider the user needs a key for (`requires_byok`), else None."""
    price_ceiling: Decimal | None
    """The power level's ceiling, for a model whose price depends on the prompt's size (its
    price tiers); None when the check before this one settled it."""
    system: Candidate
    byok: Candidate | None


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
    groups = _static_groups(snapshot, request)
    # The plan is ordered lazily, so it draws from a generator of its own, seeded now: what the
    # caller does with `rng` afterwards cannot change a plan already returned.
    own_rng = random.Random((rng or random.Random()).getrandbits(64))
    return RoutePlan(request, _ordered(groups, request, byok_providers, health, own_rng))


def _ordered(
    groups: tuple[tuple[_Entry, ...], ...],
    request: RouteRequest,
    byok_providers: frozenset[int],
    health: HealthView,
    rng: random.Random,
) -> Iterator[Candidate]:
    tokens = request.estimated_tokens
    output = request.max_output_tokens
    prompt = request.prompt_tokens
    seen: set[int] = set()
    demoted: list[Candidate] = []
    for group in groups:
        survivors = [
            entry
            for entry in group
            if (tokens is None or entry.min_tokens <= tokens <= entry.max_tokens)
            and (output is None or output <= entry.max_output)
            and (entry.byok_provider is None or entry.byok_provider in byok_providers)
            and (
                entry.price_ceiling is None
                or entry.model.prices_at(prompt).blended <= entry.price_ceiling
            )
        ]
        if len(survivors) > 1:
            survivors = _weighted_order(survivors, rng)
        for entry in survivors:
            if entry.model.id in seen:
                continue
            seen.add(entry.model.id)
            candidate = (
                entry.byok
                if entry.byok is not None and entry.provider.id in byok_providers
                else entry.system
            )
            if not candidate.demoted and health.is_cooling(entry.provider.id, entry.model.id):
                candidate = replace(candidate, demoted=True)
            if candidate.demoted:
                demoted.append(candidate)
            else:
                yield candidate
    yield from demoted


def _static_groups(
    snapshot: CatalogSnapshot, request: RouteRequest
) -> tuple[tuple[_Entry, ...], ...]:
    task = request.task_type if request.task_type in snapshot.task_types else GENERAL_TASK
    key = (request.user_tier, request.power_level, task, request.needs)
    groups: tuple[tuple[_Entry, ...], ...] | None = snapshot.route_cache.get(key)
    if groups is None:
        groups = _build_groups(snapshot, request, task)
        snapshot.route_cache.put(key, groups)
    return groups


def _build_groups(
    snapshot: CatalogSnapshot, request: RouteRequest, task: str
) -> tuple[tuple[_Entry, ...], ...]:
    entries = []
    model_ok: dict[int, bool] = {}
    for rule in snapshot.rules_by_power.get(request.power_level, ()):
        if not rule_applies(rule, request) or not task_matches(rule, task):
            continue
        model = snapshot.models.get(rule.model_id)
        if model is None:
            continue
        provider = snapshot.provider_of(model)
        if provider is None:
            continue
        if model.id not in model_ok:
            model_ok[model.id] = check_model(snapshot, model, provider, request) is None
        if model_ok[model.id]:
            entries.append(
                _entry(rule, model, provider, snapshot.price_ceiling(request.power_level))
            )
    entries.sort(key=lambda entry: _static_key(entry, task))
    return tuple(
        tuple(group) for _, group in groupby(entries, key=lambda entry: _static_key(entry, task))
    )


def _entry(
    rule: RuleInfo, model: ModelInfo, provider: ProviderInfo, ceiling: Decimal | None
) -> _Entry:
    """Token bounds and context window become one window; both candidates are made once."""
    limits = [limit for limit in (rule.max_tokens, model.context_window) if limit is not None]
    system = Candidate(
        model=model,
        provider=provider,
        rule=rule,
        key_source=KeySource.SYSTEM,
        has_usable_key=provider.has_system_key or not provider.needs_key,
        demoted=provider.reported_down,
    )
    return _Entry(
        rule=rule,
        model=model,
        provider=provider,
        min_tokens=rule.min_tokens or 0,
        max_tokens=min(limits) if limits else float("inf"),
        max_output=model.max_tokens if model.max_tokens is not None else float("inf"),
        byok_provider=provider.id if rule.requires_byok else None,
        price_ceiling=ceiling if model.price_tiers else None,
        system=system,
        byok=(
            replace(system, key_source=KeySource.BYOK, has_usable_key=True)
            if provider.is_byok_supported
            else None
        ),
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
