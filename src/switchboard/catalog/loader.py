"""Loading a catalog snapshot, and a user's BYOK providers, from the database."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.catalog.snapshot import (
    CatalogSnapshot,
    ModelInfo,
    ProviderInfo,
    RuleInfo,
    parse_auth_type,
    parse_power_level,
    parse_tier,
)
from switchboard.catalog.system_keys import system_key_source
from switchboard.models import LLMModel, LLMProvider, LLMRoutingRule, UserAPIKey
from switchboard.pricing import PriceTier, as_price, tiers_from_json
from switchboard.settings import Settings
from switchboard.vocabulary import PowerLevel, normalize_task_type


def price_ceilings(settings: Settings) -> dict[PowerLevel, Decimal]:
    configured = {
        PowerLevel.ECO: settings.price_ceiling_eco,
        PowerLevel.BALANCED: settings.price_ceiling_balanced,
        PowerLevel.PRECISION: settings.price_ceiling_precision,
    }
    return {level: ceiling for level, ceiling in configured.items() if ceiling is not None}


def load_snapshot(
    session: Session,
    *,
    ceilings: Mapping[PowerLevel, Decimal],
    environ: Mapping[str, str],
    version: int = 0,
) -> CatalogSnapshot:
    """Read every provider, model and rule into a new immutable snapshot. `environ` is where
    system keys may come from (`Settings.provider_key_environment()`)."""
    providers = {
        row.id: _provider_info(row, environ) for row in session.scalars(select(LLMProvider))
    }
    models = {row.id: _model_info(row) for row in session.scalars(select(LLMModel))}
    rules = tuple(
        _rule_info(row)
        for row in session.scalars(select(LLMRoutingRule).order_by(LLMRoutingRule.id))
    )
    return CatalogSnapshot(
        providers=providers, models=models, rules=rules, price_ceilings=ceilings, version=version
    )


def load_byok_providers(session: Session, user_id: str) -> frozenset[int]:
    """Providers for which the user has an active, validated key of their own."""
    rows = session.scalars(
        select(UserAPIKey.provider_id).where(UserAPIKey.user_id == user_id, UserAPIKey.usable())
    )
    return frozenset(rows)


def _provider_info(row: LLMProvider, environ: Mapping[str, str]) -> ProviderInfo:
    auth_type = parse_auth_type(row.auth_type)
    return ProviderInfo(
        id=row.id,
        slug=row.provider_slug,
        name=row.provider_name,
        base_url=row.base_url,
        api_format=row.api_format,
        auth_type=auth_type,
        is_active=row.is_active and auth_type is not None,
        is_byok_supported=row.is_byok_supported,
        supports_streaming=row.supports_streaming,
        supports_function_calling=row.supports_function_calling,
        supports_vision=row.supports_vision,
        min_tier=parse_tier(row.min_tier_required),
        health_status=row.health_status,
        has_system_key=system_key_source(row, environ) is not None,
        config=dict(row.config or {}),
    )


def _model_info(row: LLMModel) -> ModelInfo:
    tiers, prices_invalid = _price_tiers(row)
    return ModelInfo(
        id=row.id,
        provider_id=row.provider_id,
        model_id=row.model_id,
        name=row.model_name,
        input_price=as_price(row.cost_per_1m_input_tokens) or Decimal(0),
        output_price=as_price(row.cost_per_1m_output_tokens) or Decimal(0),
        cached_input_price=as_price(row.cost_per_1m_cached_input_tokens),
        cache_write_price=as_price(row.cost_per_1m_cache_write_tokens),
        price_tiers=tiers,
        prices_invalid=prices_invalid,
        context_window=row.context_window,
        max_tokens=row.max_tokens,
        supports_streaming=row.supports_streaming,
        supports_function_calling=row.supports_function_calling,
        supports_vision=row.supports_vision,
        supports_json_mode=row.supports_json_mode,
        power_level=parse_power_level(row.power_level),
        power_level_priority=row.power_level_priority,
        is_active=row.is_active,
        is_deprecated=row.is_deprecated,
        replacement_id=row.replacement_model_id,
        min_tier=parse_tier(row.min_tier_required),
    )


def _price_tiers(row: LLMModel) -> tuple[tuple[PriceTier, ...], bool]:
    """The model's price tiers, and whether what is stored could not be read (written by
    hand into the database: everything that stores tiers checks them first)."""
    try:
        return tiers_from_json(row.price_tiers), False
    except ValueError:
        return (), True


def _rule_info(row: LLMRoutingRule) -> RuleInfo:
    tier = parse_tier(row.user_tier)
    return RuleInfo(
        id=row.id,
        model_id=row.model_id,
        power_level=parse_power_level(row.power_level),
        user_tier=tier,
        user_tier_invalid=bool(row.user_tier) and tier is None,
        task_type=normalize_task_type(row.task_type),
        priority=row.priority,
        weight=row.weight,
        min_tokens=row.min_tokens,
        max_tokens=row.max_tokens,
        requires_byok=row.requires_byok,
        is_fallback=row.is_fallback,
        is_active=row.is_active,
    )
