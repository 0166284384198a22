"""`explain_route`: every model once, one choice, and the reason closest to a match."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from switchboard.routing import Rejection, Verdict, explain_route
from switchboard.vocabulary import PowerLevel, Tier
from tests.unit.routing.catalogs import SEED, CatalogBuilder, explain, plan, request


def mixed_catalog() -> CatalogBuilder:
    """Some models routed, some rejected for every kind of reason, one with no rule."""
    catalog = CatalogBuilder()
    openai = catalog.provider("openai")
    closed = catalog.provider("closed", is_active=False)
    catalog.routed("a-first", provider=openai, rule={"priority": 1})
    catalog.routed("b-second", provider=openai, rule={"priority": 2}, id=10)
    catalog.routed("c-fallback", provider=closed, rule={"is_fallback": True})
    catalog.routed("d-inactive", provider=openai, is_active=False)
    catalog.routed("e-deprecated", provider=openai, is_deprecated=True)
    catalog.routed("f-enterprise", provider=openai, min_tier=Tier.ENTERPRISE)
    catalog.routed("g-eco", provider=openai, rule={"power_level": PowerLevel.ECO})
    catalog.routed("h-code", provider=openai, rule={"task_type": "code"})
    catalog.model("i-no-rule", provider=openai)
    catalog.routed("j-pricey", provider=openai, input_price=Decimal(100))
    catalog.routed("k-byok", provider=openai, rule={"requires_byok": True})
    catalog.ceiling(PowerLevel.BALANCED, "10")
    return catalog


def test_every_model_is_listed_exactly_once() -> None:
    snapshot = mixed_catalog().build()
    verdicts = explain_route(snapshot, request(), rng=random.Random(SEED))
    assert sorted(v.model_db_id for v in verdicts) == sorted(snapshot.models)
    assert [v.verdict for v in verdicts].count(Verdict.CHOSEN) == 1


def test_candidates_first_in_plan_order_then_the_rejected_sorted() -> None:
    snapshot = mixed_catalog().build()
    route = plan(snapshot, request())
    verdicts = explain_route(snapshot, request(), rng=random.Random(SEED))
    planned = [c.model.model_id for c in route.candidates]
    assert planned == ["a-first", "b-second"]
    assert [v.model_id for v in verdicts[: len(planned)]] == planned
    assert [v.position for v in verdicts[: len(planned)]] == [1, 2]
    assert [v.verdict for v in verdicts[: len(planned)]] == [Verdict.CHOSEN, Verdict.FALLBACK]
    assert all(v.reason is None for v in verdicts[: len(planned)])
    rejected = verdicts[len(planned) :]
    assert all(v.verdict is Verdict.REJECTED and v.position is None for v in rejected)
    assert all(v.rule_id is None and v.key_source is None for v in rejected)
    keys = [(v.provider_slug, v.model_id) for v in rejected]
    assert keys == sorted(keys)


def test_reasons_of_the_rejected() -> None:
    verdicts = explain(mixed_catalog().build(), request(tier=Tier.PROFESSIONAL))
    reasons = {name: v.reason for name, v in verdicts.items()}
    assert reasons == {
        "a-first": None,
        "b-second": None,
        "c-fallback": Rejection.PROVIDER_INACTIVE,
        "d-inactive": Rejection.MODEL_INACTIVE,
        "e-deprecated": Rejection.DEPRECATED,
        "f-enterprise": Rejection.TIER_TOO_LOW,
        "g-eco": Rejection.NO_MATCHING_RULE,
        "h-code": Rejection.TASK_MISMATCH,
        "i-no-rule": Rejection.NO_MATCHING_RULE,
        "j-pricey": Rejection.PRICE_CEILING,
        "k-byok": Rejection.BYOK_REQUIRED,
    }
    assert verdicts["f-enterprise"].detail == "requires enterprise, user is professional"
    assert verdicts["j-pricey"].detail == (
        "blended price $75/1M is over the balanced ceiling $10/1M"
    )


def test_no_candidates_no_choice() -> None:
    snapshot = mixed_catalog().build()
    verdicts = explain_route(snapshot, request(power=PowerLevel.PRECISION))
    assert len(verdicts) == len(snapshot.models)
    assert all(v.verdict is Verdict.REJECTED for v in verdicts)


def test_an_empty_catalog_explains_nothing() -> None:
    assert explain_route(CatalogBuilder().build(), request()) == []


def test_model_of_a_missing_provider_is_explained() -> None:
    catalog = CatalogBuilder()
    catalog.routed("orphan", provider=catalog.provider(id=5))
    del catalog.providers[5]
    verdict = explain(catalog.build(), request())["orphan"]
    assert (verdict.provider_slug, verdict.reason) == ("?", Rejection.INVALID_CONFIG)


TASK: dict[str, Any] = {"task_type": "code"}
BOUNDS: dict[str, Any] = {"max_tokens": 10}
BYOK: dict[str, Any] = {"requires_byok": True}
OTHER_POWER: dict[str, Any] = {"power_level": PowerLevel.ECO}
OTHER_TIER: dict[str, Any] = {"user_tier": Tier.FREE}
INACTIVE: dict[str, Any] = {"is_active": False}


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ([TASK], Rejection.TASK_MISMATCH),
        ([BOUNDS], Rejection.TOKEN_BOUNDS),
        ([BYOK], Rejection.BYOK_REQUIRED),
        ([TASK, BOUNDS], Rejection.TOKEN_BOUNDS),
        ([BOUNDS, TASK], Rejection.TOKEN_BOUNDS),
        ([TASK, BYOK], Rejection.BYOK_REQUIRED),
        ([BYOK, BOUNDS], Rejection.BYOK_REQUIRED),
        ([BOUNDS, BYOK, TASK], Rejection.BYOK_REQUIRED),
        # One rule failing several ways reports its first failure.
        ([{**TASK, **BYOK}], Rejection.TASK_MISMATCH),
        ([{**BOUNDS, **BYOK}], Rejection.TOKEN_BOUNDS),
        # Rules that do not apply to this request are not "close".
        ([OTHER_POWER], Rejection.NO_MATCHING_RULE),
        ([OTHER_TIER], Rejection.NO_MATCHING_RULE),
        ([INACTIVE], Rejection.NO_MATCHING_RULE),
        ([{**INACTIVE, **BYOK}], Rejection.NO_MATCHING_RULE),
        ([{**OTHER_POWER, **BYOK}, TASK], Rejection.TASK_MISMATCH),
        ([{**OTHER_TIER, **BYOK}, BOUNDS], Rejection.TOKEN_BOUNDS),
        ([], Rejection.NO_MATCHING_RULE),
    ],
)
def test_closest_rule_failure(rules: list[dict[str, Any]], expected: Rejection) -> None:
    catalog = CatalogBuilder()
    model = catalog.model("target")
    for fields in rules:
        catalog.rule(model, **fields)
    route_request = request(tier=Tier.PROFESSIONAL, task="writing", tokens=100)
    verdict = explain(catalog.build(), route_request)["target"]
    assert verdict.reason is expected


@pytest.mark.parametrize(
    ("model_fields", "expected"),
    [
        ({"is_active": False}, Rejection.MODEL_INACTIVE),
        ({"min_tier": Tier.ENTERPRISE}, Rejection.TIER_TOO_LOW),
        ({"context_window": 50}, Rejection.CONTEXT_TOO_SMALL),
        ({"supports_json_mode": False}, Rejection.CAPABILITY_MISSING),
    ],
)
def test_a_fault_of_the_model_is_reported_before_its_rules(
    model_fields: dict[str, Any], expected: Rejection
) -> None:
    catalog = CatalogBuilder()
    model = catalog.model("target", **{"supports_json_mode": True, **model_fields})
    catalog.rule(model, requires_byok=True)
    route_request = request(tokens=100, require_json_mode=True)
    assert explain(catalog.build(), route_request)["target"].reason is expected


def test_candidate_verdicts_carry_rule_key_source_and_route_reason() -> None:
    catalog = CatalogBuilder()
    provider = catalog.provider("acme", is_byok_supported=True)
    catalog.routed("target", provider=provider, rule={"id": 7, "task_type": "code", "priority": 3})
    catalog.routed("spare", provider=provider, rule={"id": 8, "is_fallback": True, "priority": 1})
    verdicts = explain(catalog.build(), request(task="code"), byok=frozenset({provider.id}))
    target, spare = verdicts["target"], verdicts["spare"]
    assert (target.verdict, target.position, target.rule_id) == (Verdict.CHOSEN, 1, 7)
    assert (target.provider_slug, target.model_name, target.key_source) == (
        "acme",
        "TARGET",
        "byok",
    )
    assert target.detail == "rule 7 (code, priority 3)"
    assert (spare.verdict, spare.position, spare.rule_id) == (Verdict.FALLBACK, 2, 8)
    assert spare.detail == "fallback rule 8 (general, priority 1)"
    assert target.notes == spare.notes == ()
