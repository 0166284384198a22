"""What routing knows of health: the deployments to try last. Built by the caller, read here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HealthView:
    """Providers and models that are cooling down (circuit open) right now.

    Providers whose last health check said `down` or `unhealthy` are demoted too; that
    state travels in the catalog snapshot. Demoted candidates are tried last, never dropped.
    """

    cooling_providers: frozenset[int] = frozenset()
    cooling_models: frozenset[int] = frozenset()

    def is_cooling(self, provider_id: int, model_id: int) -> bool:
        return provider_id in self.cooling_providers or model_id in self.cooling_models


HEALTHY = HealthView()
