"""Where and how to call a provider: its adapter and an `Upstream`, built here alone, for the
executor (a route's candidate), the health probe (a provider's row) and a BYOK key check.

A provider whose `auth_type` is no `AuthType` (only a hand-edited row can hold one) is not
called: nobody knows how its key should be sent, and guessing could send it where the
operator did not mean it to go. Routing leaves such a provider out (`catalog.snapshot`); the
health probe reports it `unknown`, and a key check fails, saying why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from switchboard.catalog.snapshot import ProviderInfo, parse_auth_type
from switchboard.providers import AdapterRegistry, ProviderAdapter, Upstream
from switchboard.vocabulary import AuthType


class StoredProvider(Protocol):
    """A provider as stored: an `LLMProvider` row, or what a BYOK key check is given."""

    @property
    def provider_slug(self) -> str: ...
    @property
    def base_url(self) -> str | None: ...
    @property
    def api_format(self) -> str | None: ...
    @property
    def auth_type(self) -> str: ...
    @property
    def config(self) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What calling a provider needs, read from a stored provider (a snapshot's
    `ProviderInfo` carries the same fields)."""

    slug: str
    base_url: str | None
    api_format: str | None
    auth_type: AuthType | None
    config: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, provider: StoredProvider) -> Endpoint:
        return cls(
            slug=provider.provider_slug,
            base_url=provider.base_url,
            api_format=provider.api_format,
            auth_type=parse_auth_type(provider.auth_type),
            config=dict(provider.config or {}),
        )


@dataclass(frozen=True, slots=True)
class Connection:
    adapter: ProviderAdapter
    upstream: Upstream


def connect(
    adapters: AdapterRegistry,
    provider: Endpoint | ProviderInfo,
    *,
    model: str,
    api_key: str | None,
    timeout_s: float,
    connect_timeout_s: float,
) -> Connection | str:
    """The adapter and upstream that call `provider`, or why it cannot be called. Connecting
    never takes longer than the whole call may."""
    api_format = AdapterRegistry.format_of(provider.slug, provider.api_format)
    adapter = adapters.for_format(api_format)
    if adapter is None:
        return f"no adapter for wire format {api_format!r}"
    if provider.auth_type is None:
        known = ", ".join(auth_type.value for auth_type in AuthType)
        return f"its auth_type is none of {known}: nobody knows how to send its key"
    upstream = Upstream(
        provider_slug=provider.slug,
        base_url=provider.base_url,
        model=model,
        api_key=api_key,
        auth_type=provider.auth_type,
        config=provider.config,
        connect_timeout_s=min(connect_timeout_s, timeout_s),
        timeout_s=timeout_s,
    )
    return Connection(adapter, upstream)
