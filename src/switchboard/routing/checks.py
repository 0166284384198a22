"""The routing rules, one small function each. `planner` and `explain` both call these, so the
engine's choice and its explanation cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.catalog.snapshot import CatalogSnapshot, ModelInfo, ProviderInfo, RuleInfo
from switchboard.routing.reasons import Rejection
from switchboard.routing.request import RouteRequest
from switchboard.vocabulary import GENERAL_TASK, Tier


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: Rejection
    detail: str


def check_model(
    snapshot: CatalogSnapshot,
    model: ModelInfo,
    provider: ProviderInfo | None,
    request: RouteRequest,
) -> Rejected | None:
    """Everything about the model and its provider, whatever the rule and the token count."""
    if provider is None:
        return Rejected(Rejection.INVALID_CONFIG, f"provider {model.provider_id} does not exist")
    if not model.is_active:
        return Rejected(Rejection.MODEL_INACTIVE, "the model is not active")
    if not provider.is_active:
        return Rejected(Rejection.PROVIDER_INACTIVE, f"provider {provider.slug} is not active")
    if model.is_deprecated:
        return Rejected(Rejection.DEPRECATED, "the model is deprecated")
    if model.min_tier is None or provider.min_tier is None:
        return Rejected(Rejection.INVALID_CONFIG, "min_tier_required is not a known tier")
    required = _higher_tier(model.min_tier, provider.min_tier)
    if request.user_tier.rank < required.rank:
        return Rejected(Rejection.TIER_TOO_LOW, f"requires {required}, user is {request.user_tier}")
    if model.prices_invalid:
        return Rejected(Rejection.INVALID_CONFIG, "its price tiers cannot be read")
    ceiling = snapshot.price_ceiling(request.power_level)
    if ceiling is not None and model.lowest_blended_price > ceiling:
        return Rejected(
            Rejection.PRICE_CEILING,
            f"blended price ${model.lowest_blended_price.normalize():f}/1M is over the "
            f"{request.power_level} ceiling ${ceiling.normalize():f}/1M",
        )
    missing = missing_capabilities(model, provider, request)
    if missing:
        return Rejected(Rejection.CAPABILITY_MISSING, f"no {', '.join(missing)}")
    return None


def missing_capabilities(
    model: ModelInfo, provider: ProviderInfo, request: RouteRequest
) -> list[str]:
    missing = []
    if request.require_streaming and not (model.supports_streaming and provider.supports_streaming):
        missing.append("streaming")
    if request.require_function_calling and not (
        model.supports_function_calling and provider.supports_function_calling
    ):
        missing.append("function calling")
    if request.require_vision and not (model.supports_vision and provider.supports_vision):
        missing.append("vision")
    if request.require_json_mode and not model.supports_json_mode:
        missing.append("JSON mode")
    return missing


def check_context(model: ModelInfo, tokens: int | None) -> Rejected | None:
    if tokens is not None and model.context_window is not None and tokens > model.context_window:
        return Rejected(
            Rejection.CONTEXT_TOO_SMALL,
            f"{tokens} tokens exceed the context window of {model.context_window}",
        )
    return None


def check_output(model: ModelInfo, max_output_tokens: int | None) -> Rejected | None:
    """The answer the client allows for fits what the model may write (its `max_tokens`)."""
    if (
        max_output_tokens is not None
        and model.max_tokens is not None
        and max_output_tokens > model.max_tokens
    ):
        return Rejected(
            Rejection.OUTPUT_TOO_SMALL,
            f"max_tokens {max_output_tokens} exceeds the model's output limit of "
            f"{model.max_tokens}",
        )
    return None


def check_tokens(model: ModelInfo, request: RouteRequest) -> Rejected | None:
    """Both token limits of the model itself: its context window, then its output limit."""
    return check_context(model, request.estimated_tokens) or check_output(
        model, request.max_output_tokens
    )


def check_price_tier(
    snapshot: CatalogSnapshot, model: ModelInfo, request: RouteRequest
) -> Rejected | None:
    """The price ceiling at the prices of the tier the request's prompt falls in (a model
    whose long prompts cost more may fit the ceiling for short ones only)."""
    ceiling = snapshot.price_ceiling(request.power_level)
    if ceiling is None or not model.price_tiers:
        return None
    blended = model.prices_at(request.prompt_tokens).blended
    if blended <= ceiling:
        return None
    return Rejected(
        Rejection.PRICE_CEILING,
        f"blended price ${blended.normalize():f}/1M for a prompt of {request.prompt_tokens} "
        f"tokens is over the {request.power_level} ceiling ${ceiling.normalize():f}/1M",
    )


def rule_applies(rule: RuleInfo, request: RouteRequest) -> bool:
    """The rule is active and written for this power level and this user's tier (or any)."""
    return (
        rule.is_active
        and rule.power_level is request.power_level
        and not rule.user_tier_invalid
        and (rule.user_tier is None or rule.user_tier is request.user_tier)
    )


def task_matches(rule: RuleInfo, task_type: str) -> bool:
    return rule.task_type == task_type or rule.task_type == GENERAL_TASK


def check_rule(
    rule: RuleInfo, request: RouteRequest, byok_providers: frozenset[int], provider_id: int
) -> Rejected | None:
    """A rule that applies to the request: its task, token bounds and BYOK requirement."""
    if not task_matches(rule, request.task_type):
        return Rejected(Rejection.TASK_MISMATCH, f"rule {rule.id} is for {rule.task_type!r} tasks")
    bounds = check_token_bounds(rule, request.estimated_tokens)
    if bounds is not None:
        return bounds
    if rule.requires_byok and provider_id not in byok_providers:
        return Rejected(
            Rejection.BYOK_REQUIRED, f"rule {rule.id} needs the user's own validated key"
        )
    return None


def check_token_bounds(rule: RuleInfo, tokens: int | None) -> Rejected | None:
    if tokens is None:
        return None
    if rule.min_tokens is not None and tokens < rule.min_tokens:
        return Rejected(
            Rejection.TOKEN_BOUNDS, f"{tokens} tokens < rule {rule.id} minimum {rule.min_tokens}"
        )
    if rule.max_tokens is not None and tokens > rule.max_tokens:
        return Rejected(
            Rejection.TOKEN_BOUNDS, f"{tokens} tokens > rule {rule.id} maximum {rule.max_tokens}"
        )
    return None


def _higher_tier(a: Tier, b: Tier) -> Tier:
    return a if a.rank >= b.rank else b
