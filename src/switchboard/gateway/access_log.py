"""The access log: one line per gateway request, written from its usage record.

The usage record is the one place every request that reached a user's account ends up,
served or failed, with all an operator asks first: who, which model and provider, how it
ended, how long it took, what it cost, whose key paid, how many attempts it took.

    2025-01-31T12:00:00.123Z INFO [4242] switchboard.access request request_id=req_… user=alice
    model=gpt-4o-mini provider=openai status=200 latency_ms=412 ttft_ms=- cost_usd=0.0000105
    key_source=system attempts=1 prompt_tokens=12 completion_tokens=5 error=-

It runs on every request: nothing is built unless the access logger is on (`ACCESS_LOG`).
Requests refused before a user is known (no or a wrong virtual key) have no usage record and
no line here.
"""

from __future__ import annotations

import logging

from switchboard.gateway.catalog_state import Names
from switchboard.logs import ACCESS_LOGGER
from switchboard.usage.record import UsageRecord
from switchboard.vocabulary import KeySource

ACCESS_EVENT = "request"


class AccessLog:
    """`names`: the current catalog's (`CatalogState.names`): a record holds only the id of
    its provider, the line names it by its slug."""

    def __init__(self, names: Names, logger: logging.Logger | None = None) -> None:
        self._names = names
        self._logger = logger or logging.getLogger(ACCESS_LOGGER)

    def write(self, record: UsageRecord) -> None:
        logger = self._logger
        if not logger.isEnabledFor(logging.INFO):
            return
        provider, _ = self._names(record.provider_id, None)
        key_source = None
        if record.provider_id is not None:
            key_source = KeySource.BYOK if record.used_byok else KeySource.SYSTEM
        fields = {
            "request_id": record.request_id,
            "user": record.user_id,
            "model": record.model_name,
            "provider": provider,
            "status": record.status_code,
            "latency_ms": record.latency_ms,
            "ttft_ms": record.time_to_first_token_ms,
            "cost_usd": format(record.cost_total_usd, "f"),
            "key_source": key_source,
            "attempts": record.attempts,
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "error": record.error_type,
        }
        # Made directly rather than by `logger.info`: that would walk the stack for the
        # caller's file and line, which this line never shows (a third of its cost).
        line = logger.makeRecord(logger.name, logging.INFO, __file__, 0, ACCESS_EVENT, (), None)
        line.fields = fields
        logger.handle(line)
