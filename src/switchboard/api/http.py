"""Reading a gateway request: its metadata, its key and whose it is, its JSON body (bounded in
size)."""

from __future__ import annotations

import re
import time
from typing import Any

import orjson
from fastapi import Request

from switchboard.api.errors import ApiError
from switchboard.errors import MissingKeyError
from switchboard.gateway.keys import Principal
from switchboard.gateway.service import Gateway
from switchboard.gateway.usage_records import RequestMeta
from switchboard.vocabulary import ApiSurface

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_HEADER_UNSAFE = re.compile(r"[^\x20-\x7e]+")
MAX_HEADER_BYTES = 512


def request_meta(request: Request, request_id: str, surface: ApiSurface) -> RequestMeta:
    client = request.client
    return RequestMeta(
        request_id=request_id,
        client_ip=client.host if client else None,
        user_agent=(request.headers.get("user-agent") or "")[:500] or None,
        started=time.perf_counter(),
        surface=surface,
    )


def client_request_id(request: Request, meta: RequestMeta) -> str:
    """The client's X-Request-ID when it sent a sane one, else ours. Only ours keys the usage
    record: a client reusing its ids must not make two requests look like one."""
    sent = request.headers.get("x-request-id")
    return sent if sent and _CLIENT_REQUEST_ID.match(sent) else meta.request_id


def bearer_token(request: Request) -> str | None:
    """The key from `Authorization: Bearer …`, or from `x-api-key` (as Anthropic clients send).
    A request carrying two different keys (in both headers, or in two of one) is a 400 naming
    the headers: whichever key won, the other one's owner could be the one billed. The same
    key twice is one key."""
    offered: dict[str, list[str]] = {}
    for header in _KEY_HEADERS:
        for value in request.headers.getlist(header):
            key = _key_in(header, value)
            if key is not None:
                offered.setdefault(key, []).append(_KEY_HEADERS[header])
    if len(offered) > 1:
        raise _conflicting_keys([name for names in offered.values() for name in names])
    return next(iter(offered), None)


async def authenticate(request: Request, gateway: Gateway) -> Principal:
    """Whose virtual key the request carries: every surface (the gateway's, the models list,
    the BYOK API) authenticates its callers here, and renders the errors in its own format.
    MissingKeyError for no key, the 400 ApiError of `bearer_token` for two different ones,
    and the gateway's InvalidKeyError and KeyStoreUnavailableError."""
    token = bearer_token(request)
    if token is None:
        raise MissingKeyError("Missing API key: send `Authorization: Bearer sk-sb-…`.")
    return await gateway.authenticate(token)


_KEY_HEADERS = {"authorization": "Authorization", "x-api-key": "x-api-key"}
"""The headers a key may come in, and how an error names them."""


def _key_in(header: str, value: str) -> str | None:
    if header == "authorization":
        scheme, _, value = value.partition(" ")
        if scheme.lower() != "bearer":
            return None  # another scheme carries no key of ours
    return value.strip() or None


def _conflicting_keys(headers: list[str]) -> ApiError:
    names = list(dict.fromkeys(headers))
    where = (
        f"{len(headers)} {names[0]} headers"
        if len(names) == 1
        else f"the {' and '.join(names)} headers"
    )
    return ApiError(
        400,
        f"Conflicting API keys: {where} carry different keys. Send one key.",
        code="conflicting_api_keys",
    )


async def read_json_object(request: Request, max_bytes: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ApiError(
            400, f"The request body is not valid JSON: {error}", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    return body


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(
        413, f"The request body is larger than {max_bytes} bytes.", code="request_too_large"
    )


def header_value(text: str, limit: int = MAX_HEADER_BYTES) -> str:
    """`text` made safe as an HTTP header value: control characters (CR, LF, NUL…) become a
    space, anything outside printable ASCII a `?` run, and the result is cut to `limit`
    bytes. Every header built from text that is not ours (a route reason, a provider's
    error) goes through here: an invalid value makes the server drop an answer already paid
    for."""
    cleaned = _HEADER_UNSAFE.sub(_replacement, text).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 3].rstrip() + "..."
    return cleaned


def _replacement(match: re.Match[str]) -> str:
    return " " if match.group(0).isspace() or not match.group(0).isprintable() else "?"
