"""Whose key serves a candidate: BYOK rules, the key source, and whether any key is usable."""

from __future__ import annotations

import pytest

from switchboard.routing import Rejection, Verdict
from switchboard.routing.explain import NO_USABLE_KEY
from switchboard.vocabulary import AuthType, KeySource
from tests.unit.routing.catalogs import CatalogBuilder, explain, outcome, plan, request

PLANNED = "planned"


@pytest.mark.parametrize(
    ("byok_supported", "user_has_key", "expected"),
    [
        (True, True, PLANNED),
        (True, False, Rejection.BYOK_REQUIRED),
        (False, False, Rejection.BYOK_REQUIRED),
        # The rule asks only that the user has a validated key for the provider.
        (False, True, PLANNED),
    ],
)
def test_requires_byok(byok_supported: bool, user_has_key: bool, expected: str) -> None:
    catalog = CatalogBuilder()
    provider = catalog.provider(is_byok_supported=byok_supported)
    catalog.routed("target", provider=provider, rule={"requires_byok": True})
    byok = frozenset({provider.id}) if user_has_key else frozenset()
    assert outcome(catalog.build(), request(), "target", byok=byok) == expected


def test_requires_byok_looks_at_the_rules_own_provider() -> None:
    catalog = CatalogBuilder()
    mine = catalog.provider("mine", is_byok_supported=True)
    theirs = catalog.provider("theirs", is_byok_supported=True)
    catalog.routed("target", provider=theirs, rule={"requires_byok": True})
    snapshot = catalog.build()
    byok = frozenset({mine.id})
    assert outcome(snapshot, request(), "target", byok=byok) == Rejection.BYOK_REQUIRED


@pytest.mark.parametrize(
    ("byok_supported", "user_has_key", "system_key", "auth_type", "key_source", "usable"),
    [
        (True, True, False, AuthType.BEARER, KeySource.BYOK, True),
        (True, True, True, AuthType.BEARER, KeySource.BYOK, True),
        (True, False, True, AuthType.BEARER, KeySource.SYSTEM, True),
        (True, False, False, AuthType.BEARER, KeySource.SYSTEM, False),
        # The user's key is ignored where the provider does not accept BYOK.
        (False, True, True, AuthType.BEARER, KeySource.SYSTEM, True),
        (False, True, False, AuthType.API_KEY, KeySource.SYSTEM, False),
        (False, False, False, AuthType.API_KEY, KeySource.SYSTEM, False),
        (False, False, True, AuthType.API_KEY, KeySource.SYSTEM, True),
        # A provider without authentication (a local server) needs no key at all.
        (False, False, False, AuthType.NONE, KeySource.SYSTEM, True),
        (True, True, False, AuthType.NONE, KeySource.BYOK, True),
    ],
)
def test_key_source_and_usable_key(
    byok_supported: bool,
    user_has_key: bool,
    system_key: bool,
    auth_type: AuthType,
    key_source: KeySource,
    usable: bool,
) -> None:
    catalog = CatalogBuilder()
    provider = catalog.provider(
        is_byok_supported=byok_supported, has_system_key=system_key, auth_type=auth_type
    )
    catalog.routed("target", provider=provider)
    byok = frozenset({provider.id}) if user_has_key else frozenset()
    snapshot = catalog.build()
    (candidate,) = plan(snapshot, request(), byok=byok).candidates
    assert (candidate.key_source, candidate.has_usable_key) == (key_source, usable)
    verdict = explain(snapshot, request(), byok=byok)["target"]
    assert verdict.key_source == key_source
    assert (NO_USABLE_KEY in verdict.notes) is not usable
    # With one candidate, it is the choice whether or not it has a key.
    assert verdict.verdict is Verdict.CHOSEN


@pytest.mark.parametrize(
    ("keys", "choice", "usable_choice"),
    [
        ((True, True, True), "m1", "m1"),
        ((False, True, True), "m1", "m2"),
        ((False, False, True), "m1", "m3"),
        # No candidate has a key: the first is still the answer (the gateway reports it).
        ((False, False, False), "m1", "m1"),
    ],
)
def test_usable_choice_is_the_first_candidate_with_a_key(
    keys: tuple[bool, ...], choice: str, usable_choice: str
) -> None:
    catalog = CatalogBuilder()
    for number, has_key in enumerate(keys, start=1):
        provider = catalog.provider(has_system_key=has_key)
        catalog.routed(f"m{number}", provider=provider, rule={"priority": number})
    snapshot = catalog.build()
    route = plan(snapshot, request())
    assert [c.model.model_id for c in route.candidates] == ["m1", "m2", "m3"]
    assert route.choice is not None
    assert route.usable_choice is not None
    assert route.choice.model.model_id == choice
    assert route.usable_choice.model.model_id == usable_choice

    verdicts = explain(snapshot, request())
    chosen = [v.model_id for v in verdicts.values() if v.verdict is Verdict.CHOSEN]
    assert chosen == [usable_choice]
    for number, has_key in enumerate(keys, start=1):
        verdict = verdicts[f"m{number}"]
        assert verdict.position == number
        assert (NO_USABLE_KEY in verdict.notes) is not has_key


def test_an_empty_plan_has_no_choice() -> None:
    catalog = CatalogBuilder()
    catalog.routed("target", rule={"task_type": "code"})
    route = plan(catalog.build(), request(task="writing"))
    assert route.candidates == ()
    assert route.choice is None
    assert route.usable_choice is None
