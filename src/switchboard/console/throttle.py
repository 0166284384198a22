"""Failed console sign-ins slow a client down: after `free_failures` failures in a row, each
further attempt must wait 1, 2, 4… seconds (at most a minute) after the last failure.

Clients are told apart by their address as the server sees it (behind a proxy, run uvicorn
with `--proxy-headers` so that it is the client's). The counts are kept in this process's
memory, for at most `MAX_CLIENTS` clients (the oldest forgotten first): a restart, or another
replica, starts from zero. It slows guessing down; the admin token's length is what stops it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_CLIENTS = 10_000
MAX_WAIT_S = 60.0


@dataclass(slots=True)
class _Failures:
    count: int
    last_at: float


class SignInThrottle:
    def __init__(self, *, free_failures: int, clock: Callable[[], float]) -> None:
        self._free = free_failures
        self._clock = clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def wait_s(self, client: str) -> float:
        """How long `client` must still wait before its next attempt (0: it may try now)."""
        failures = self._failures.get(client)
        if failures is None or failures.count < self._free:
            return 0.0
        delay = min(2.0 ** (failures.count - self._free), MAX_WAIT_S)
        return max(0.0, failures.last_at + delay - self._clock())

    def failed(self, client: str) -> None:
        failures = self._failures.pop(client, None) or _Failures(0, 0.0)
        failures.count += 1
        failures.last_at = self._clock()
        self._failures[client] = failures
        while len(self._failures) > MAX_CLIENTS:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
