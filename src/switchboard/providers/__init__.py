"""Provider adapters: wire formats only, no users, tiers or database (see `base`)."""

from switchboard.providers.base import (
    Completion,
    ErrorKind,
    ProviderAdapter,
    Upstream,
    UpstreamError,
    Usage,
)
from switchboard.providers.registry import AdapterRegistry

__all__ = [
    "AdapterRegistry",
    "Completion",
    "ErrorKind",
    "ProviderAdapter",
    "Upstream",
    "UpstreamError",
    "Usage",
]
