"""`Cooldowns`: when a deployment trips, for how long, and what closes the circuit again.

Time is a fake clock the tests move by hand: nothing here sleeps.
"""

from __future__ import annotations

import pytest

from switchboard.gateway.cooldowns import Cooldowns
from switchboard.providers._http import retry_after
from switchboard.providers.base import ErrorKind, UpstreamError
from switchboard.routing import HealthView

PROVIDER, MODEL, OTHER_MODEL = 1, 10, 11
TRIP, COOLDOWN_S = 3, 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cooldowns(clock: Clock) -> Cooldowns:
    return Cooldowns(failures_to_trip=TRIP, cooldown_s=COOLDOWN_S, clock=clock)


def fail(cooldowns: Cooldowns, times: int = 1, **options: float | None) -> None:
    for _ in range(times):
        cooldowns.record_failure(PROVIDER, MODEL, provider_wide=False, **options)


def fail_provider(cooldowns: Cooldowns, times: int = 1) -> None:
    for _ in range(times):
        cooldowns.record_failure(PROVIDER, MODEL, provider_wide=True)


def test_a_model_trips_after_that_many_consecutive_failures(cooldowns: Cooldowns) -> None:
    fail(cooldowns, TRIP - 1)
    assert cooldowns.view() == HealthView()
    fail(cooldowns)
    assert cooldowns.view() == HealthView(cooling_models=frozenset({MODEL}))
    assert not cooldowns.view().is_cooling(PROVIDER, OTHER_MODEL)


def test_a_success_in_between_starts_the_count_again(cooldowns: Cooldowns) -> None:
    fail(cooldowns, TRIP - 1)
    cooldowns.record_success(PROVIDER, MODEL)
    fail(cooldowns, TRIP - 1)
    assert cooldowns.view() == HealthView()


def test_retry_after_cools_the_model_at_once_for_that_long(
    cooldowns: Cooldowns, clock: Clock
) -> None:
    fail(cooldowns, retry_after_s=120.0)
    assert cooldowns.view().cooling_models == {MODEL}
    clock.now += 119.9
    assert cooldowns.view().cooling_models == {MODEL}
    clock.now += 0.1
    assert cooldowns.view() == HealthView()


def test_a_long_retry_after_is_capped_at_five_minutes(cooldowns: Cooldowns, clock: Clock) -> None:
    # The adapters read the header through `retry_after`, which caps it; a day becomes 300 s.
    fail(cooldowns, retry_after_s=retry_after({"retry-after": "86400"}))
    clock.now += 299.9
    assert cooldowns.view().cooling_models == {MODEL}
    clock.now += 0.1
    assert cooldowns.view() == HealthView()


@pytest.mark.parametrize(
    ("kind", "provider_wide"),
    [
        (ErrorKind.CONNECTION, True),
        (ErrorKind.AUTHENTICATION, True),
        (ErrorKind.RATE_LIMITED, False),
        (ErrorKind.SERVER_ERROR, False),
        (ErrorKind.TIMEOUT, False),
        (ErrorKind.PROTOCOL, False),
    ],
)
def test_connection_errors_and_rejected_keys_are_the_providers_failures(
    kind: ErrorKind, provider_wide: bool
) -> None:
    assert UpstreamError(kind, "failed").provider_wide is provider_wide


def test_provider_wide_failures_cool_the_whole_provider(cooldowns: Cooldowns) -> None:
    fail_provider(cooldowns, TRIP - 1)
    assert cooldowns.view() == HealthView()
    fail_provider(cooldowns)
    view = cooldowns.view()
    assert view == HealthView(cooling_providers=frozenset({PROVIDER}))
    assert view.is_cooling(PROVIDER, OTHER_MODEL)
    assert not view.is_cooling(PROVIDER + 1, OTHER_MODEL)


def test_provider_and_model_failures_are_counted_apart(cooldowns: Cooldowns) -> None:
    fail(cooldowns, TRIP - 1)
    fail_provider(cooldowns, TRIP - 1)
    assert cooldowns.view() == HealthView()


def test_a_cooldown_runs_out(cooldowns: Cooldowns, clock: Clock) -> None:
    fail(cooldowns, TRIP)
    clock.now += 10.0
    fail_provider(cooldowns, TRIP)
    clock.now += COOLDOWN_S - 10.0 - 0.1
    assert cooldowns.view() == HealthView(
        cooling_providers=frozenset({PROVIDER}), cooling_models=frozenset({MODEL})
    )
    clock.now += 0.1
    assert cooldowns.view() == HealthView(cooling_providers=frozenset({PROVIDER}))
    clock.now += 10.0
    assert cooldowns.view() == HealthView()


def test_a_success_clears_the_model_and_the_provider(cooldowns: Cooldowns) -> None:
    fail(cooldowns, TRIP)
    fail_provider(cooldowns, TRIP)
    assert cooldowns.view().cooling_models == {MODEL}
    assert cooldowns.view().cooling_providers == {PROVIDER}
    cooldowns.record_success(PROVIDER, MODEL)
    assert cooldowns.view() == HealthView()


def test_a_success_clears_a_cooling_provider_alone(cooldowns: Cooldowns) -> None:
    fail_provider(cooldowns, TRIP)
    cooldowns.record_success(PROVIDER, MODEL)
    assert cooldowns.view() == HealthView()


def test_a_success_clears_the_failure_counts_too(cooldowns: Cooldowns) -> None:
    fail(cooldowns, TRIP)
    fail_provider(cooldowns, TRIP)
    cooldowns.record_success(PROVIDER, MODEL)
    fail(cooldowns, TRIP - 1)
    fail_provider(cooldowns, TRIP - 1)
    assert cooldowns.view() == HealthView()
