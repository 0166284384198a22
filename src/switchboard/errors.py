"""Switchboard's exceptions, one tree::

SwitchboardError
├── ConfigurationError        a setting is missing or malformed (names the variable)      503
├── SecretError
│   └── SecretDecryptionError  no configured key opens a stored secret
├── NotFoundError             a named user, provider, model, rule or key does not exist    404
├── ConflictError             the change collides with what is stored (a taken id, rows    409
│                             that depend on it, a deactivated user)
├── InvalidFieldError         a field's value is well-formed but wrong (names the field)   422
├── MissingKeyError           no virtual key was sent
├── InvalidKeyError           the virtual key is unknown, revoked or expired
├── KeyStoreUnavailableError  the key cannot be checked now
├── ConcurrentWriteError      another transaction stored some of the same usage rows
└── PriceMapError             a price map cannot be read, or an entry is malformed         502
                              (names the source, or the entry and field)

The numbers are the admin and BYOK APIs' answers (`api.domain_errors`, registered once by
`create_app`). The gateway's own surfaces (`/v1/…`) answer in their clients' formats instead
(`api.errors`).
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
    """A user, provider, model, rule or key named by the caller does not exist."""


class ConflictError(SwitchboardError):
    """The change collides with what is stored: a taken slug, model id, user id or rule
    identity, rows that depend on what is deleted, a deactivated user."""


class InvalidFieldError(SwitchboardError):
    """A field's value is well-formed but wrong against what is stored (an unknown model, an
    address the policy refuses, a key not in its provider's format, a period that ends before
    it starts). `field` names it; `location` says where the caller put it (`body` or `query`);
    `message` says what is wrong, without repeating the value when it may be a secret."""

    def __init__(self, field: str, message: str, *, location: str = "body") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.location = location


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
