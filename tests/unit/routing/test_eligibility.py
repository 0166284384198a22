"""Which models may serve a request at all: one table per routing rule of the design."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from switchboard.catalog.snapshot import ModelInfo
from switchboard.routing import Rejection
from switchboard.vocabulary import AuthType, PowerLevel, Tier
from tests.unit.routing.catalogs import (
    CatalogBuilder,
    explain,
    outcome,
    plan,
    planned_ids,
    request,
)

PLANNED = "planned"
F, S, P, E = Tier.FREE, Tier.STARTER, Tier.PROFESSIONAL, Tier.ENTERPRISE


@pytest.mark.parametrize(
    ("user_tier", "model_tier", "provider_tier", "expected"),
    [
        (F, F, F, PLANNED),
        (F, S, F, Rejection.TIER_TOO_LOW),
        (F, F, S, Rejection.TIER_TOO_LOW),
        (S, S, F, PLANNED),
        (S, F, S, PLANNED),
        (S, P, F, Rejection.TIER_TOO_LOW),
        (P, P, S, PLANNED),
        (P, E, F, Rejection.TIER_TOO_LOW),
        (P, F, E, Rejection.TIER_TOO_LOW),
        (E, E, E, PLANNED),
        (E, F, F, PLANNED),
        (S, None, F, Rejection.INVALID_CONFIG),
        (E, F, None, Rejection.INVALID_CONFIG),
    ],
)
def test_min_tier_of_model_and_provider(
    user_tier: Tier, model_tier: Tier | None, provider_tier: Tier | None, expected: str
) -> None:
    catalog = CatalogBuilder()
    provider = catalog.provider(min_tier=provider_tier)
    catalog.routed("target", provider=provider, min_tier=model_tier)
    assert outcome(catalog.build(), request(tier=user_tier), "target") == expected


@pytest.mark.parametrize(
    ("rule_tier", "invalid", "user_tier", "expected"),
    [
        (None, False, F, PLANNED),
        (None, False, E, PLANNED),
        (S, False, S, PLANNED),
        (S, False, F, Rejection.NO_MATCHING_RULE),
        # A rule for a tier is not a minimum: higher tiers do not inherit it.
        (S, False, P, Rejection.NO_MATCHING_RULE),
        (E, False, E, PLANNED),
        # The column held a string that is not a tier: the rule matches no one.
        (None, True, F, Rejection.NO_MATCHING_RULE),
        (None, True, E, Rejection.NO_MATCHING_RULE),
    ],
)
def test_rule_user_tier(
    rule_tier: Tier | None, invalid: bool, user_tier: Tier, expected: str
) -> None:
    catalog = CatalogBuilder()
    catalog.routed("target", rule={"user_tier": rule_tier, "user_tier_invalid": invalid})
    assert outcome(catalog.build(), request(tier=user_tier), "target") == expected


@pytest.mark.parametrize(
    ("provider_fields", "model_fields", "rule_fields", "expected"),
    [
        ({}, {}, {}, PLANNED),
        ({}, {}, {"is_active": False}, Rejection.NO_MATCHING_RULE),
        ({}, {"is_active": False}, {}, Rejection.MODEL_INACTIVE),
        ({"is_active": False}, {}, {}, Rejection.PROVIDER_INACTIVE),
        ({}, {"is_deprecated": True}, {}, Rejection.DEPRECATED),
        ({}, {"is_deprecated": True, "replacement_id": 99}, {}, Rejection.DEPRECATED),
        # The loader marks a provider with an unknown auth type inactive.
        ({"auth_type": None, "is_active": False}, {}, {}, Rejection.PROVIDER_INACTIVE),
        # The model's own faults are reported before its provider's.
        ({"is_active": False}, {"is_active": False}, {}, Rejection.MODEL_INACTIVE),
        ({}, {"is_active": False, "is_deprecated": True}, {}, Rejection.MODEL_INACTIVE),
    ],
)
def test_active_and_deprecated(
    provider_fields: dict[str, Any],
    model_fields: dict[str, Any],
    rule_fields: dict[str, Any],
    expected: str,
) -> None:
    catalog = CatalogBuilder()
    provider = catalog.provider(**provider_fields)
    catalog.routed("target", provider=provider, rule=rule_fields, **model_fields)
    assert outcome(catalog.build(), request(), "target") == expected


def test_model_of_a_missing_provider_is_invalid_configuration() -> None:
    catalog = CatalogBuilder()
    catalog.routed("control")
    orphan = catalog.model("orphan", provider=catalog.provider(id=7))
    catalog.rule(orphan)
    del catalog.providers[7]
    snapshot = catalog.build()
    assert outcome(snapshot, request(), "orphan") == Rejection.INVALID_CONFIG
    assert planned_ids(snapshot, request()) == ["control"]


def test_rule_for_a_missing_model_is_ignored() -> None:
    catalog = CatalogBuilder()
    catalog.routed("target")
    catalog.rule(ModelInfo(id=42, provider_id=1, model_id="ghost", name="Ghost"))
    assert planned_ids(catalog.build(), request()) == ["target"]


@pytest.mark.parametrize(
    ("rule_power", "request_power", "expected"),
    [
        (PowerLevel.ECO, PowerLevel.ECO, PLANNED),
        (PowerLevel.BALANCED, PowerLevel.BALANCED, PLANNED),
        (PowerLevel.PRECISION, PowerLevel.PRECISION, PLANNED),
        (PowerLevel.ECO, PowerLevel.BALANCED, Rejection.NO_MATCHING_RULE),
        (PowerLevel.PRECISION, PowerLevel.BALANCED, Rejection.NO_MATCHING_RULE),
        (PowerLevel.BALANCED, PowerLevel.PRECISION, Rejection.NO_MATCHING_RULE),
        # The column held something that is not a power level.
        (None, PowerLevel.BALANCED, Rejection.NO_MATCHING_RULE),
    ],
)
def test_power_level_must_equal(
    rule_power: PowerLevel | None, request_power: PowerLevel, expected: str
) -> None:
    catalog = CatalogBuilder()
    catalog.routed("target", rule={"power_level": rule_power})
    assert outcome(catalog.build(), request(power=request_power), "target") == expected


def test_the_model_power_level_is_not_what_routes() -> None:
    """Only the rule's power level is compared; the model's own column only informs admins."""
    catalog = CatalogBuilder()
    catalog.routed("target", power_level=PowerLevel.ECO, rule={"power_level": PowerLevel.PRECISION})
    assert planned_ids(catalog.build(), request(power=PowerLevel.PRECISION)) == ["target"]


@pytest.mark.parametrize(
    ("rule_tasks", "request_task", "expected"),
    [
        (["code"], "code", ["code"]),
        (["general"], "code", ["general"]),
        (["code", "general"], "code", ["code", "general"]),
        (["general", "code"], "code", ["code", "general"]),
        (["code", "general"], "writing", ["general"]),
        (["code"], "writing", []),
        (["code", "writing"], "writing", ["writing"]),
        (["code", "general"], "general", ["general"]),
        # A task no rule knows matches only `general` rules.
        (["code", "general"], "never-heard-of-it", ["general"]),
        (["code"], "never-heard-of-it", []),
    ],
)
def test_task_type_exact_or_general(
    rule_tasks: list[str], request_task: str, expected: list[str]
) -> None:
    """One model per rule, named after its rule's task; all else equal."""
    catalog = CatalogBuilder()
    for task in rule_tasks:
        catalog.routed(task, rule={"task_type": task})
    assert planned_ids(catalog.build(), request(task=request_task)) == expected


@pytest.mark.parametrize(
    ("rule_task", "request_task", "expected"),
    [
        ("code", "code", PLANNED),
        ("general", "code", PLANNED),
        ("code", "writing", Rejection.TASK_MISMATCH),
        ("code", "general", Rejection.TASK_MISMATCH),
        ("code", "unknown-task", Rejection.TASK_MISMATCH),
    ],
)
def test_task_mismatch_reason(rule_task: str, request_task: str, expected: str) -> None:
    catalog = CatalogBuilder()
    catalog.routed("target", rule={"task_type": rule_task})
    assert outcome(catalog.build(), request(task=request_task), "target") == expected


@pytest.mark.parametrize(
    ("min_tokens", "max_tokens", "context_window", "tokens", "expected"),
    [
        (None, None, None, 10**9, PLANNED),
        (100, 1000, None, 100, PLANNED),
        (100, 1000, None, 1000, PLANNED),
        (100, 1000, None, 99, Rejection.TOKEN_BOUNDS),
        (100, 1000, None, 1001, Rejection.TOKEN_BOUNDS),
        (100, None, None, 0, Rejection.TOKEN_BOUNDS),
        (None, 1000, None, 0, PLANNED),
        (None, None, 8000, 8000, PLANNED),
        (None, None, 8000, 8001, Rejection.CONTEXT_TOO_SMALL),
        # Both fail: the model's context window is reported before the rule's bounds.
        (None, 100, 50, 200, Rejection.CONTEXT_TOO_SMALL),
        # No estimate: neither the bounds nor the context window are checked.
        (100, 1000, 10, None, PLANNED),
    ],
)
def test_token_bounds_and_context_window(
    min_tokens: int | None,
    max_tokens: int | None,
    context_window: int | None,
    tokens: int | None,
    expected: str,
) -> None:
    catalog = CatalogBuilder()
    catalog.routed(
        "target",
        context_window=context_window,
        rule={"min_tokens": min_tokens, "max_tokens": max_tokens},
    )
    assert outcome(catalog.build(), request(tokens=tokens), "target") == expected


CAPABILITIES = {
    "require_streaming": "supports_streaming",
    "require_function_calling": "supports_function_calling",
    "require_vision": "supports_vision",
}


@pytest.mark.parametrize("need", sorted(CAPABILITIES))
@pytest.mark.parametrize(
    ("model_has", "provider_has", "expected"),
    [
        (True, True, PLANNED),
        (False, True, Rejection.CAPABILITY_MISSING),
        (True, False, Rejection.CAPABILITY_MISSING),
        (False, False, Rejection.CAPABILITY_MISSING),
    ],
)
def test_capability_needs_model_and_provider(
    need: str, model_has: bool, provider_has: bool, expected: str
) -> None:
    flag = CAPABILITIES[need]
    catalog = CatalogBuilder()
    provider_fields: dict[str, Any] = {flag: provider_has}
    model_fields: dict[str, Any] = {flag: model_has}
    needs: dict[str, Any] = {need: True}
    provider = catalog.provider(**provider_fields)
    catalog.routed("target", provider=provider, **model_fields)
    snapshot = catalog.build()
    assert outcome(snapshot, request(**needs), "target") == expected
    # What the request does not need is never checked.
    assert outcome(snapshot, request(), "target") == PLANNED


@pytest.mark.parametrize(
    ("model_has", "expected"),
    [(True, PLANNED), (False, Rejection.CAPABILITY_MISSING)],
)
def test_json_mode_needs_only_the_model(model_has: bool, expected: str) -> None:
    catalog = CatalogBuilder()
    # Providers have no JSON mode flag: a model that supports it is enough.
    catalog.routed("target", supports_json_mode=model_has)
    snapshot = catalog.build()
    assert outcome(snapshot, request(require_json_mode=True), "target") == expected
    assert outcome(snapshot, request(), "target") == PLANNED


def test_missing_capabilities_are_all_named() -> None:
    catalog = CatalogBuilder()
    catalog.routed("target", supports_streaming=False, supports_vision=False)
    snapshot = catalog.build()
    route_request = request(require_streaming=True, require_vision=True, require_json_mode=True)
    assert outcome(snapshot, route_request, "target") == Rejection.CAPABILITY_MISSING
    detail = explain(snapshot, route_request)["target"].detail
    assert detail == "no streaming, vision, JSON mode"


@pytest.mark.parametrize(
    ("input_price", "output_price", "ceiling", "expected"),
    [
        # Blended = (3 × input + output) / 4.
        ("0.15", "0.60", "0.50", PLANNED),  # 0.2625
        ("0.40", "0.80", "0.50", PLANNED),  # exactly 0.50: at the ceiling passes
        ("0.40", "0.84", "0.50", Rejection.PRICE_CEILING),  # 0.51
        ("0.00", "2.00", "0.50", PLANNED),  # 0.50
        ("0.00", "2.01", "0.50", Rejection.PRICE_CEILING),
        ("0.67", "0.00", "0.50", Rejection.PRICE_CEILING),  # 0.5025
        # Input alone over the ceiling, but the blend is under it.
        ("0.55", "0.30", "0.50", PLANNED),  # 0.4875
        ("2.50", "10.00", "0", Rejection.PRICE_CEILING),
        ("0", "0", "0", PLANNED),
        # No ceiling for the level: anything goes.
        ("60", "120", None, PLANNED),
    ],
)
def test_price_ceiling_on_blended_price(
    input_price: str, output_price: str, ceiling: str | None, expected: str
) -> None:
    catalog = CatalogBuilder()
    catalog.routed(
        "target",
        input_price=Decimal(input_price),
        output_price=Decimal(output_price),
        rule={"power_level": PowerLevel.ECO},
    )
    if ceiling is not None:
        catalog.ceiling(PowerLevel.ECO, ceiling)
    # A ceiling on another level never applies.
    catalog.ceiling(PowerLevel.BALANCED, "0")
    assert outcome(catalog.build(), request(power=PowerLevel.ECO), "target") == expected


def test_price_ceiling_is_that_of_the_requested_level() -> None:
    catalog = CatalogBuilder()
    model = catalog.model("target", input_price=Decimal(1), output_price=Decimal(1))
    catalog.rule(model, PowerLevel.ECO)
    catalog.rule(model, PowerLevel.PRECISION)
    catalog.ceiling(PowerLevel.ECO, "0.50")
    snapshot = catalog.build()
    assert outcome(snapshot, request(power=PowerLevel.ECO), "target") == Rejection.PRICE_CEILING
    assert outcome(snapshot, request(power=PowerLevel.PRECISION), "target") == PLANNED


def test_unknown_auth_type_still_active_is_treated_as_needing_a_key() -> None:
    """The snapshot itself does not reject an unknown auth type (the loader deactivates the
    provider); if one slips through it is routed but has no usable key without a system key."""
    catalog = CatalogBuilder()
    provider = catalog.provider(auth_type=None, has_system_key=False)
    catalog.routed("target", provider=provider)
    route = plan(catalog.build(), request())
    assert [c.model.model_id for c in route.candidates] == ["target"]
    assert provider.needs_key
    assert not route.candidates[0].has_usable_key


def test_auth_type_none_needs_no_key() -> None:
    catalog = CatalogBuilder()
    provider = catalog.provider(auth_type=AuthType.NONE, has_system_key=False)
    catalog.routed("target", provider=provider)
    assert not provider.needs_key
    assert plan(catalog.build(), request()).candidates[0].has_usable_key
