"""What every HTTP adapter shares: timeouts, error classification, Retry-After, and the
requests themselves (`ProviderApi`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson

from switchboard._types import utcnow
from switchboard.providers.base import JSON, ErrorKind, Upstream, UpstreamError

_MAX_RETRY_AFTER_S = 300.0
_MAX_ERROR_BODY_BYTES = 64 * 1024
"""An error body is read up to this much: enough for any real one, and a hostile upstream
cannot fill the gateway's memory with one."""
_EXCERPT_CHARS = 300
"""How much of a provider's error text goes into our messages (logs, the usage record)."""
_MAX_LOCATION_CHARS = 200


def timeout_for(upstream: Upstream, *, streaming: bool = False) -> aiohttp.ClientTimeout:
    """A whole answer must arrive within `timeout_s`. A stream must start within it and never
    fall silent for longer, but may last as long as the provider keeps sending: a total limit
    would cut off every long generation."""
    if streaming:
        return aiohttp.ClientTimeout(
            total=None, sock_connect=upstream.connect_timeout_s, sock_read=upstream.timeout_s
        )
    return aiohttp.ClientTimeout(total=upstream.timeout_s, sock_connect=upstream.connect_timeout_s)


@asynccontextmanager
async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    upstream: Upstream,
    *,
    headers: Mapping[str, str],
    payload: JSON | None = None,
    error_body: Any = None,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """The provider's response, once its status says success; otherwise UpstreamError.
    `error_body` turns the provider's error JSON into an OpenAI error object. Redirects are not
    followed: the key would go along to wherever one points."""
    data = orjson.dumps(payload) if payload is not None else None
    timeout = timeout_for(upstream, streaming=bool(payload and payload.get("stream")))
    try:
        async with session.request(
            method, url, data=data, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            if response.status >= 300:
                raw = await _read_at_most(response.content) if response.status >= 400 else b""
                raise classify(response.status, raw, response.headers, upstream, error_body)
            yield response
    except UpstreamError:
        raise
    except TimeoutError:
        raise UpstreamError(
            ErrorKind.TIMEOUT, f"{upstream.provider_slug} did not answer in time"
        ) from None
    except aiohttp.ClientConnectionError as error:
        kind = (
            ErrorKind.CONNECTION
            if isinstance(error, aiohttp.ClientConnectorError)
            else ErrorKind.PROTOCOL
        )
        raise UpstreamError(kind, f"{upstream.provider_slug}: {error}") from None
    except aiohttp.ClientError as error:
        raise UpstreamError(ErrorKind.PROTOCOL, f"{upstream.provider_slug}: {error}") from None


async def _read_at_most(content: aiohttp.StreamReader, limit: int = _MAX_ERROR_BODY_BYTES) -> bytes:
    """The body up to `limit` bytes (`read(n)` alone may stop at what has arrived so far)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := await content.read(limit - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def classify(
    status: int,
    raw: bytes,
    headers: Mapping[str, str],
    upstream: Upstream,
    error_body: Any = None,
) -> UpstreamError:
    if status < 400:
        return redirected(status, headers, upstream)
    try:
        parsed = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        parsed = None
    body = error_body(parsed) if error_body is not None else parsed
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        text = raw[:_EXCERPT_CHARS].decode("utf-8", "replace") if raw else f"HTTP {status}"
        body = {"error": {"message": text, "type": "upstream_error", "param": None, "code": None}}
    said = str(body["error"].get("message", ""))[:_EXCERPT_CHARS]
    message = f"{upstream.provider_slug} answered {status}: {said}"
    if status == 429:
        kind = ErrorKind.RATE_LIMITED
    elif status >= 500:
        kind = ErrorKind.SERVER_ERROR
    elif status in (401, 403):
        kind = ErrorKind.AUTHENTICATION
    elif status == 404:
        kind = ErrorKind.NOT_FOUND
    elif status == 408:
        kind = ErrorKind.TIMEOUT
    else:
        kind = ErrorKind.BAD_REQUEST
    return UpstreamError(
        kind, message, status=status, retry_after_s=retry_after(headers), body=body
    )


def redirected(status: int, headers: Mapping[str, str], upstream: Upstream) -> UpstreamError:
    """A 3xx answer: a protocol error, the redirect not followed."""
    location = (headers.get("location") or headers.get("Location") or "")[:_MAX_LOCATION_CHARS]
    where = f"redirected to {location!r}" if location else "redirected"
    return UpstreamError(
        ErrorKind.PROTOCOL,
        f"{upstream.provider_slug} answered {status}: {where} — not followed",
        status=status,
    )


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a `Retry-After` header (delta or HTTP date), capped at five minutes."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - utcnow()).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)


def bearer_or_key_headers(upstream: Upstream, key_header: str = "x-api-key") -> dict[str, str]:
    """The auth header the provider's `auth_type` asks for (none for keyless servers)."""
    headers = {"content-type": "application/json"}
    if upstream.api_key:
        if upstream.auth_type == "bearer":
            headers["authorization"] = f"Bearer {upstream.api_key}"
        elif upstream.auth_type == "api_key":
            headers[key_header] = upstream.api_key
    return headers


def url(upstream: Upstream, path: str) -> str:
    """`path` under the provider's base URL."""
    if not upstream.base_url:
        raise UpstreamError(
            ErrorKind.CONNECTION, f"{upstream.provider_slug} has no base_url configured"
        )
    return upstream.base_url.rstrip("/") + path


def decode(raw: bytes, upstream: Upstream) -> Any:
    """A provider's JSON object; anything else is a protocol error."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError(
            ErrorKind.PROTOCOL, f"{upstream.provider_slug} sent a body that is not JSON"
        ) from None
    if not isinstance(value, dict):
        raise UpstreamError(ErrorKind.PROTOCOL, f"{upstream.provider_slug} sent a non-object")
    return value


@dataclass(frozen=True, slots=True)
class ProviderApi:
    """How an adapter talks to its provider's HTTP API: the headers it signs a request with
    (`headers`), and how the provider's error bodies read (`error_body`, see `request`)."""

    headers: Callable[[Upstream], dict[str, str]] = bearer_or_key_headers
    error_body: Any = None

    def post(
        self, session: aiohttp.ClientSession, upstream: Upstream, path: str, payload: JSON
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        """`payload` sent as JSON to `path` under the provider's base URL."""
        return request(
            session,
            "POST",
            url(upstream, path),
            upstream,
            headers=self.headers(upstream),
            payload=payload,
            error_body=self.error_body,
        )

    async def model_ids(
        self, session: aiohttp.ClientSession, upstream: Upstream, path: str
    ) -> list[str]:
        """The ids in the `data` list that `GET path` answers (the model listings of OpenAI's
        and Anthropic's APIs alike)."""
        async with request(
            session,
            "GET",
            url(upstream, path),
            upstream,
            headers=self.headers(upstream),
            error_body=self.error_body,
        ) as response:
            listing = decode(await response.read(), upstream)
        return [str(item.get("id")) for item in listing.get("data") or [] if isinstance(item, dict)]
