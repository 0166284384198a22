"""Keeping secrets out of text that leaves the process: one scrubber, one mask.

Every piece of provider text that Switchboard passes on — an error body, a header, a log line,
a usage row's `error_message`, a health check's or a key validation's reason — goes through
`scrub` first. Providers and proxies sometimes repeat the credential they received
(`Incorrect API key provided: Bearer sk-…`); `scrub` replaces the credential that was sent on
that call with its mask, and anything else shaped like a key too, so a key Switchboard never
saw (another replica's, a proxy's own) is not passed on either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

MASK = "…"

# Shapes of credentials: vendor prefixes followed by a key's worth of key characters, a
# bearer token, and long unbroken runs of key characters that mix letters and digits.
_KEY_SHAPES = re.compile(
    r"""
    (?P<bearer>\b[Bb]earer\s+)[^\s"',;…]{8,}
    | \b(?:sk|pk|rk|gsk|xai|key|api|csk|nvapi|hf|r8|pplx|fw|sb)[-_][A-Za-z0-9_\-.]{12,}
    | \bAIza[A-Za-z0-9_\-]{20,}
    | \bAKIA[A-Z0-9]{16}\b
    | \b(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{32,}
    """,
    re.VERBOSE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def mask_secret(secret: str) -> str:
    """`sk-abc…wxyz`: enough to recognise a secret, never enough to use it. At most a third of
    the secret is shown (the rest is hidden), and nothing at all of one under 12 characters."""
    shown = min(len(secret) // 3, 10)
    if shown < 4:
        return MASK
    suffix = min(4, shown // 2)
    return f"{secret[: shown - suffix]}{MASK}{secret[-suffix:]}"


def mask_url(url: str) -> str:
    """`https://hooks.example.com/services/…`: where a URL goes (its scheme, host, port and
    first path segment), without the rest, which may be a credential (a Slack webhook's path
    is), nor any user, password, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    first, _, rest = parts.path.lstrip("/").partition("/")
    shown = f"{parts.scheme}://{host}" + (f"/{first}" if first else "")
    hidden = rest or parts.query or parts.fragment or parts.username or parts.password
    return f"{shown}/{MASK}" if hidden else shown


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with each of `secrets`, and anything shaped like a credential, masked, and
    without control characters other than tab and newline (PostgreSQL refuses NUL in text,
    and a terminal obeys escapes)."""
    text = _CONTROL.sub("", text)
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, mask_secret(secret))
    return _KEY_SHAPES.sub(_mask_match, text)


def scrub_json(value: Any, secrets: Iterable[str | None] = ()) -> Any:
    """`scrub` applied to every string in a JSON value (an error body), keys included."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {scrub(str(k), secrets): scrub_json(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(item, secrets) for item in value]
    return value


def _mask_match(match: re.Match[str]) -> str:
    bearer = match.group("bearer")
    if bearer is not None:
        return bearer + mask_secret(match.group(0)[len(bearer) :])
    return mask_secret(match.group(0))
