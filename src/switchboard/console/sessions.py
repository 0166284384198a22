"""Console sign-ins as signed cookies: who is signed in, until when, and their CSRF token.

A session is a small JSON document and its HMAC-SHA256, in one HttpOnly, SameSite=Strict
cookie (Secure over HTTPS). Nothing is kept on the server, so every replica accepts a cookie
another one issued. The signing key is derived from `ADMIN_TOKEN` (else `ENCRYPTION_KEY`, else
a key made at start, good for this process only): changing the admin token signs everyone out.
The cookie holds no secret: a user's session names their virtual key by id, never the key.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass

from switchboard.settings import Settings

SESSION_COOKIE = "sb_console"
SIGN_IN_CSRF_COOKIE = "sb_console_sign_in"
"""The double-submit CSRF token of the sign-in form, before there is a session."""
_KEY_CONTEXT = b"switchboard console session v1"


class Role(enum.StrEnum):
    ADMIN = "admin"
    USER = "user"
    """An end user, signed in with one of their virtual keys ("My keys")."""


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    role: Role
    subject: str
    """`admin`, or the user's id."""
    expires_at: float
    """Seconds since the epoch."""
    csrf: str
    key_id: int | None = None
    """The virtual key a user signed in with: the session ends when it is revoked."""


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def signing_key(settings: Settings) -> bytes:
    """The key sessions are signed with (see the module's docstring)."""
    for secret in (settings.admin_token, settings.encryption_key):
        if secret is not None and secret.get_secret_value():
            root = secret.get_secret_value().encode()
            break
    else:
        root = secrets.token_bytes(32)
    return hmac.new(root, _KEY_CONTEXT, hashlib.sha256).digest()


class SessionCodec:
    """Turns sessions into cookie values and back, refusing anything tampered with or expired."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def encode(self, session: ConsoleSession) -> str:
        payload = _b64(json.dumps(asdict(session), separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def decode(self, value: str | None, *, now: float) -> ConsoleSession | None:
        if not value or value.count(".") != 1:
            return None
        payload, signature = value.split(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            session = ConsoleSession(
                role=Role(fields["role"]),
                subject=str(fields["subject"]),
                expires_at=float(fields["expires_at"]),
                csrf=str(fields["csrf"]),
                key_id=None if fields.get("key_id") is None else int(fields["key_id"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires_at > now else None

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
