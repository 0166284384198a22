"""Durations as the gateway reports them (usage records, logs, health reports): whole
milliseconds, measured with `time.perf_counter()`."""

from __future__ import annotations

import time


def elapsed_ms(since: float) -> int:
    """Milliseconds from `since` (a `time.perf_counter()` reading) to now."""
    return round((time.perf_counter() - since) * 1000)
