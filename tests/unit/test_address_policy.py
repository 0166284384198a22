"""Which addresses provider URLs may point at: hosts in every notation, judged by each policy."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from switchboard.address_policy import (
    AddressKind,
    ProviderAddresses,
    host_refusal,
    kind_of,
    parse_host,
)

PRIVATE, PUBLIC, ANY = ProviderAddresses.PRIVATE, ProviderAddresses.PUBLIC, ProviderAddresses.ANY
METADATA = "169.254.169.254"


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("169.254.169.254", METADATA),
        ("2852039166", METADATA),  # one decimal number
        ("0xA9FEA9FE", METADATA),  # hex
        ("0xa9fea9fe", METADATA),
        ("0251.0376.0251.0376", METADATA),  # octal
        ("0xa9.0xfe.0xa9.0xfe", METADATA),
        ("169.254.43518", METADATA),  # short forms
        ("169.16689662", METADATA),
        ("169.254.169.254.", METADATA),  # a trailing dot
        ("[::ffff:169.254.169.254]", "::ffff:169.254.169.254"),
        ("::ffff:a9fe:a9fe", "::ffff:169.254.169.254"),
        ("[fe80::1%25eth0]", "fe80::1"),  # a zone, as written in a URL
        ("fe80::1%eth0", "fe80::1"),
        ("127.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("[::1]", "::1"),
        ("api.openai.com", None),
        ("localhost", None),
        ("cafe.bad", None),  # hex digits, but no number
        ("deadbeef", None),
        ("1.2.3.4 x", None),  # the C library would read the address before the space
        ("1.2.3.4.5", None),
        ("256.1.1.1", None),
        ("", None),
    ],
)
def test_a_host_is_read_in_every_notation(host: str, address: str | None) -> None:
    expected = ip_address(address) if address is not None else None
    assert parse_host(host) == expected


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("8.8.8.8", AddressKind.PUBLIC),
        ("2606:4700:4700::1111", AddressKind.PUBLIC),
        ("127.0.0.1", AddressKind.LOOPBACK),
        ("127.8.9.10", AddressKind.LOOPBACK),
        ("::1", AddressKind.LOOPBACK),
        ("10.1.2.3", AddressKind.PRIVATE),
        ("172.16.0.1", AddressKind.PRIVATE),
        ("192.168.1.20", AddressKind.PRIVATE),
        ("100.64.0.1", AddressKind.PRIVATE),
        ("fd12:3456::1", AddressKind.PRIVATE),
        ("169.254.1.1", AddressKind.LINK_LOCAL),
        ("fe80::1", AddressKind.LINK_LOCAL),
        (METADATA, AddressKind.CLOUD_METADATA),
        ("2852039166", AddressKind.CLOUD_METADATA),
        ("fd00:ec2::254", AddressKind.CLOUD_METADATA),
        ("100.100.100.200", AddressKind.CLOUD_METADATA),
        ("::ffff:169.254.169.254", AddressKind.CLOUD_METADATA),  # IPv4-mapped
        ("::169.254.169.254", AddressKind.CLOUD_METADATA),  # IPv4-compatible
        ("64:ff9b::169.254.169.254", AddressKind.CLOUD_METADATA),  # NAT64
        ("64:ff9b:1::a9fe:a9fe", AddressKind.CLOUD_METADATA),  # local-use NAT64
        ("2002:a9fe:a9fe::1", AddressKind.CLOUD_METADATA),  # 6to4
        ("::ffff:127.0.0.1", AddressKind.LOOPBACK),
        ("::ffff:10.0.0.1", AddressKind.PRIVATE),
        ("::ffff:8.8.8.8", AddressKind.PUBLIC),
        ("0.0.0.0", AddressKind.UNSPECIFIED),
        ("0.1.2.3", AddressKind.UNSPECIFIED),
        ("::", AddressKind.UNSPECIFIED),
        ("224.0.0.1", AddressKind.MULTICAST),
        ("ff02::1", AddressKind.MULTICAST),
        ("240.0.0.1", AddressKind.RESERVED),
        ("255.255.255.255", AddressKind.RESERVED),
        ("192.0.2.1", AddressKind.RESERVED),
    ],
)
def test_each_address_has_one_kind(host: str, kind: AddressKind) -> None:
    address = parse_host(host)
    assert address is not None
    assert kind_of(address) is kind


@pytest.mark.parametrize(
    ("host", "allowed_under"),
    [
        ("8.8.8.8", {PRIVATE, PUBLIC, ANY}),
        ("127.0.0.1", {PRIVATE, ANY}),
        ("[::1]", {PRIVATE, ANY}),
        ("10.0.0.5", {PRIVATE, ANY}),
        ("0x7f000001", {PRIVATE, ANY}),
        (METADATA, {ANY}),
        ("2852039166", {ANY}),
        ("0xA9FEA9FE", {ANY}),
        ("[::ffff:169.254.169.254]", {ANY}),
        ("169.254.43518", {ANY}),
        ("[fd00:ec2::254]", {ANY}),
        ("100.100.100.200", {ANY}),
        ("169.254.10.10", {ANY}),
        ("[fe80::1]", {ANY}),
        ("0", {ANY}),
        ("224.0.0.1", {ANY}),
        ("240.0.0.1", {ANY}),
        ("api.openai.com", {PRIVATE, PUBLIC, ANY}),  # a name: judged by what it resolves to
    ],
)
def test_each_policy_allows_what_it_says(host: str, allowed_under: set[ProviderAddresses]) -> None:
    for policy in ProviderAddresses:
        refused = host_refusal(policy, host)
        assert (refused is None) == (policy in allowed_under), (host, policy, refused)


def test_a_refusal_names_the_address_its_kind_and_the_policy() -> None:
    assert host_refusal(PRIVATE, "0xA9FEA9FE") == (
        "169.254.169.254, a cloud metadata address, which PROVIDER_ADDRESSES=private refuses"
    )
    assert host_refusal(PUBLIC, "::ffff:127.0.0.1") == (
        "::ffff:7f00:1 (IPv4 127.0.0.1), a loopback address, which PROVIDER_ADDRESSES=public "
        "refuses"
    )
