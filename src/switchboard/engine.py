"""`LLMRoutingEngine`: the spec's Python API over a SQLAlchemy session.

A facade over the same pure routing (`routing`), pricing (`pricing`), usage (`usage`) and
secrets (`secrets`) code that the gateway uses. The catalog snapshot is loaded from the
session on first use and kept for the engine's life; call `refresh()` after changing the
catalog through the same engine.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple, TypedDict, TypeVar, Unpack

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.catalog.loader import load_byok_providers, load_snapshot, price_ceilings
from switchboard.catalog.snapshot import CatalogSnapshot
from switchboard.catalog.system_keys import system_key
from switchboard.models import LLMModel, LLMProvider, UserAPIKey
from switchboard.pricing import CostBreakdown, as_price, tiers_from_json
from switchboard.pricing import calculate_cost as _calculate_cost
from switchboard.routing import (
    HealthView,
    ModelVerdict,
    RoutePlan,
    RouteRequest,
    explain_route,
    plan_route,
)
from switchboard.secrets import SecretManager, configured_secret_manager, get_secret_manager
from switchboard.settings import Settings
from switchboard.usage import UsageRecord, write_records
from switchboard.vocabulary import KeySource

R = TypeVar("R")


class RouteChoice(NamedTuple):
    model: LLMModel
    api_key: str | None
    key_source: str


class RouteOptions(TypedDict, total=False):
    """The optional arguments of every routing call, as the spec names them."""

    task_type: str
    estimated_tokens: int | None
    require_streaming: bool
    require_function_calling: bool
    require_vision: bool
    require_json_mode: bool


class LLMRoutingEngine:
    """Chooses models, resolves keys, prices requests and logs usage, over one `Session`."""

    def __init__(
        self,
        db: Session,
        *,
        settings: Settings | None = None,
        health: HealthView | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self._settings = settings
        self._health = health or HealthView()
        self._rng = rng or random.Random()
        self._snapshot: CatalogSnapshot | None = None
        self._secrets: SecretManager | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings()
        return self._settings

    @property
    def snapshot(self) -> CatalogSnapshot:
        if self._snapshot is None:
            self._snapshot = load_snapshot(
                self.db,
                ceilings=price_ceilings(self.settings),
                environ=self.settings.provider_key_environment(),
            )
        return self._snapshot

    def refresh(self) -> None:
        """Forget the loaded catalog; the next call reads it again."""
        self._snapshot = None

    def plan(
        self, user_id: str, user_tier: str, power_level: str, **options: Unpack[RouteOptions]
    ) -> RoutePlan:
        """The routing decision as data (see `routing.plan_route`)."""
        return self._decide(plan_route, user_id, user_tier, power_level, options)

    def candidates(
        self, user_id: str, user_tier: str, power_level: str, **options: Unpack[RouteOptions]
    ) -> list[RouteChoice]:
        """Every model that may serve the request, best first, each with the key to use."""
        plan = self.plan(user_id, user_tier, power_level, **options)
        return [
            self._choice(user_id, candidate.model.id, candidate.key_source)
            for candidate in plan.candidates
        ]

    def select_model(
        self, user_id: str, user_tier: str, power_level: str, **options: Unpack[RouteOptions]
    ) -> tuple[LLMModel, str | None, str] | tuple[None, None, None]:
        """`(model, api_key, key_source)` for the best candidate that has a usable key; when
        none has one, the best candidate with `api_key=None` (the gateway skips those).
        `(None, None, None)` when no model may serve the request."""
        best = self.plan(user_id, user_tier, power_level, **options).usable_choice
        if best is None:
            return None, None, None
        model, api_key, key_source = self._choice(user_id, best.model.id, best.key_source)
        return model, api_key, key_source

    def explain(
        self, user_id: str, user_tier: str, power_level: str, **options: Unpack[RouteOptions]
    ) -> list[ModelVerdict]:
        """For every model in the catalog: chosen, fallback, or rejected and why."""
        return self._decide(explain_route, user_id, user_tier, power_level, options)

    def _decide(
        self,
        decide: Callable[..., R],
        user_id: str,
        user_tier: str,
        power_level: str,
        options: RouteOptions,
    ) -> R:
        """`decide` (`plan_route` or `explain_route`) on the catalog for this request."""
        return decide(
            self.snapshot,
            RouteRequest.parse(user_tier=user_tier, power_level=power_level, **options),
            byok_providers=load_byok_providers(self.db, user_id),
            health=self._health,
            rng=self._rng,
        )

    def calculate_cost(
        self,
        model: LLMModel,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int = 0,
        *,
        cache_write_tokens: int = 0,
        cache_write_1h_tokens: int = 0,
    ) -> CostBreakdown:
        """The exact cost in dollars (Decimal) of a request to `model`. Cache writes are part
        of `prompt_tokens`, billed as `pricing` says."""
        return _calculate_cost(
            input_price=as_price(model.cost_per_1m_input_tokens) or Decimal(0),
            output_price=as_price(model.cost_per_1m_output_tokens) or Decimal(0),
            cached_input_price=as_price(model.cost_per_1m_cached_input_tokens),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_tokens=cached_tokens,
            cache_write_tokens=cache_write_tokens,
            cache_write_1h_tokens=cache_write_1h_tokens,
            cache_write_price=as_price(model.cost_per_1m_cache_write_tokens),
            tiers=tiers_from_json(model.price_tiers),
        )

    def log_usage(
        self,
        user_id: str,
        model: LLMModel | None,
        request_id: str,
        power_level: str | None = None,
        task_type: str | None = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cached_tokens: int = 0,
        cost_breakdown: CostBreakdown | dict[str, Any] | None = None,
        used_byok: bool = False,
        user_key_id: int | None = None,
        latency_ms: int | None = None,
        status_code: int | None = 200,
        request_ip: str | None = None,
        user_agent: str | None = None,
        **details: Any,
    ) -> int:
        """Write one `llm_usage_logs` row and commit; returns its id. Costs come from
        `cost_breakdown`, or are calculated when it is None. Logging the same `request_id`
        twice keeps the first row. `details` may set `time_to_first_token_ms`, `error_type`,
        `error_message`, `attempts`, `usage_estimated` and `cache_write_tokens` (five-minute
        writes, when the cost is calculated here)."""
        if cost_breakdown is None:
            cost_breakdown = (
                self.calculate_cost(
                    model,
                    prompt_tokens,
                    completion_tokens,
                    cached_tokens,
                    cache_write_tokens=details.get("cache_write_tokens", 0),
                )
                if model is not None
                else {}
            )
        record = UsageRecord.with_costs(
            cost_breakdown,
            request_id=request_id,
            user_id=user_id,
            model_id=model.id if model is not None else None,
            provider_id=model.provider_id if model is not None else None,
            model_name=model.model_id if model is not None else None,
            power_level=power_level,
            task_type=task_type,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_tokens=cached_tokens,
            used_byok=used_byok,
            user_key_id=user_key_id,
            latency_ms=latency_ms,
            status_code=status_code,
            request_ip=request_ip,
            user_agent=user_agent,
            **details,
        )
        row_ids = write_records(self.db, [record])
        self.db.commit()
        return row_ids[request_id]

    def _choice(self, user_id: str, model_db_id: int, key_source: KeySource) -> RouteChoice:
        model = self.db.get(LLMModel, model_db_id)
        assert model is not None, "the snapshot names a model the session cannot find"
        if key_source is KeySource.BYOK:
            return RouteChoice(model, self._byok_key(user_id, model.provider_id), key_source)
        return RouteChoice(model, self._system_key(model.provider), key_source)

    def _byok_key(self, user_id: str, provider_id: int) -> str | None:
        row = self.db.scalars(
            select(UserAPIKey)
            .where(
                UserAPIKey.user_id == user_id,
                UserAPIKey.provider_id == provider_id,
                UserAPIKey.usable(),
            )
            .order_by(UserAPIKey.last_validated_at.desc(), UserAPIKey.id.desc())
            .limit(1)
        ).first()
        return self._decrypt(row.encrypted_api_key) if row is not None else None

    def _system_key(self, provider: LLMProvider) -> str | None:
        return system_key(
            provider,
            secrets=self._secret_manager(),
            environ=self.settings.provider_key_environment(),
        )

    def _decrypt(self, encrypted_value: str) -> str:
        return (self._secret_manager() or get_secret_manager(self.settings)).decrypt_secret(
            encrypted_value
        )

    def _secret_manager(self) -> SecretManager | None:
        """Built when first needed: a caller who never reads a key needs no ENCRYPTION_KEY."""
        if self._secrets is None:
            self._secrets = configured_secret_manager(self.settings)
        return self._secrets
