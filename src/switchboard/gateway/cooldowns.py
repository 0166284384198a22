"""Cooldowns: a deployment that keeps failing is tried last for a while (a circuit breaker).

A model trips after `failures_to_trip` consecutive retryable failures, or at once when the
provider sent `Retry-After`; a provider trips on failures of the provider itself (connection
refused, key rejected). A success closes the circuit. The routing engine reads the result as
a `HealthView`, rebuilt only when something changed or a cooldown ran out.

Each trip is logged (`cooldown_started`: which deployment, for how long, why), and so is its
end (`cooldown_ended`: a success closed it, or its time ran out); a failure that only extends a
running cooldown is not, or an outage would log a line per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypedDict

from switchboard.logs import log_event
from switchboard.routing import HealthView

if TYPE_CHECKING:
    from switchboard.gateway.catalog_state import Names

log = logging.getLogger(__name__)


class _Subject(TypedDict):
    """What a cooldown's log lines say of what is cooling down."""

    scope: str
    provider: str | None
    model: str | None
    provider_id: int | None
    model_id: int | None


def _no_names(provider_id: int | None, model_id: int | None) -> tuple[str | None, str | None]:
    return None, None


class Cooldowns:
    def __init__(
        self,
        *,
        failures_to_trip: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
        names: Names = _no_names,
    ) -> None:
        self._failures_to_trip = max(1, failures_to_trip)
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._names = names
        self._model_failures: dict[int, int] = {}
        self._provider_failures: dict[int, int] = {}
        self._models_until: dict[int, float] = {}
        self._providers_until: dict[int, float] = {}
        self._view = HealthView()
        self._view_valid_until = float("inf")

    def record_failure(
        self,
        provider_id: int,
        model_id: int,
        *,
        provider_wide: bool,
        retry_after_s: float | None = None,
        reason: str | None = None,
    ) -> None:
        """`reason`: the failure's kind, for the log line of a trip."""
        now = self._clock()
        if provider_wide:
            count = self._provider_failures.get(provider_id, 0) + 1
            self._provider_failures[provider_id] = count
            if count >= self._failures_to_trip:
                until = self._providers_until.get(provider_id)
                self._providers_until[provider_id] = now + self._cooldown_s
                self._invalidate()
                if until is None or until <= now:
                    if until is not None:  # ran out, unnoticed until now
                        self._log_end(provider_id, None, "expired")
                    self._log_trip(provider_id, None, self._cooldown_s, count, None, reason)
            return
        count = self._model_failures.get(model_id, 0) + 1
        self._model_failures[model_id] = count
        if retry_after_s is not None or count >= self._failures_to_trip:
            duration = retry_after_s if retry_after_s is not None else self._cooldown_s
            until = self._models_until.get(model_id)
            self._models_until[model_id] = now + duration
            self._invalidate()
            if until is None or until <= now:
                if until is not None:
                    self._log_end(provider_id, model_id, "expired")
                self._log_trip(provider_id, model_id, duration, count, retry_after_s, reason)

    def record_success(self, provider_id: int, model_id: int) -> None:
        self._model_failures.pop(model_id, None)
        self._provider_failures.pop(provider_id, None)
        model_until = self._models_until.pop(model_id, None)
        provider_until = self._providers_until.pop(provider_id, None)
        if model_until is not None or provider_until is not None:
            self._invalidate()
            now = self._clock()
            if model_until is not None:
                self._log_end(provider_id, model_id, "expired" if model_until <= now else "success")
            if provider_until is not None:
                self._log_end(provider_id, None, "expired" if provider_until <= now else "success")

    def view(self) -> HealthView:
        if self._clock() >= self._view_valid_until:
            self._rebuild()
        return self._view

    def _invalidate(self) -> None:
        self._view_valid_until = float("-inf")

    def _rebuild(self) -> None:
        now = self._clock()
        for key in [key for key, until in self._models_until.items() if until <= now]:
            del self._models_until[key]
            self._log_end(None, key, "expired")
        for key in [key for key, until in self._providers_until.items() if until <= now]:
            del self._providers_until[key]
            self._log_end(key, None, "expired")
        self._view = HealthView(
            cooling_providers=frozenset(self._providers_until),
            cooling_models=frozenset(self._models_until),
        )
        pending = [*self._models_until.values(), *self._providers_until.values()]
        self._view_valid_until = min(pending, default=float("inf"))

    def _log_trip(
        self,
        provider_id: int,
        model_id: int | None,
        duration_s: float,
        failures: int,
        retry_after_s: float | None,
        reason: str | None,
    ) -> None:
        log_event(
            log,
            logging.WARNING,
            "cooldown_started",
            **self._subject(provider_id, model_id),
            cooldown_s=round(duration_s, 3),
            cause="retry_after" if retry_after_s is not None else "consecutive_failures",
            failures=failures,
            reason=reason,
        )

    def _log_end(self, provider_id: int | None, model_id: int | None, cause: str) -> None:
        log_event(
            log, logging.INFO, "cooldown_ended", **self._subject(provider_id, model_id), cause=cause
        )

    def _subject(self, provider_id: int | None, model_id: int | None) -> _Subject:
        provider, model = self._names(provider_id, model_id)
        return _Subject(
            scope="model" if model_id is not None else "provider",
            provider=provider,
            model=model,
            provider_id=provider_id,
            model_id=model_id,
        )
