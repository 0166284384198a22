"""The routing views' bodies: the routing matrix and the explain table (Pydantic v2)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, BeforeValidator, Field, StrictBool

from switchboard.api.admin.schemas_catalog import Body, TaskType
from switchboard.api.schemas import USER_ID_PATTERN, json_integer, with_examples
from switchboard.routing import Candidate, ModelVerdict, RouteRequest
from switchboard.vocabulary import PowerLevel, Tier

TokenEstimate = Annotated[int, Field(ge=0, le=10**9), BeforeValidator(json_integer)]
TIES = "Each request orders candidates of equal priority by a weighted draw by `weight`."


class Needs(Body):
    streaming: StrictBool = False
    function_calling: StrictBool = False
    vision: StrictBool = False
    json_mode: StrictBool = False


class ExplainRequest(Body):
    model_config = with_examples(
        {"tier": "professional", "power_level": "balanced", "task_type": "code"}
        | {"estimated_tokens": 1000, "needs": {"streaming": True}, "user_id": "user-42"}
    )
    _nullable: ClassVar[frozenset[str]] = frozenset({"estimated_tokens", "user_id"})

    tier: Tier
    power_level: PowerLevel
    task_type: TaskType = "general"
    estimated_tokens: TokenEstimate | None = None
    needs: Needs = Field(default_factory=Needs)
    user_id: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        pattern=USER_ID_PATTERN,
        description="Whose own (BYOK) keys to count.",
    )

    def route_request(self) -> RouteRequest:
        return RouteRequest(
            user_tier=self.tier,
            power_level=self.power_level,
            task_type=self.task_type,
            estimated_tokens=self.estimated_tokens,
            require_streaming=self.needs.streaming,
            require_function_calling=self.needs.function_calling,
            require_vision=self.needs.vision,
            require_json_mode=self.needs.json_mode,
        )


class ExplainVerdict(BaseModel):
    position: int | None = Field(description="1 for the choice, 2 for the first fallback…")
    verdict: str = Field(description="`chosen`, `fallback` or `rejected`.")
    model_db_id: int
    model_id: str
    model_name: str
    provider_slug: str
    reason: str | None = Field(description="Why it was rejected.")
    detail: str
    rule_id: int | None
    key_source: str | None
    notes: list[str]

    @classmethod
    def of(cls, verdict: ModelVerdict) -> ExplainVerdict:
        # Same names on both sides: Pydantic reads them itself.
        return cls.model_validate(verdict, from_attributes=True)


class ExplainResponse(BaseModel):
    request: ExplainRequest
    chosen: ExplainVerdict | None
    verdicts: list[ExplainVerdict] = Field(description="Candidates in order, then the rest.")
    note: str = TIES + " This is one such draw."


class MatrixCandidate(BaseModel):
    position: int
    model_db_id: int
    model_id: str
    model_name: str
    provider_id: int
    provider_slug: str
    rule_id: int
    priority: int
    weight: int
    is_fallback: bool
    requires_byok: bool = Field(description="Only for users with their own validated key.")
    system_key: bool = Field(description="The provider has a system key (or needs none).")
    byok_supported: bool
    health_status: str
    demoted: bool = Field(description="Down or cooling down: tried last.")

    @classmethod
    def of(cls, position: int, candidate: Candidate) -> MatrixCandidate:
        provider, rule, model = candidate.provider, candidate.rule, candidate.model
        return cls(
            position=position,
            model_db_id=model.id,
            model_id=model.model_id,
            model_name=model.name,
            provider_id=provider.id,
            provider_slug=provider.slug,
            rule_id=rule.id,
            priority=rule.priority,
            weight=rule.weight,
            is_fallback=rule.is_fallback,
            requires_byok=rule.requires_byok,
            system_key=provider.has_system_key or not provider.needs_key,
            byok_supported=provider.is_byok_supported,
            health_status=provider.health_status,
            demoted=candidate.demoted,
        )


class MatrixCell(BaseModel):
    user_tier: Tier
    power_level: PowerLevel
    task_type: str
    candidates: list[MatrixCandidate]


class RoutingMatrix(BaseModel):
    cells: list[MatrixCell]
    note: str = TIES + " Here they are shown heaviest first."
