"""Admin API: routing rules, the routing matrix, and the explain table."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Query, status

from switchboard.api.admin.schemas_catalog import (
    RuleCreate,
    RulePublic,
    RuleQuery,
    RuleUpdate,
    TaskType,
)
from switchboard.api.admin.schemas_routing import (
    ExplainRequest,
    ExplainResponse,
    ExplainVerdict,
    MatrixCandidate,
    MatrixCell,
    RoutingMatrix,
)
from switchboard.api.deps import AdminDep, GatewayDep, SessionDep
from switchboard.api.schemas import Page, PagingDep, RowIdPath
from switchboard.routing import Verdict
from switchboard.services import routing_admin
from switchboard.vocabulary import PowerLevel, Tier

router = APIRouter(tags=["admin: rules"])


@router.get("/routing/rules")
def list_rules(
    session: SessionDep, filters: Annotated[RuleQuery, Query()], paging: PagingDep
) -> Page[RulePublic]:
    """Rules by id; filter by `model_id` (the model's `id`), `power_level`, `user_tier`,
    `task_type`, `is_active`."""
    page = routing_admin.list_rules(
        session, **cast(routing_admin.RuleFilters, filters.model_dump()), window=paging
    )
    return Page[RulePublic].of(page, RulePublic.model_validate, paging)


@router.post("/routing/rules", status_code=status.HTTP_201_CREATED)
def create_rule(body: RuleCreate, session: SessionDep, actor: AdminDep) -> RulePublic:
    row = routing_admin.create_rule(session, actor=actor, fields=body.row_fields())
    return RulePublic.model_validate(row)


@router.get("/routing/rules/{rule_id}")
def read_rule(rule_id: RowIdPath, session: SessionDep) -> RulePublic:
    return RulePublic.model_validate(routing_admin.get_rule(session, rule_id=rule_id))


@router.patch("/routing/rules/{rule_id}")
def update_rule(
    rule_id: RowIdPath, body: RuleUpdate, session: SessionDep, actor: AdminDep
) -> RulePublic:
    row = routing_admin.update_rule(
        session, actor=actor, rule_id=rule_id, changes=body.row_fields()
    )
    return RulePublic.model_validate(row)


@router.delete("/routing/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: RowIdPath, session: SessionDep, actor: AdminDep) -> None:
    routing_admin.delete_rule(session, actor=actor, rule_id=rule_id)


@router.get("/routing/matrix")
def routing_matrix(
    session: SessionDep,
    gateway: GatewayDep,
    user_tier: Tier | None = None,
    power_level: PowerLevel | None = None,
    task_type: Annotated[TaskType | None, Query()] = None,
) -> RoutingMatrix:
    """For each tier × power level × task type of the rules, the candidates in the order the
    gateway tries them, with their provider and which keys could pay for them. BYOK-only
    rules are included (`requires_byok`); providers down or cooling down come last."""
    cells = routing_admin.routing_matrix(
        session,
        settings=gateway.settings,
        health=gateway.provider_health(),
        user_tier=user_tier,
        power_level=power_level,
        task_type=task_type,
        stored=gateway.stored_snapshot(session),
    )
    return RoutingMatrix(
        cells=[
            MatrixCell(
                user_tier=cell.user_tier,
                power_level=cell.power_level,
                task_type=cell.task_type,
                candidates=[
                    MatrixCandidate.of(position, candidate)
                    for position, candidate in enumerate(cell.candidates, start=1)
                ],
            )
            for cell in cells
        ]
    )


@router.post("/routing/explain")
def explain_route(
    body: ExplainRequest, session: SessionDep, gateway: GatewayDep
) -> ExplainResponse:
    """For a hypothetical request, every model of the catalog: chosen, fallback (in order), or
    rejected and why. With `user_id`, that user's own validated keys count."""
    verdicts = routing_admin.explain_request(
        session,
        settings=gateway.settings,
        health=gateway.provider_health(),
        request=body.route_request(),
        user_id=body.user_id,
    )
    rows = [ExplainVerdict.of(verdict) for verdict in verdicts]
    chosen = next((row for row in rows if row.verdict == Verdict.CHOSEN), None)
    return ExplainResponse(request=body, chosen=chosen, verdicts=rows)
