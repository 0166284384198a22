"""Small catalogs for routing tests, built in a few lines and handed to `plan_route`.

`CatalogBuilder` numbers providers, models and rules itself. Its defaults make a routable
catalog: providers are active, have a system key and support every capability; models are
active balanced models at tier free; rules are active balanced `general` rules for any tier.
A test states only what it is about.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypedDict, Unpack

from switchboard.catalog.route_cache import DEFAULT_ROUTE_CACHE_SIZE
from switchboard.catalog.snapshot import CatalogSnapshot, ModelInfo, ProviderInfo, RuleInfo
from switchboard.routing import (
    HealthView,
    ModelVerdict,
    RoutePlan,
    RouteRequest,
    explain_route,
    plan_route,
)
from switchboard.routing.health import HEALTHY
from switchboard.vocabulary import PowerLevel, Tier

SEED = 20240611


@dataclass
class CatalogBuilder:
    providers: dict[int, ProviderInfo] = field(default_factory=dict)
    models: dict[int, ModelInfo] = field(default_factory=dict)
    rules: list[RuleInfo] = field(default_factory=list)
    ceilings: dict[PowerLevel, Decimal] = field(default_factory=dict)

    def provider(self, slug: str | None = None, **fields: Any) -> ProviderInfo:
        provider_id = fields.pop("id", max(self.providers, default=0) + 1)
        values: dict[str, Any] = {
            "slug": slug or f"p{provider_id}",
            "name": f"Provider {provider_id}",
            "has_system_key": True,
            "supports_streaming": True,
            "supports_function_calling": True,
            "supports_vision": True,
        }
        values.update(fields)
        assert provider_id not in self.providers, f"provider id {provider_id} is taken"
        provider = ProviderInfo(id=provider_id, **values)
        self.providers[provider.id] = provider
        return provider

    def model(
        self, model_id: str, *, provider: ProviderInfo | None = None, **fields: Any
    ) -> ModelInfo:
        if provider is None:
            provider = next(iter(self.providers.values()), None) or self.provider()
        db_id = fields.pop("id", max(self.models, default=0) + 1)
        values: dict[str, Any] = {"name": model_id.upper()}
        values.update(fields)
        assert db_id not in self.models, f"model id {db_id} is taken"
        model = ModelInfo(id=db_id, provider_id=provider.id, model_id=model_id, **values)
        self.models[model.id] = model
        return model

    def rule(
        self, model: ModelInfo, power_level: PowerLevel | None = PowerLevel.BALANCED, **fields: Any
    ) -> RuleInfo:
        rule = RuleInfo(
            id=fields.pop("id", max((r.id for r in self.rules), default=0) + 1),
            model_id=model.id,
            power_level=power_level,
            **fields,
        )
        self.rules.append(rule)
        return rule

    def routed(
        self,
        model_id: str,
        *,
        provider: ProviderInfo | None = None,
        rule: dict[str, Any] | None = None,
        **model_fields: Any,
    ) -> ModelInfo:
        """A model and one rule that routes to it."""
        model = self.model(model_id, provider=provider, **model_fields)
        self.rule(model, **(rule or {}))
        return model

    def ceiling(self, level: PowerLevel, dollars: str) -> None:
        self.ceilings[level] = Decimal(dollars)

    def build(self, *, route_cache_size: int = DEFAULT_ROUTE_CACHE_SIZE) -> CatalogSnapshot:
        return CatalogSnapshot(
            providers=dict(self.providers),
            models=dict(self.models),
            rules=tuple(self.rules),
            price_ceilings=dict(self.ceilings),
            route_cache_size=route_cache_size,
        )


def request(
    tier: Tier = Tier.PROFESSIONAL,
    power: PowerLevel = PowerLevel.BALANCED,
    task: str = "general",
    tokens: int | None = None,
    **needs: bool,
) -> RouteRequest:
    return RouteRequest(
        user_tier=tier, power_level=power, task_type=task, estimated_tokens=tokens, **needs
    )


class Circumstances(TypedDict, total=False):
    """What a plan depends on besides the catalog and the request; a test names only what it
    is about: by default no own keys, every model healthy, and the seed `SEED`."""

    byok: frozenset[int]
    health: HealthView
    seed: int


class _RouteInputs(TypedDict):
    byok_providers: frozenset[int]
    health: HealthView
    rng: random.Random


def _route_inputs(circumstances: Circumstances) -> _RouteInputs:
    return {
        "byok_providers": circumstances.get("byok", frozenset()),
        "health": circumstances.get("health", HEALTHY),
        "rng": random.Random(circumstances.get("seed", SEED)),
    }


def plan(
    snapshot: CatalogSnapshot, route_request: RouteRequest, **circumstances: Unpack[Circumstances]
) -> RoutePlan:
    return plan_route(snapshot, route_request, **_route_inputs(circumstances))


def planned_ids(
    snapshot: CatalogSnapshot, route_request: RouteRequest, **circumstances: Unpack[Circumstances]
) -> list[str]:
    """The model ids of the plan's candidates, in order."""
    route = plan(snapshot, route_request, **circumstances)
    return [candidate.model.model_id for candidate in route.candidates]


def explain(
    snapshot: CatalogSnapshot, route_request: RouteRequest, **circumstances: Unpack[Circumstances]
) -> dict[str, ModelVerdict]:
    """`explain_route`'s verdicts by model id (the test catalogs use unique model ids)."""
    verdicts = explain_route(snapshot, route_request, **_route_inputs(circumstances))
    by_id = {verdict.model_id: verdict for verdict in verdicts}
    assert len(by_id) == len(verdicts), "explain_route listed a model id twice"
    return by_id


def outcome(
    snapshot: CatalogSnapshot,
    route_request: RouteRequest,
    model_id: str,
    *,
    byok: frozenset[int] = frozenset(),
    health: HealthView = HEALTHY,
) -> str:
    """`"planned"` when `model_id` is a candidate of the plan, else the reason explain gives.
    Also checks that the plan and the explanation agree about that model."""
    in_plan = model_id in planned_ids(snapshot, route_request, byok=byok, health=health)
    verdict = explain(snapshot, route_request, byok=byok, health=health)[model_id]
    assert in_plan == (verdict.reason is None), verdict
    return "planned" if verdict.reason is None else verdict.reason
