"""Candidates for a request that names its models (`gpt-4o-mini`, `openai/gpt-4o-mini`, or a
list of names as OpenRouter's `models`): no rule chooses, but the model must still be one the
user may use and that can serve the request. A deprecated model is served by its replacement.
Power levels are not price-capped here: naming a model is choosing its price. When the named
models that the user may use are all too small for the request, the error says so (`misfit`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import replace

from switchboard.catalog.snapshot import CatalogSnapshot, ModelInfo, RuleInfo
from switchboard.routing.checks import Rejected, check_model, check_tokens
from switchboard.routing.health import HEALTHY, HealthView
from switchboard.routing.limits import Capacity, TokenMisfit, misfit_among
from switchboard.routing.planner import Candidate, RoutePlan
from switchboard.routing.reasons import Rejection
from switchboard.routing.request import RouteRequest
from switchboard.vocabulary import KeySource

_ECHOED_CHARS = 100
"""How much of a name the client sent an error repeats."""
_LISTED_PROBLEMS = 5
"""How many of the named models an error lists the problem of."""
_TOO_SMALL = frozenset({Rejection.CONTEXT_TOO_SMALL, Rejection.OUTPUT_TOO_SMALL})


class NamedModelProblem(enum.IntEnum):
    """Ordered by how much it tells the client: the most telling one is reported."""

    UNKNOWN = 1
    CANNOT_SERVE = 2
    NOT_ALLOWED = 3


class NamedModelError(Exception):
    """None of the named models can serve the request; `problem` says why, for the status.
    `misfit` is set when some of them could, but for the request's size."""

    def __init__(
        self, problem: NamedModelProblem, message: str, misfit: TokenMisfit | None = None
    ) -> None:
        super().__init__(message)
        self.problem = problem
        self.misfit = misfit


def plan_named(
    snapshot: CatalogSnapshot,
    names: Sequence[str],
    request: RouteRequest,
    *,
    byok_providers: frozenset[int] = frozenset(),
    health: HealthView = HEALTHY,
) -> RoutePlan:
    """The named models that may serve `request`, in the order named (the models a name
    matches on several providers in catalog order), healthy before demoted."""
    accepted: list[Candidate] = []
    problems: list[tuple[NamedModelProblem, str]] = []
    too_small: list[Capacity] = []
    seen: set[int] = set()
    for name in names:
        matches = snapshot.find_models(name)
        if not matches:
            problems.append((NamedModelProblem.UNKNOWN, f"model {_echo(name)} does not exist"))
            continue
        for asked in matches:
            model = snapshot.serving_model(asked)
            if model.id in seen:
                continue
            rejected = _rejected(snapshot, model, request)
            if rejected is not None:
                problems.append(_problem(model, rejected))
                if rejected.reason in _TOO_SMALL:
                    too_small.append(Capacity.of_model(model))
                continue
            seen.add(model.id)
            accepted.append(_candidate(snapshot, model, name, byok_providers, health))
    if not accepted:
        if not problems:
            raise NamedModelError(NamedModelProblem.UNKNOWN, "no model was named")
        worst = max(problem for problem, _ in problems)
        listed = [message for _, message in problems[:_LISTED_PROBLEMS]]
        if len(problems) > _LISTED_PROBLEMS:
            listed.append(f"and {len(problems) - _LISTED_PROBLEMS} more")
        raise NamedModelError(worst, "; ".join(listed), misfit_among(too_small, request))
    ordered = [c for c in accepted if not c.demoted] + [c for c in accepted if c.demoted]
    return RoutePlan(request, iter(ordered))


def _echo(name: str) -> str:
    """A name the client sent, quoted, and cut short: an error never repeats a huge input."""
    return repr(name if len(name) <= _ECHOED_CHARS else name[:_ECHOED_CHARS] + "…")


def _rejected(
    snapshot: CatalogSnapshot, model: ModelInfo, request: RouteRequest
) -> Rejected | None:
    as_its_level = replace(request, power_level=model.power_level or request.power_level)
    rejected = check_model(snapshot, model, snapshot.provider_of(model), as_its_level)
    if rejected is not None and rejected.reason is Rejection.PRICE_CEILING:
        rejected = None
    return rejected or check_tokens(model, request)


def _problem(model: ModelInfo, rejected: Rejected) -> tuple[NamedModelProblem, str]:
    problem = (
        NamedModelProblem.NOT_ALLOWED
        if rejected.reason is Rejection.TIER_TOO_LOW
        else NamedModelProblem.CANNOT_SERVE
    )
    return problem, f"model {model.model_id!r}: {rejected.reason} ({rejected.detail})"


def _candidate(
    snapshot: CatalogSnapshot,
    model: ModelInfo,
    name: str,
    byok_providers: frozenset[int],
    health: HealthView,
) -> Candidate:
    provider = snapshot.providers[model.provider_id]
    byok = provider.is_byok_supported and provider.id in byok_providers
    return Candidate(
        model=model,
        provider=provider,
        rule=RuleInfo(id=0, model_id=model.id, power_level=model.power_level),
        key_source=KeySource.BYOK if byok else KeySource.SYSTEM,
        has_usable_key=byok or provider.has_system_key or not provider.needs_key,
        demoted=provider.reported_down or health.is_cooling(provider.id, model.id),
        requested_as=name,
    )
