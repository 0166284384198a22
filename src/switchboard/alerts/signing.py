"""The signature a webhook receiver checks: `X-Switchboard-Signature: sha256=<hex>`, the
HMAC-SHA256 of the exact body bytes under the webhook's secret."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Switchboard-Signature"
DELIVERY_HEADER = "X-Switchboard-Delivery"
"""The delivery's id: the same on every attempt, so a receiver can drop a repeat."""


def signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the body's signature under `secret` (compared in constant time)."""
    return header is not None and hmac.compare_digest(signature(secret, body), header)
