"""Secrets at rest: Fernet encryption keyed by ENCRYPTION_KEY, rotated with MultiFernet.

ENCRYPTION_KEY holds one or more Fernet keys separated by commas. The first key encrypts;
every key decrypts, so a new key can be put first while old values stay readable, and
`switchboard secrets rotate` then re-encrypts every stored value under the first key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from switchboard.errors import ConfigurationError, SecretDecryptionError
from switchboard.settings import Settings

ENCRYPTION_KEY_VARIABLE = "ENCRYPTION_KEY"


def generate_key() -> str:
    """A new random Fernet key, suitable for ENCRYPTION_KEY."""
    return Fernet.generate_key().decode("ascii")


def key_id(key: str) -> str:
    """A short, non-secret fingerprint of a key: which key encrypted a value."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:12]


def hash_virtual_key(key: str) -> str:
    """What is stored of a virtual key. Keys are 256 random bits, so a plain SHA-256 leaves a
    thief of the hash nothing to guess from, and a look-up stays one index probe."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class SecretManager:
    """Encrypts and decrypts secrets with the keys given, the first one current."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigurationError(
                f"{ENCRYPTION_KEY_VARIABLE} is not set: generate one with "
                "`switchboard secrets generate-key` and put it in the environment or .env"
            )
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise ConfigurationError(
                    f"{ENCRYPTION_KEY_VARIABLE} is malformed: key {position} of {len(keys)} is "
                    "not a Fernet key (32 url-safe base64-encoded bytes); generate one with "
                    "`switchboard secrets generate-key`"
                ) from None
        self._fernet = MultiFernet(fernets)
        self._current_key_id = key_id(keys[0])
        self.key_count = len(keys)

    @classmethod
    def from_value(cls, value: str | None) -> SecretManager:
        """Build from the raw ENCRYPTION_KEY value (comma-separated keys)."""
        keys = [part.strip() for part in (value or "").split(",") if part.strip()]
        return cls(keys)

    def encrypt_secret(
        self,
        secret: str,
        secret_type: str = "generic",
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Encrypt `secret`; the result's `encrypted_value` is what gets stored."""
        token = self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")
        return {
            "encrypted_value": token,
            "key_id": self._current_key_id,
            "key_version": 1,
            "secret_type": secret_type,
            "metadata": dict(metadata or {}),
            "encrypted_at": datetime.now(UTC).isoformat(),
        }

    def decrypt_secret(self, encrypted_value: str) -> str:
        """The plain secret, or SecretDecryptionError if no configured key opens it."""
        try:
            return self._fernet.decrypt(encrypted_value.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError, UnicodeDecodeError):
            raise SecretDecryptionError(
                f"cannot decrypt a stored secret with the {self.key_count} key(s) in "
                f"{ENCRYPTION_KEY_VARIABLE}: it was encrypted with another key or is corrupted"
            ) from None

    def rotate(self, encrypted_value: str) -> str:
        """The same secret re-encrypted under the current (first) key."""
        try:
            return self._fernet.rotate(encrypted_value.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError):
            raise SecretDecryptionError(
                f"cannot rotate a stored secret: no key in {ENCRYPTION_KEY_VARIABLE} opens it"
            ) from None


def configured_secret_manager(settings: Settings) -> SecretManager | None:
    """The secret manager for ENCRYPTION_KEY, or None when it is not set (a malformed value is
    a ConfigurationError). Each entry point builds it once: the gateway holds it, each command
    of the command line builds its own."""
    key = settings.encryption_key
    return SecretManager.from_value(key.get_secret_value()) if key is not None else None


def get_secret_manager(settings: Settings | None = None) -> SecretManager:
    """The secret manager for the given settings, or for the environment (and `.env`) when none."""
    key = (settings or Settings()).encryption_key
    return SecretManager.from_value(key.get_secret_value() if key is not None else None)
