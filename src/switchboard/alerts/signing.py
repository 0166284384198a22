"""The signature a webhook receiver checks: `X-Switchboard-Signature: sha256=<hex>`, the
HMAC-SHA256 under the webhook's secret of `<timestamp>.` followed by the exact body bytes,
where the timestamp (Unix seconds) is sent as `X-Switchboard-Timestamp`. Signing the time
too lets a receiver refuse a captured delivery replayed later (`verify`'s `tolerance_s`)."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Switchboard-Signature"
TIMESTAMP_HEADER = "X-Switchboard-Timestamp"
DELIVERY_HEADER = "X-Switchboard-Delivery"
"""The delivery's id: the same on every attempt, so a receiver can drop a repeat."""
TOLERANCE_S = 300


def signature(secret: str, body: bytes, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    timestamp: str | None,
    *,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether `header` is the signature of `body` sent at `timestamp` under `secret`
    (compared in constant time), and that time within `tolerance_s` of `now`."""
    if header is None or timestamp is None or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, body, int(timestamp)), header)
