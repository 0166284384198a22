"""A provider's system key: the one stored on its row (encrypted), else the environment's.

The environment is the variable its config names in `api_key_env` (e.g. LITELLM_MASTER_KEY),
else `<SLUG>_API_KEY` (`openai` → `OPENAI_API_KEY`), read from what
`Settings.provider_key_environment()` gives: the process environment over `.env`, as every
setting is read. Every reader of a system key (the gateway's catalog, the health probe, the
Python API, the admin API's `api_key_source`) goes through here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from switchboard.errors import ConfigurationError
from switchboard.models import LLMProvider
from switchboard.secrets import ENCRYPTION_KEY_VARIABLE, SecretManager


class SystemKeySource(enum.StrEnum):
    """Where a provider's system key comes from (a stored one wins). Not `KeySource`: that
    says whose key paid for a request."""

    STORED = "stored"
    ENVIRONMENT = "environment"


def system_key_variable(provider_slug: str) -> str:
    """`openai` → `OPENAI_API_KEY`: where a provider's system key may come from instead."""
    return "".join(c if c.isalnum() else "_" for c in provider_slug).upper() + "_API_KEY"


def system_key_variables(provider_slug: str, config: Mapping[str, Any] | None) -> list[str]:
    """The variables a provider's system key is read from, first first: the one its config
    names in `api_key_env`, then `<SLUG>_API_KEY`."""
    names = [system_key_variable(provider_slug)]
    if config and isinstance(config.get("api_key_env"), str):
        names.insert(0, config["api_key_env"])
    return names


def system_key_source(provider: LLMProvider, environ: Mapping[str, str]) -> SystemKeySource | None:
    """Where the provider's system key comes from; None when it has none. Decrypts nothing."""
    if provider.encrypted_api_key:
        return SystemKeySource.STORED
    if environment_key(provider.provider_slug, provider.config, environ) is not None:
        return SystemKeySource.ENVIRONMENT
    return None


def system_key(
    provider: LLMProvider, *, secrets: SecretManager | None, environ: Mapping[str, str]
) -> str | None:
    """The provider's system key; None when it has none. A stored key that cannot be read is
    an error, never a silent fallback to the environment: ConfigurationError without
    ENCRYPTION_KEY, SecretDecryptionError when no configured key opens it."""
    if not provider.encrypted_api_key:
        return environment_key(provider.provider_slug, provider.config, environ)
    if secrets is None:
        raise ConfigurationError(f"a system key is stored but {ENCRYPTION_KEY_VARIABLE} is not set")
    return secrets.decrypt_secret(provider.encrypted_api_key)


def environment_key(
    provider_slug: str, config: Mapping[str, Any] | None, environ: Mapping[str, str]
) -> str | None:
    """The provider's key in `environ`; None when none of its variables is set."""
    names = system_key_variables(provider_slug, config)
    return next((environ[name] for name in names if environ.get(name)), None)
