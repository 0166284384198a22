"""A provider's `base_url`, checked against `PROVIDER_ADDRESSES` when it is stored.

The host must be an address the policy allows (in whatever notation it is written), or a
name that resolves now only to such addresses. A name that does not resolve yet is accepted:
the provider client checks every address again when it connects (`providers.client`), which
also catches a name pointed somewhere else later.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from switchboard.address_policy import IPAddress, ProviderAddresses, parse_host, refusal
from switchboard.errors import InvalidFieldError

FIELD = "base_url"
_SHOWN_CHARS = 100
"""How much of a host an error repeats."""


def check_base_url(url: str | None, addresses: ProviderAddresses, *, field: str = FIELD) -> None:
    """Raise InvalidFieldError naming `field` when `addresses` refuses where it points
    (a webhook's `url` is checked as a provider's `base_url` is)."""
    if url is None or addresses is ProviderAddresses.ANY:
        return
    try:
        host = urlsplit(url).hostname
    except ValueError:
        raise InvalidFieldError(field, "is not a URL") from None
    if not host:
        return
    address = parse_host(host)
    if address is not None:
        reason = refusal(addresses, address)
        if reason is not None:
            raise InvalidFieldError(field, f"host {_shown(host)} is {reason}")
        return
    for resolved in _resolve(host):
        reason = refusal(addresses, resolved)
        if reason is not None:
            raise InvalidFieldError(field, f"host {_shown(host)} resolves to {reason}")


def _resolve(host: str) -> list[IPAddress]:
    """The addresses `host` resolves to now; none when it does not (yet)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    found = (parse_host(str(info[4][0])) for info in infos)
    return [address for address in found if address is not None]


def _shown(host: str) -> str:
    return repr(host if len(host) <= _SHOWN_CHARS else host[:_SHOWN_CHARS] + "…")
