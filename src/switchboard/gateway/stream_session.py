"""A stream committed to one candidate, relayed chunk by chunk, and billed once however it
ends: finished, failed upstream, or cut off by the client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from switchboard.gateway.estimate import answer_chars, estimate_prompt_tokens, tokens_for_chars
from switchboard.gateway.executor import Served, Trail
from switchboard.gateway.keys import Principal
from switchboard.gateway.usage_records import RequestMeta, Route, record_for
from switchboard.providers import Usage
from switchboard.providers.base import JSON
from switchboard.usage.record import UsageRecord


@dataclass(slots=True)
class _Progress:
    usage: Usage | None = None
    text_chars: int = 0
    first_token_at: float | None = None
    recorded: bool = False


class StreamSession:
    """Iterating `chunks()` relays the stream; however it ends, `record` gets one usage
    record (the provider's usage, else the documented estimate of what was streamed)."""

    def __init__(
        self,
        record: Callable[[UsageRecord, RequestMeta, Trail | None, float | None], None],
        meta: RequestMeta,
        principal: Principal,
        route: Route,
        body: JSON,
        first: JSON,
        rest: AsyncIterator[JSON],
        served: Served,
    ) -> None:
        self.meta, self.principal, self.route = meta, principal, route
        self.body, self.served = body, served
        self._write = record
        self._first, self._rest = first, rest
        self._progress = _Progress(first_token_at=time.perf_counter())

    async def chunks(self) -> AsyncIterator[JSON]:
        try:
            yield self._observe(self._first)
            async for chunk in self._rest:
                yield self._observe(chunk)
            self._record(200, None)
        except Exception as error:  # the provider failed mid-stream: bill what was streamed
            self._record(502, str(getattr(error, "kind", error.__class__.__name__)))
            raise
        finally:
            if not self._progress.recorded:  # cancelled: the client went away
                self._record(499, "client_disconnected")
            aclose = getattr(self._rest, "aclose", None)
            if aclose is not None:
                await aclose()

    def _observe(self, chunk: JSON) -> JSON:
        if chunk.get("usage"):
            self._progress.usage = Usage.from_openai(chunk["usage"])
        for choice in chunk.get("choices") or ():
            self._progress.text_chars += answer_chars(choice.get("delta") or {})
        return chunk

    def _record(self, status: int, error_type: str | None) -> None:
        progress = self._progress
        progress.recorded = True
        usage = progress.usage
        estimated = usage is None
        if usage is None:
            usage = Usage(
                prompt_tokens=estimate_prompt_tokens(self.body),
                completion_tokens=tokens_for_chars(progress.text_chars),
            )
        self._write(
            record_for(
                self.meta,
                self.principal,
                self.route,
                self.served,
                usage,
                estimated=estimated,
                status_code=status,
                error_type=error_type,
                first_token_at=progress.first_token_at,
            ),
            self.meta,
            self.served.trail,
            progress.first_token_at,
        )
