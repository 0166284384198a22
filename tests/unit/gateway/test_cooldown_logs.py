"""What the cooldowns log: a line when a deployment trips and when its cooldown ends, none
for a failure that only extends one (an outage would otherwise log a line per request)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from switchboard.gateway.cooldowns import Cooldowns

LOGGER = "switchboard.gateway.cooldowns"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def names(provider_id: int | None, model_id: int | None) -> tuple[str | None, str | None]:
    """As `CatalogState.names` answers for a catalog of one model (10) of one provider (1)."""
    if provider_id is None and model_id == 10:
        provider_id = 1
    return ("openai" if provider_id == 1 else None, "gpt-4o-mini" if model_id == 10 else None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cooldowns(clock: Clock) -> Cooldowns:
    return Cooldowns(failures_to_trip=2, cooldown_s=30, clock=clock, names=names)


def events(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, dict[str, Any]]]:
    return [
        (record.msg, record.levelno, record.fields)
        for record in caplog.records
        if record.name == LOGGER
    ]


def test_a_model_trips_once_and_says_for_how_long_and_why(
    cooldowns: Cooldowns, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        cooldowns.record_failure(1, 10, provider_wide=False, reason="server_error")
        assert events(caplog) == []  # one failure of two
        for _ in range(3):
            cooldowns.record_failure(1, 10, provider_wide=False, reason="server_error")

    assert events(caplog) == [
        (
            "cooldown_started",
            logging.WARNING,
            {
                "scope": "model",
                "provider": "openai",
                "model": "gpt-4o-mini",
                "provider_id": 1,
                "model_id": 10,
                "cooldown_s": 30,
                "cause": "consecutive_failures",
                "failures": 2,
                "reason": "server_error",
            },
        )
    ]


def test_retry_after_trips_at_once_for_as_long_as_it_says(
    cooldowns: Cooldowns, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        cooldowns.record_failure(1, 10, provider_wide=False, retry_after_s=7.5)

    ((event, _, fields),) = events(caplog)
    assert event == "cooldown_started"
    assert (fields["cooldown_s"], fields["cause"], fields["failures"]) == (7.5, "retry_after", 1)


def test_a_provider_trips_as_a_whole_and_a_success_ends_it(
    cooldowns: Cooldowns, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        cooldowns.record_failure(1, 10, provider_wide=True, reason="authentication")
        cooldowns.record_failure(1, 10, provider_wide=True, reason="authentication")
        cooldowns.record_success(1, 10)
        cooldowns.record_success(1, 10)  # nothing left to end

    started, ended = events(caplog)
    assert started[2]["scope"] == "provider"
    assert (started[2]["provider"], started[2]["model"]) == ("openai", None)
    assert ended == (
        "cooldown_ended",
        logging.INFO,
        {
            "scope": "provider",
            "provider": "openai",
            "model": None,
            "provider_id": 1,
            "model_id": None,
            "cause": "success",
        },
    )


def test_a_cooldown_that_runs_out_says_so_and_a_new_trip_is_a_new_line(
    cooldowns: Cooldowns, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        cooldowns.record_failure(1, 10, provider_wide=False, retry_after_s=5)
        clock.now += 6
        assert cooldowns.view().cooling_models == frozenset()
        cooldowns.record_failure(1, 10, provider_wide=False, retry_after_s=5)

    assert [(event, fields.get("cause")) for event, _, fields in events(caplog)] == [
        ("cooldown_started", "retry_after"),
        ("cooldown_ended", "expired"),
        ("cooldown_started", "retry_after"),
    ]
    assert events(caplog)[1][2]["provider"] == "openai"  # found through the model


def test_an_expiry_noticed_only_at_the_next_failure_is_still_told(
    cooldowns: Cooldowns, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        cooldowns.record_failure(1, 10, provider_wide=False, retry_after_s=5)
        clock.now += 6  # nobody looked at the view meanwhile
        cooldowns.record_failure(1, 10, provider_wide=False, retry_after_s=5)

    assert [(event, fields.get("cause")) for event, _, fields in events(caplog)] == [
        ("cooldown_started", "retry_after"),
        ("cooldown_ended", "expired"),
        ("cooldown_started", "retry_after"),
    ]
