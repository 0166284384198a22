"""The catalog as plain frozen data: what the routing decision reads, and nothing that does I/O.

A snapshot is built once from the database (see `catalog.loader`) and replaced whole when the
catalog changes; nothing mutates its data. Its one mutable part is `route_cache`, a bounded
memo of routing work derived from that data alone (see `catalog.route_cache`). Values the
database holds as free strings (tiers, power levels, auth types) are parsed here: an unknown
value becomes None and the routing engine rejects that row with a reason instead of guessing.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping
from dataclasses import InitVar, dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from switchboard.catalog.route_cache import DEFAULT_ROUTE_CACHE_SIZE, RouteCache
from switchboard.pricing import Prices, PriceTier, price_bands, prices_at
from switchboard.vocabulary import AuthType, HealthStatus, PowerLevel, Tier

_Member = TypeVar("_Member", bound=enum.StrEnum)


def _parse(vocabulary: type[_Member], value: str | None) -> _Member | None:
    """The member of `vocabulary` that `value` names; None for no value or an unknown one."""
    try:
        return vocabulary(value) if value else None
    except ValueError:
        return None


def parse_tier(value: str | None) -> Tier | None:
    return _parse(Tier, value)


def parse_auth_type(value: str | None) -> AuthType | None:
    """None for a value that is no `AuthType`: a provider whose key nobody knows how to send
    is not called (routing leaves it out, the health probe and a BYOK check say why), rather
    than sent its key some guessed way."""
    return _parse(AuthType, value)


def parse_power_level(value: str | None) -> PowerLevel | None:
    return _parse(PowerLevel, value)


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    id: int
    slug: str
    name: str
    base_url: str | None = None
    api_format: str | None = None
    auth_type: AuthType | None = AuthType.BEARER
    is_active: bool = True
    is_byok_supported: bool = False
    supports_streaming: bool = True
    supports_function_calling: bool = False
    supports_vision: bool = False
    min_tier: Tier | None = Tier.FREE
    health_status: str = HealthStatus.UNKNOWN
    has_system_key: bool = False
    config: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def needs_key(self) -> bool:
        return self.auth_type is not AuthType.NONE

    @property
    def reported_down(self) -> bool:
        return self.health_status in (HealthStatus.DOWN, HealthStatus.UNHEALTHY)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: int
    provider_id: int
    model_id: str
    name: str
    input_price: Decimal = Decimal(0)
    output_price: Decimal = Decimal(0)
    cached_input_price: Decimal | None = None
    cache_write_price: Decimal | None = None
    price_tiers: tuple[PriceTier, ...] = ()
    """Prices above a prompt size (`pricing.PriceTier`), lowest first."""
    prices_invalid: bool = False
    """The stored price tiers cannot be read: the routing engine rejects the model."""
    context_window: int | None = None
    max_tokens: int | None = None
    supports_streaming: bool = True
    supports_function_calling: bool = False
    supports_vision: bool = False
    supports_json_mode: bool = False
    power_level: PowerLevel | None = PowerLevel.BALANCED
    power_level_priority: int = 100
    is_active: bool = True
    is_deprecated: bool = False
    replacement_id: int | None = None
    min_tier: Tier | None = Tier.FREE

    @property
    def prices(self) -> Prices:
        """The base prices: those of a prompt below every tier."""
        return Prices(
            self.input_price, self.output_price, self.cached_input_price, self.cache_write_price
        )

    def prices_at(self, prompt_tokens: int | None) -> Prices:
        """The prices a request with this many prompt tokens pays."""
        if not self.price_tiers:
            return self.prices
        return prices_at(self.prices, self.price_tiers, prompt_tokens)

    @property
    def blended_price(self) -> Decimal:
        """The base blended price, `pricing.blended_price`."""
        return self.prices.blended

    @property
    def lowest_blended_price(self) -> Decimal:
        """The blended price of the cheapest band of prompt sizes."""
        if not self.price_tiers:
            return self.blended_price
        return min(band.blended for band in price_bands(self.prices, self.price_tiers))


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: int
    model_id: int
    power_level: PowerLevel | None
    user_tier: Tier | None = None
    """None matches every tier (the column is empty)."""
    user_tier_invalid: bool = False
    """The column holds a value that is not a tier: the rule matches no one."""
    task_type: str = "general"
    priority: int = 100
    weight: int = 100
    min_tokens: int | None = None
    max_tokens: int | None = None
    requires_byok: bool = False
    is_fallback: bool = False
    is_active: bool = True


@dataclass(frozen=True)
class CatalogSnapshot:
    """Providers, models and rules by id, plus the price ceilings of each power level.

    `route_cache` memoises the token-independent part of routing decisions (see
    `routing.planner`), keeping at most `route_cache_size` of them. It is the only part of a
    snapshot that changes after it is built, and filling it never changes an answer: each value
    is a pure function of the snapshot and its key, so it never goes stale either.
    """

    providers: Mapping[int, ProviderInfo]
    models: Mapping[int, ModelInfo]
    rules: tuple[RuleInfo, ...]
    price_ceilings: Mapping[PowerLevel, Decimal] = field(default_factory=dict)
    version: int = 0
    rules_by_power: Mapping[PowerLevel, tuple[RuleInfo, ...]] = field(init=False)
    task_types: frozenset[str] = field(init=False)
    models_by_name: Mapping[str, tuple[ModelInfo, ...]] = field(init=False)
    route_cache: RouteCache[Hashable, Any] = field(init=False, repr=False, compare=False)
    route_cache_size: InitVar[int] = DEFAULT_ROUTE_CACHE_SIZE

    def __post_init__(self, route_cache_size: int) -> None:
        by_power: dict[PowerLevel, list[RuleInfo]] = {level: [] for level in PowerLevel}
        for rule in self.rules:
            if rule.power_level is not None:
                by_power[rule.power_level].append(rule)
        by_name: dict[str, list[ModelInfo]] = {}
        for model in self.models.values():
            provider = self.providers.get(model.provider_id)
            by_name.setdefault(model.model_id, []).append(model)
            if provider is not None:
                by_name.setdefault(f"{provider.slug}/{model.model_id}", []).append(model)
        object.__setattr__(
            self, "rules_by_power", {level: tuple(rules) for level, rules in by_power.items()}
        )
        object.__setattr__(self, "task_types", frozenset(rule.task_type for rule in self.rules))
        object.__setattr__(
            self,
            "models_by_name",
            {name: tuple(sorted(models, key=lambda m: m.id)) for name, models in by_name.items()},
        )
        object.__setattr__(self, "route_cache", RouteCache(route_cache_size))

    def provider_of(self, model: ModelInfo) -> ProviderInfo | None:
        return self.providers.get(model.provider_id)

    def price_ceiling(self, power_level: PowerLevel) -> Decimal | None:
        return self.price_ceilings.get(power_level)

    def find_models(self, name: str) -> tuple[ModelInfo, ...]:
        """Models a client may mean by `name`: a `model_id`, or `provider_slug/model_id`."""
        return self.models_by_name.get(name, ())

    def serving_model(self, model: ModelInfo) -> ModelInfo:
        """The model that serves requests for `model`: its replacement chain, if deprecated."""
        seen = {model.id}
        while model.is_deprecated and model.replacement_id is not None:
            replacement = self.models.get(model.replacement_id)
            if replacement is None or replacement.id in seen:
                break
            seen.add(replacement.id)
            model = replacement
        return model
