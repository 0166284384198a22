"""Telling "no model can take this many tokens" apart from every other reason a request has
nowhere to go. Pure.

A request that no candidate can serve is usually the gateway's problem (a 503: nothing is
configured for it right now). When what stopped every model that could otherwise serve it is
the request's size, it is the client's to fix: `token_misfit` says which limit stopped it (the
answer the client allows for, `max_tokens`, over every model's output limit; or the whole
request over every context window and rule bound) and the largest that any of them takes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from switchboard.catalog.snapshot import CatalogSnapshot, ModelInfo
from switchboard.routing.checks import check_model, rule_applies, task_matches
from switchboard.routing.reasons import Rejection
from switchboard.routing.request import RouteRequest
from switchboard.vocabulary import GENERAL_TASK


@dataclass(frozen=True, slots=True)
class Capacity:
    """The tokens one deployment takes: `min_total` to `max_total` in all (prompt and answer),
    an answer of at most `max_output`; None is no limit."""

    min_total: int = 0
    max_total: int | None = None
    max_output: int | None = None

    @classmethod
    def of_model(cls, model: ModelInfo) -> Capacity:
        return cls(max_total=model.context_window, max_output=model.max_tokens)


@dataclass(frozen=True, slots=True)
class TokenMisfit:
    """The request is too large for every model that could otherwise serve it."""

    reason: Rejection
    """`OUTPUT_TOO_SMALL` (the answer allowed for) or `CONTEXT_TOO_SMALL` (the whole request)."""
    requested: int
    """The tokens asked for: the answer's (`max_tokens`) or the whole request's (estimated)."""
    limit: int
    """The most that any of those models takes."""


def token_misfit(
    snapshot: CatalogSnapshot, request: RouteRequest, *, byok_providers: frozenset[int]
) -> TokenMisfit | None:
    """Why `plan_route` found no candidate for `request`, when its size is why; else None."""
    return misfit_among(_routed_capacities(snapshot, request, byok_providers), request)


def misfit_among(capacities: Iterable[Capacity], request: RouteRequest) -> TokenMisfit | None:
    """The limit that stops `request` on every one of `capacities`, or None when one takes it
    or when there are none (then its size is not what stops it)."""
    fitting = list(capacities)
    if not fitting:
        return None
    output = request.max_output_tokens
    if output is not None:
        limits = [capacity.max_output for capacity in fitting]
        bounded = [limit for limit in limits if limit is not None]
        if len(bounded) == len(limits) and output > max(bounded):
            return TokenMisfit(Rejection.OUTPUT_TOO_SMALL, output, max(bounded))
        fitting = [c for c in fitting if c.max_output is None or output <= c.max_output]
    total = request.estimated_tokens
    if total is None:
        return None
    # A request under a rule's minimum is not too large: that is the catalog's to answer for.
    large_enough = [capacity for capacity in fitting if capacity.min_total <= total]
    windows = [capacity.max_total for capacity in large_enough]
    if not windows or any(window is None or total <= window for window in windows):
        return None
    return TokenMisfit(Rejection.CONTEXT_TOO_SMALL, total, max(w for w in windows if w is not None))


def _routed_capacities(
    snapshot: CatalogSnapshot, request: RouteRequest, byok_providers: frozenset[int]
) -> list[Capacity]:
    """What each rule that would place `request`, but for its size, lets through."""
    task = request.task_type if request.task_type in snapshot.task_types else GENERAL_TASK
    capacities = []
    for rule in snapshot.rules_by_power.get(request.power_level, ()):
        model = snapshot.models.get(rule.model_id)
        if model is None or not rule_applies(rule, request) or not task_matches(rule, task):
            continue
        provider = snapshot.provider_of(model)
        if provider is None or check_model(snapshot, model, provider, request) is not None:
            continue
        if rule.requires_byok and provider.id not in byok_providers:
            continue
        bounds = [limit for limit in (rule.max_tokens, model.context_window) if limit is not None]
        capacities.append(
            Capacity(
                min_total=rule.min_tokens or 0,
                max_total=min(bounds) if bounds else None,
                max_output=model.max_tokens,
            )
        )
    return capacities
