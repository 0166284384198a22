"""Which network addresses a provider URL may point at: the policy and the one decision.

A provider's `base_url` is called with the provider's stored key, so where it points matters:
a URL aimed at a cloud metadata service or at the host's own link-local network would hand the
key (and the answer) to something that is not an LLM provider. `PROVIDER_ADDRESSES` says what
is allowed:

- `private` (the default): public addresses, loopback and private ranges (10/8, 172.16/12,
  192.168/16, 100.64/10, fc00::/7): a local Ollama or vLLM is common;
- `public`: public addresses only;
- `any`: also link-local and cloud metadata addresses, and unspecified, multicast and reserved
  ones: an explicit opt-in.

An IPv4 address carried inside an IPv6 one (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
`::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged as that IPv4 address. A host
is read in every notation the C library's resolver reads as an address: a dotted quad, but
also one decimal number (`2852039166`), hex (`0xA9FEA9FE`), octal and short forms
(`169.254.43518`).

Pure: no I/O. The admin services check a URL when it is stored, the provider client checks
every address it connects to.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import socket
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address


class ProviderAddresses(enum.StrEnum):
    """The `PROVIDER_ADDRESSES` setting: which addresses provider URLs may point at."""

    PRIVATE = "private"
    PUBLIC = "public"
    ANY = "any"


class AddressKind(enum.StrEnum):
    PUBLIC = "public"
    LOOPBACK = "loopback"
    PRIVATE = "private"
    LINK_LOCAL = "link-local"
    CLOUD_METADATA = "cloud metadata"
    UNSPECIFIED = "unspecified"
    MULTICAST = "multicast"
    RESERVED = "reserved"


_ALLOWED: Mapping[ProviderAddresses, frozenset[AddressKind]] = {
    ProviderAddresses.PUBLIC: frozenset({AddressKind.PUBLIC}),
    ProviderAddresses.PRIVATE: frozenset(
        {AddressKind.PUBLIC, AddressKind.LOOPBACK, AddressKind.PRIVATE}
    ),
    ProviderAddresses.ANY: frozenset(AddressKind),
}

_CLOUD_METADATA = frozenset(
    {
        IPv4Address("169.254.169.254"),  # AWS, GCP, Azure, DigitalOcean, OpenStack, …
        IPv6Address("fd00:ec2::254"),  # AWS over IPv6
        IPv4Address("100.100.100.200"),  # Alibaba Cloud
        IPv4Address("192.0.0.192"),  # Oracle Cloud (classic)
        IPv4Address("168.63.129.16"),  # Azure's host endpoint (a public-looking address)
    }
)
_PRIVATE_NETWORKS: tuple[IPv4Network | IPv6Network, ...] = (
    IPv4Network("10.0.0.0/8"),
    IPv4Network("172.16.0.0/12"),
    IPv4Network("192.168.0.0/16"),
    IPv4Network("100.64.0.0/10"),  # carrier-grade NAT, and tailnets
    IPv6Network("fc00::/7"),  # unique local
    IPv6Network("fec0::/10"),  # the deprecated site-local range
)
_THIS_NETWORK = IPv4Network("0.0.0.0/8")  # Linux connects 0.x.y.z to the host itself
_NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))

# What `inet_aton` may read as an address: digits, hex digits, `0x` and dots. Anything else
# (a space above all: glibc ignores what follows one) is a name.
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)

_DESCRIPTIONS: Mapping[AddressKind, str] = {
    AddressKind.PUBLIC: "a public address",
    AddressKind.LOOPBACK: "a loopback address",
    AddressKind.PRIVATE: "a private address",
    AddressKind.LINK_LOCAL: "a link-local address",
    AddressKind.CLOUD_METADATA: "a cloud metadata address",
    AddressKind.UNSPECIFIED: "an unspecified address",
    AddressKind.MULTICAST: "a multicast address",
    AddressKind.RESERVED: "a reserved address",
}


def parse_host(host: str) -> IPAddress | None:
    """The address a URL's host names, in any notation; None when it is a name."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        if not _NUMERIC_HOST.fullmatch(text):
            return None
        try:
            return IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    if isinstance(address, IPv6Address) and address.scope_id:
        return IPv6Address(int(address))  # the zone (`%eth0`) says nothing of the kind
    return address


def kind_of(address: IPAddress) -> AddressKind:
    """What sort of address it is, judging an IPv4 address carried in IPv6 as itself."""
    if isinstance(address, IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded is not None:
            return kind_of(embedded)
    if address in _CLOUD_METADATA:
        return AddressKind.CLOUD_METADATA
    if address.is_unspecified or address in _THIS_NETWORK:
        return AddressKind.UNSPECIFIED
    if address.is_loopback:
        return AddressKind.LOOPBACK
    if address.is_link_local:
        return AddressKind.LINK_LOCAL
    if address.is_multicast:
        return AddressKind.MULTICAST
    if any(address in network for network in _PRIVATE_NETWORKS):
        return AddressKind.PRIVATE
    return AddressKind.PUBLIC if address.is_global else AddressKind.RESERVED


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    value = int(address)
    if value >> 32 == 0 and value > 1:  # `::a.b.c.d`; `::` and `::1` are IPv6's own
        return IPv4Address(value)
    if any(address in network for network in _NAT64):
        return IPv4Address(value & 0xFFFF_FFFF)
    return None


def refusal(policy: ProviderAddresses, address: IPAddress) -> str | None:
    """Why `policy` refuses `address` (`169.254.169.254, a cloud metadata address, which
    PROVIDER_ADDRESSES=private refuses`), or None when it allows it."""
    kind = kind_of(address)
    if kind in _ALLOWED[policy]:
        return None
    shown = str(address)
    if isinstance(address, IPv6Address) and (embedded := embedded_ipv4(address)) is not None:
        shown += f" (IPv4 {embedded})"
    return f"{shown}, {_DESCRIPTIONS[kind]}, which PROVIDER_ADDRESSES={policy} refuses"


def host_refusal(policy: ProviderAddresses, host: str) -> str | None:
    """Why `policy` refuses a host that is an address (in any notation); None when it allows
    it or when the host is a name (a name is judged by what it resolves to)."""
    address = parse_host(host)
    return refusal(policy, address) if address is not None else None
