"""Switchboard's exceptions, one tree::

SwitchboardError
├── ConfigurationError        a setting is missing or malformed (names the variable)
├── SecretError
│   └── SecretDecryptionError  no configured key opens a stored secret
├── NotFoundError             a named user, provider or model does not exist
├── MissingKeyError           no virtual key was sent
├── InvalidKeyError           the virtual key is unknown, revoked or expired
├── KeyStoreUnavailableError  the key cannot be checked now
└── PriceMapError             a price map cannot be read, or an entry of it is malformed
                              (names the source and the entry)
"""

from __future__ import annotations


class SwitchboardError(Exception):
    """Base of every error Switchboard raises on purpose."""


class ConfigurationError(SwitchboardError):
    """A setting is missing or malformed; the message names the variable."""


class SecretError(SwitchboardError):
    """Something went wrong encrypting or decrypting a secret. Never carries the secret."""


class SecretDecryptionError(SecretError):
    """None of the keys in ENCRYPTION_KEY can decrypt the value (wrong key or corrupted data)."""


class NotFoundError(SwitchboardError):
    """A user, provider, model or key named by the caller does not exist."""


class MissingKeyError(SwitchboardError):
    """The request carries no virtual key (in `Authorization: Bearer` or `x-api-key`)."""


class InvalidKeyError(SwitchboardError):
    """The virtual key is unknown, revoked or expired, or its user is deactivated."""


class KeyStoreUnavailableError(SwitchboardError):
    """The key could not be checked: the database is unreachable and the key is not cached."""


class ConcurrentWriteError(SwitchboardError):
    """Another transaction stored some of the same usage request ids while these were written:
    roll back and write them again (they will then be found stored, and counted once)."""


class PriceMapError(SwitchboardError):
    """A price map (LiteLLM's format) could not be read, is not JSON, or has a malformed entry
    of a provider the catalog knows; the message names the source, or the entry and field.
    Nothing was written."""
