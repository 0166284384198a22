"""Which adapter speaks a provider's wire format. Adding a format: one module, one line here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from switchboard.providers.anthropic import AnthropicAdapter
from switchboard.providers.base import ProviderAdapter
from switchboard.providers.mock import MockAdapter
from switchboard.providers.openai_compat import OpenAICompatAdapter

DEFAULT_FORMAT = "openai"

BUILT_IN_ADAPTERS: Mapping[str, Callable[[], ProviderAdapter]] = MappingProxyType(
    {
        "openai": OpenAICompatAdapter,
        "anthropic": AnthropicAdapter,
        "mock": MockAdapter,
    }
)
"""Each wire format Switchboard speaks, and how to make its adapter."""

API_FORMATS = tuple(BUILT_IN_ADAPTERS)
"""The formats a provider's `api_format` may name (the admin API's schema lists them)."""


class AdapterRegistry:
    def __init__(self, adapters: Mapping[str, ProviderAdapter] | None = None) -> None:
        self._adapters: Mapping[str, ProviderAdapter] = adapters or {
            api_format: make() for api_format, make in BUILT_IN_ADAPTERS.items()
        }

    def for_format(self, api_format: str | None) -> ProviderAdapter | None:
        return self._adapters.get(api_format or DEFAULT_FORMAT)

    @staticmethod
    def format_of(provider_slug: str, api_format: str | None) -> str:
        """A provider's wire format: as configured, else guessed from a well-known slug."""
        if api_format:
            return api_format
        return provider_slug if provider_slug in BUILT_IN_ADAPTERS else DEFAULT_FORMAT
