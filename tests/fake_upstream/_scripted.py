"""What any scripted reply may do whatever the wire format — fail, wait, hang up, cut a stream,
send a body as it is — and the one interface each wire format implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson


@dataclass(frozen=True, slots=True, kw_only=True)
class Scripted:
    """The part of a reply that is the same for every wire format. The defaults answer at once
    with 200, in the wire's format."""

    status: int = 200
    """Anything else answers an error in the wire's format with this status."""
    error_message: str = "scripted failure"
    """`{authorization}` in it is replaced by the Authorization header received: a provider
    that repeats the credential it was sent."""
    error_code: str | None = None
    """The error's `code` (OpenAI's format has one; Anthropic's has none)."""
    retry_after: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    """Sent with the answer, whatever it is (a redirect's `Location`, a recorded answer's own)."""
    raw: bytes | None = None
    """A body sent as it is with `status` and `headers` (`text/html` unless they name a content
    type), instead of one in the wire's format: an HTML error page, a recorded answer."""
    raw_piece_bytes: int | None = None
    """Send `raw` in pieces of this many bytes, so that events arrive split across reads."""
    delay_s: float = 0.0
    """Wait this long before answering (longer than the gateway's timeout: a timeout)."""
    drop_connection: bool = False
    """Close the connection without answering anything."""
    chunk_delay_s: float = 0.0
    """Wait this long between a stream's events."""
    break_after_chunks: int | None = None
    """Send this many events of a stream, then cut the connection."""
    error_after_chunks: int | None = None
    """Send this many events of a stream, then an error event (`error_message`)."""
    end_after_chunks: int | None = None
    """Send this many events of a stream, then end the body cleanly (the connection is not cut)
    without the rest: a truncated stream."""


def json_reply(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Scripted:
    """`body` as JSON, sent as it is: a recorded answer or error."""
    return Scripted(
        status=status,
        raw=orjson.dumps(body),
        headers={"content-type": "application/json", **(headers or {})},
    )


def stream_reply(body: bytes, piece_bytes: int = 29) -> Scripted:
    """A recorded event stream sent as it is, in small pieces."""
    return Scripted(
        raw=body, headers={"content-type": "text/event-stream"}, raw_piece_bytes=piece_bytes
    )


def redirect(target: str, status: int = 302) -> Scripted:
    """A redirect to `target`, with an empty body."""
    return Scripted(status=status, headers={"location": target}, raw=b"")


class WireFormat(Protocol):
    """How one wire format renders what a reply scripts."""

    def default_reply(self) -> Scripted:
        """What a call nothing was scripted for gets."""

    def refusal(
        self, headers: Mapping[str, str], api_keys: frozenset[str] | None
    ) -> tuple[int, str, str | None] | None:
        """`(status, message, code)` of a request refused before any script is read."""

    def answer(self, reply: Scripted, body: dict[str, Any], answer_id: int) -> dict[str, Any]:
        """A whole answer to the request `body`."""

    def events(self, reply: Scripted, body: dict[str, Any], answer_id: int) -> list[bytes]:
        """A streamed answer's events, encoded, before its closing."""

    def closing(self, reply: Scripted) -> bytes:
        """What ends a complete stream after its events (possibly nothing)."""

    def error(self, status: int, message: str, code: str | None) -> dict[str, Any]:
        """An error body."""

    def error_event(self, error: dict[str, Any]) -> bytes:
        """An error body as a stream event."""

    def listing(self, models: list[str]) -> dict[str, Any]:
        """The answer to `GET …/models`."""
