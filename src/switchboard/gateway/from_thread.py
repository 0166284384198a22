"""What sync endpoints ask of the gateway on its event loop.

FastAPI runs a sync endpoint (the admin and BYOK APIs and the console call synchronous
services) in a worker thread, while what the gateway owns (its key cache, its HTTP session)
lives on its event loop. Each function here runs its work there and waits for it: the next
request must see a change, and a key check's answer decides what is stored.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio.from_thread

from switchboard.gateway.service import Gateway
from switchboard.gateway.upstreams import StoredProvider


def forget_user(gateway: Gateway, user_id: str) -> None:
    """`Gateway.forget_user`, from a worker thread."""
    anyio.from_thread.run_sync(gateway.forget_user, user_id)


def key_checker(gateway: Gateway) -> Callable[[StoredProvider, str], str | None]:
    """`Gateway.validate_key`, from a worker thread: a services.byok `KeyChecker`."""

    def check(provider: StoredProvider, api_key: str) -> str | None:
        return anyio.from_thread.run(gateway.validate_key, provider, api_key)

    return check
