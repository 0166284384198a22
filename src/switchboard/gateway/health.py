"""Cooldowns: a deployment that keeps failing is tried last for a while (a circuit breaker).

A model trips after `failures_to_trip` consecutive retryable failures, or at once when the
provider sent `Retry-After`; a provider trips on failures of the provider itself (connection
refused, key rejected). A success closes the circuit. The routing engine reads the result as
a `HealthView`, rebuilt only when something changed or a cooldown ran out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from switchboard.routing import HealthView


class Cooldowns:
    def __init__(
        self,
        *,
        failures_to_trip: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failures_to_trip = max(1, failures_to_trip)
        self._cooldown_s = cooldown_s
        self._clock = clock
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
    ) -> None:
        now = self._clock()
        if provider_wide:
            count = self._provider_failures.get(provider_id, 0) + 1
            self._provider_failures[provider_id] = count
            if count >= self._failures_to_trip:
                self._providers_until[provider_id] = now + self._cooldown_s
                self._invalidate()
            return
        count = self._model_failures.get(model_id, 0) + 1
        self._model_failures[model_id] = count
        if retry_after_s is not None or count >= self._failures_to_trip:
            duration = retry_after_s if retry_after_s is not None else self._cooldown_s
            self._models_until[model_id] = now + duration
            self._invalidate()

    def record_success(self, provider_id: int, model_id: int) -> None:
        self._model_failures.pop(model_id, None)
        self._provider_failures.pop(provider_id, None)
        # Both are popped whatever the first finds: a success closes both circuits.
        model_was_cooling = self._models_until.pop(model_id, None) is not None
        provider_was_cooling = self._providers_until.pop(provider_id, None) is not None
        if model_was_cooling or provider_was_cooling:
            self._invalidate()

    def view(self) -> HealthView:
        if self._clock() >= self._view_valid_until:
            self._rebuild()
        return self._view

    def _invalidate(self) -> None:
        self._view_valid_until = float("-inf")

    def _rebuild(self) -> None:
        now = self._clock()
        for table in (self._models_until, self._providers_until):
            for key in [key for key, until in table.items() if until <= now]:
                del table[key]
        self._view = HealthView(
            cooling_providers=frozenset(self._providers_until),
            cooling_models=frozenset(self._models_until),
        )
        pending = [*self._models_until.values(), *self._providers_until.values()]
        self._view_valid_until = min(pending, default=float("inf"))
