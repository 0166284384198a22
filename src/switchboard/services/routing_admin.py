"""Routing administration: the rules, and what routing makes of the catalog.

Rules are changed like the rest of the catalog (see `catalog_admin`: audited, committed, and
picked up by every gateway replica at its next catalog poll). The matrix and the explain table
are computed from the catalog as stored now, so they show a change at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any, TypedDict, Unpack

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.catalog.loader import load_byok_providers, load_snapshot, price_ceilings
from switchboard.catalog.snapshot import CatalogSnapshot
from switchboard.errors import ConflictError, NotFoundError
from switchboard.models import LLMModel, LLMRoutingRule
from switchboard.routing import (
    Candidate,
    HealthView,
    ModelVerdict,
    RouteRequest,
    explain_route,
    plan_route,
)
from switchboard.services import rows
from switchboard.services.audit import Action, Entity, snapshot_row
from switchboard.services.paging import FIRST_PAGE, Page, Window, page_of, rows_where
from switchboard.settings import Settings
from switchboard.vocabulary import GENERAL_TASK, PowerLevel, Tier


class RuleFilters(TypedDict, total=False):
    model_id: int | None
    """The model's row id."""
    power_level: str | None
    user_tier: str | None
    task_type: str | None
    is_active: bool | None


def list_rules(
    session: Session, *, window: Window = FIRST_PAGE, **filters: Unpack[RuleFilters]
) -> Page[LLMRoutingRule]:
    """A page of rules by id, and how many match in all."""
    rule = LLMRoutingRule
    return page_of(session, rows_where(rule, filters), rule.id, window=window)


def get_rule(session: Session, *, rule_id: int) -> LLMRoutingRule:
    return rows.get_row(session, LLMRoutingRule, rule_id, f"routing rule {rule_id}")


def create_rule(session: Session, *, actor: str, fields: Mapping[str, Any]) -> LLMRoutingRule:
    """A new rule; a ConflictError naming the rule that has its identity already (model,
    power level, tier, task type), should there be one."""
    rule = LLMRoutingRule(**fields)
    _check_rule(session, rule)
    session.add(rule)
    _commit_rule(session, rows.Change(actor, Action.CREATE, Entity.ROUTING_RULE), rule, None)
    return rule


def update_rule(
    session: Session, *, actor: str, rule_id: int, changes: Mapping[str, Any]
) -> LLMRoutingRule:
    rule = get_rule(session, rule_id=rule_id)
    before = snapshot_row(rule)
    rows.apply_changes(rule, changes)
    _check_rule(session, rule)
    _commit_rule(session, rows.Change(actor, Action.UPDATE, Entity.ROUTING_RULE), rule, before)
    return rule


def delete_rule(session: Session, *, actor: str, rule_id: int) -> None:
    change = rows.Change(actor, Action.DELETE, Entity.ROUTING_RULE)
    rows.delete_row(session, change, get_rule(session, rule_id=rule_id))
    rows.commit(session, change)


def _check_rule(session: Session, rule: LLMRoutingRule) -> None:
    """What the schemas cannot see: the model exists, the bounds agree with the stored ones,
    and no other rule has the rule's identity."""
    with session.no_autoflush:  # the change is checked before it is written
        model = session.get(LLMModel, rule.model_id)
    if model is None:
        raise NotFoundError(f"model {rule.model_id} does not exist")
    if (
        rule.min_tokens is not None
        and rule.max_tokens is not None
        and rule.max_tokens < rule.min_tokens
    ):
        raise ConflictError(f"max_tokens {rule.max_tokens} is below min_tokens {rule.min_tokens}")
    with session.no_autoflush:
        _Identity.of(rule).check_free(session, rule.id)


def _commit_rule(
    session: Session, change: rows.Change, rule: LLMRoutingRule, before: dict[str, Any] | None
) -> None:
    """`commit_change`; when a concurrent change took the rule's identity first, the conflict
    names the rule that took it."""
    identity = _Identity.of(rule)  # read now: a failed commit expires the row
    own_id = rule.id
    try:
        rows.commit_change(session, change, rule, before)
    except ConflictError:
        identity.check_free(session, own_id)
        raise


@dataclass(frozen=True, slots=True)
class _Identity:
    """What identifies a rule: the database holds it unique (`models.catalog.LLMRoutingRule`)."""

    model_id: int
    power_level: str
    user_tier: str | None
    task_type: str

    @classmethod
    def of(cls, rule: LLMRoutingRule) -> _Identity:
        # A new rule gets its column defaults only when it is written: no task is `general`.
        task_type = GENERAL_TASK if rule.task_type is None else rule.task_type
        return cls(rule.model_id, rule.power_level, rule.user_tier, task_type)

    def check_free(self, session: Session, own_id: int | None) -> None:
        """A ConflictError naming another rule with this identity, if there is one."""
        rule = LLMRoutingRule
        tier = (
            rule.user_tier.is_(None) if self.user_tier is None else rule.user_tier == self.user_tier
        )
        query = select(rule.id).where(
            rule.model_id == self.model_id,
            rule.power_level == self.power_level,
            tier,
            rule.task_type == self.task_type,
        )
        if own_id is not None:
            query = query.where(rule.id != own_id)
        other = session.scalar(query)
        if other is not None:
            tiers = "every tier" if self.user_tier is None else f"tier {self.user_tier}"
            raise ConflictError(
                f"routing rule {other} already routes {self.power_level} requests of {tiers} "
                f"with task {self.task_type!r} to model {self.model_id}; change that rule instead"
            )


# What routing makes of the catalog -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatrixCell:
    user_tier: Tier
    power_level: PowerLevel
    task_type: str
    candidates: tuple[Candidate, ...]


def routing_matrix(
    session: Session,
    *,
    settings: Settings,
    health: HealthView,
    user_tier: Tier | None = None,
    power_level: PowerLevel | None = None,
    task_type: str | None = None,
    stored: CatalogSnapshot | None = None,
) -> list[MatrixCell]:
    """For each tier × power level × task type of the rules, the ordered candidates (as for a
    user holding a key of every BYOK provider, so BYOK-only rules show too). `stored`: the
    catalog as stored now, when the caller holds it (the gateway's, unchanged since loaded);
    it is reused with its memo of routing work, which with 10,000 models saves about a
    second over loading the catalog and planning every cell afresh."""
    snapshot = stored or load_snapshot(
        session,
        ceilings=price_ceilings(settings),
        environ=settings.provider_key_environment(),
    )
    byok = frozenset(p.id for p in snapshot.providers.values() if p.is_byok_supported)
    tasks = sorted(snapshot.task_types | {GENERAL_TASK}, key=lambda t: (t != GENERAL_TASK, t))
    cells = []
    for tier in _only(Tier, user_tier):
        for power in _only(PowerLevel, power_level):
            for task in [task_type] if task_type is not None else tasks:
                request = RouteRequest(user_tier=tier, power_level=power, task_type=task)
                plan = plan_route(snapshot, request, byok_providers=byok, health=health)
                cells.append(MatrixCell(tier, power, task, _heaviest_first(plan.candidates, task)))
    return cells


def explain_request(
    session: Session,
    *,
    settings: Settings,
    health: HealthView,
    request: RouteRequest,
    user_id: str | None = None,
) -> list[ModelVerdict]:
    """Every model of the catalog, as now stored: chosen, fallback, or rejected and why."""
    snapshot = load_snapshot(
        session,
        ceilings=price_ceilings(settings),
        environ=settings.provider_key_environment(),
    )
    byok = load_byok_providers(session, user_id) if user_id else frozenset()
    return explain_route(snapshot, request, byok_providers=byok, health=health)


def _heaviest_first(candidates: Iterable[Candidate], task: str) -> tuple[Candidate, ...]:
    """Candidates tied on everything but weight are ordered by a weighted draw on each request
    (see `routing.planner`); a table shows them heaviest first, so it reads the same each time."""

    def place(candidate: Candidate) -> tuple[bool, bool, bool, int, int]:
        rule = candidate.rule
        return (
            candidate.demoted,
            rule.is_fallback,
            rule.task_type != task,
            rule.priority,
            candidate.model.power_level_priority,
        )

    ordered: list[Candidate] = []
    for _, tied in groupby(candidates, key=place):
        ordered += sorted(tied, key=lambda candidate: (-candidate.rule.weight, candidate.rule.id))
    return tuple(ordered)


def _only(vocabulary: Iterable[Any], value: Any) -> list[Any]:
    return [value] if value is not None else list(vocabulary)
