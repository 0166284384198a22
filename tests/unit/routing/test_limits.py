"""A model's output limit, and telling "too many tokens" apart from other empty plans."""

from __future__ import annotations

from dataclasses import replace

import pytest

from switchboard.routing import TokenMisfit, plan_named, token_misfit
from switchboard.routing.pinning import NamedModelError
from switchboard.routing.reasons import Rejection
from switchboard.vocabulary import PowerLevel, Tier
from tests.unit.routing.catalogs import CatalogBuilder, outcome, planned_ids, request

PLANNED = "planned"
OUTPUT = Rejection.OUTPUT_TOO_SMALL
CONTEXT = Rejection.CONTEXT_TOO_SMALL


@pytest.mark.parametrize(
    ("model_limit", "asked", "expected"),
    [
        (None, 10**9, PLANNED),
        (4096, None, PLANNED),
        (4096, 4096, PLANNED),
        (4096, 4097, OUTPUT),
    ],
)
def test_a_model_takes_an_answer_up_to_its_output_limit(
    model_limit: int | None, asked: int | None, expected: str
) -> None:
    catalog = CatalogBuilder()
    catalog.routed("target", max_tokens=model_limit)
    route_request = replace(request(), max_output_tokens=asked)
    assert outcome(catalog.build(), route_request, "target") == expected


def test_a_request_over_the_first_models_output_limit_goes_to_the_next() -> None:
    catalog = CatalogBuilder()
    catalog.routed("small", max_tokens=1000, rule={"priority": 1})
    catalog.routed("big", max_tokens=2000, rule={"priority": 2})
    route_request = replace(request(tokens=1600), max_output_tokens=1500)
    assert planned_ids(catalog.build(), route_request) == ["big"]


def limits_catalog() -> CatalogBuilder:
    catalog = CatalogBuilder()
    catalog.routed("small", context_window=2000, max_tokens=1000)
    catalog.routed("big", context_window=4000, max_tokens=2000)
    catalog.routed("precious", context_window=10**6, min_tier=Tier.ENTERPRISE)
    return catalog


@pytest.mark.parametrize(
    ("tokens", "output", "expected"),
    [
        # The answer over every output limit: the largest limit (not the enterprise model's).
        (10**6 + 10, 10**6, TokenMisfit(OUTPUT, 10**6, 2000)),
        # The whole request over the windows of the models whose output limit takes it.
        (4004, 2000, TokenMisfit(CONTEXT, 4004, 4000)),
        (2500, 1500, None),  # too large for `small`'s output limit, not for `big`
        (5000, None, TokenMisfit(CONTEXT, 5000, 4000)),
        # It fits somewhere: its size is not what stops it.
        (3000, 1500, None),
        (100, None, None),
    ],
)
def test_token_misfit_names_the_limit_that_stops_every_model(
    tokens: int, output: int | None, expected: TokenMisfit | None
) -> None:
    route_request = replace(request(tier=Tier.FREE, tokens=tokens), max_output_tokens=output)
    snapshot = limits_catalog().build()
    assert token_misfit(snapshot, route_request, byok_providers=frozenset()) == expected


def test_a_request_under_every_rules_minimum_is_not_too_large() -> None:
    catalog = CatalogBuilder()
    catalog.routed("target", rule={"min_tokens": 1000, "max_tokens": 2000})
    snapshot = catalog.build()
    assert token_misfit(snapshot, request(tokens=10), byok_providers=frozenset()) is None
    assert token_misfit(snapshot, request(tokens=3000), byok_providers=frozenset()) == (
        TokenMisfit(CONTEXT, 3000, 2000)
    )


def test_nothing_to_serve_it_at_any_size_is_no_misfit() -> None:
    snapshot = limits_catalog().build()
    eco = replace(request(tokens=10**7), power_level=PowerLevel.ECO, max_output_tokens=10**6)
    assert token_misfit(snapshot, eco, byok_providers=frozenset()) is None


def test_named_models_too_small_say_so() -> None:
    snapshot = limits_catalog().build()
    route_request = replace(request(tier=Tier.FREE, tokens=1510), max_output_tokens=1500)
    with pytest.raises(NamedModelError) as raised:
        plan_named(snapshot, ["small", "precious"], route_request)
    assert raised.value.misfit == TokenMisfit(OUTPUT, 1500, 1000)
    assert "max output too small" in str(raised.value)
