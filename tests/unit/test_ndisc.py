"""Neighbour Solicitation and Advertisement (RFC 4861), their options, and the multicast
addresses they go to."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from layerping._value import replace
from layerping.errors import ChecksumError, Malformed, Truncated
from layerping.wire.ethernet import EthernetFrame, EtherType
from layerping.wire.icmpv6 import expected_icmpv6_checksum
from layerping.wire.ipv6 import Ipv6Packet
from layerping.wire.ndisc import (
    HEADER_LEN,
    HOP_LIMIT,
    LinkLayerAddressOption,
    NdOptionType,
    NeighbourAdvertisement,
    NeighbourSolicitation,
    RawNdOption,
    multicast_mac,
    parse_options,
    solicited_node_address,
)
from tests import vectors as V

SLLA = LinkLayerAddressOption(NdOptionType.SOURCE_LINK_LAYER_ADDRESS, V.MAC_A)
TLLA = LinkLayerAddressOption(NdOptionType.TARGET_LINK_LAYER_ADDRESS, V.MAC_B)
SOLICITATION = NeighbourSolicitation(0, V.DST6, (SLLA,), 0, 0x1C1D)
ADVERTISEMENT = NeighbourAdvertisement(0, V.DST6, True, True, True, (TLLA,), 0, 0x0A66)
# (vector, IPv6 source, IPv6 destination, value)
MESSAGES = [
    (V.NS, V.SRC6, V.SOLICITED_NODE6, SOLICITATION),
    (V.NA, V.DST6, V.SRC6, ADVERTISEMENT),
]
Message = NeighbourSolicitation | NeighbourAdvertisement


# --- deconstruct ------------------------------------------------------------------------------


def test_parse_solicitation_from_the_frame() -> None:
    frame = EthernetFrame.parse(V.ETH_NS)
    assert frame.ethertype == EtherType.IPV6
    assert frame.destination == multicast_mac(V.SOLICITED_NODE6) == bytes.fromhex("3333ff000001")
    packet = Ipv6Packet.parse(frame.payload)
    assert packet.header.hop_limit == HOP_LIMIT == 255
    assert packet.header.destination == solicited_node_address(V.DST6)
    ns = NeighbourSolicitation.parse(packet.payload, packet.header.source, packet.header.destination, True)
    assert ns == SOLICITATION
    assert ns.type == 135
    assert ns.target == IPv6Address("2001:db8:1::1")
    assert ns.source_link_layer_address == V.MAC_A
    assert len(ns) == 32


def test_parse_advertisement_flags() -> None:
    na = NeighbourAdvertisement.parse(V.NA, V.DST6, V.SRC6, verify=True)
    assert na == ADVERTISEMENT
    assert (na.router, na.solicited, na.override) == (True, True, True)  # tshark: rtr, sol, ovr
    assert na.target_link_layer_address == V.MAC_B
    assert na.type == 136
    for word, flags in (
        (0x80, (True, False, False)),
        (0x40, (False, True, False)),
        (0x20, (False, False, True)),
    ):
        data = bytearray(V.NA)
        data[4] = word
        parsed = NeighbourAdvertisement.parse(data)
        assert (parsed.router, parsed.solicited, parsed.override) == flags


def test_options_unknown_kept_raw() -> None:
    # Linux's DAD solicitation carries a Nonce option (type 14; tcpdump: "unknown option (14)").
    nonce = bytes.fromhex("0e01 92e9c566d0d5")
    ns = NeighbourSolicitation.parse(V.NS[:HEADER_LEN] + nonce + V.NS[HEADER_LEN:])
    assert ns.options == (RawNdOption(NdOptionType.NONCE, bytes.fromhex("92e9c566d0d5")), SLLA)
    assert ns.source_link_layer_address == V.MAC_A
    assert ns.build() == V.NS[:HEADER_LEN] + nonce + V.NS[HEADER_LEN:]


def test_parse_options_longer_address() -> None:
    # A 16-byte option (length 2): an address of 14 bytes, padding included, as on other links.
    data = bytes.fromhex("0102") + bytes(range(14))
    assert parse_options(data) == (LinkLayerAddressOption(1, bytes(range(14))),)


def test_no_options() -> None:
    na = NeighbourAdvertisement.parse(V.NA[:HEADER_LEN])
    assert na.options == ()
    assert na.target_link_layer_address is None
    assert NeighbourSolicitation.parse(V.NS[:HEADER_LEN]).source_link_layer_address is None


# --- construct --------------------------------------------------------------------------------


def test_build_solicitation() -> None:
    assert NeighbourSolicitation.request(V.DST6, V.MAC_A).build(V.SRC6, V.SOLICITED_NODE6) == V.NS


def test_build_advertisement() -> None:
    na = NeighbourAdvertisement.reply(V.DST6, V.MAC_B, router=True)
    assert na.build(V.DST6, V.SRC6) == V.NA


def test_build_dad_solicitation_has_no_option() -> None:
    ns = NeighbourSolicitation.request(V.SRC6)
    assert ns.options == ()
    assert len(ns.build()) == HEADER_LEN


@pytest.mark.parametrize(("vector", "src", "dst", "expected"), MESSAGES)
def test_build(vector: bytes, src: IPv6Address, dst: IPv6Address, expected: Message) -> None:
    assert replace(expected, checksum=None).build(src, dst) == vector
    assert expected.build() == vector


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (NeighbourSolicitation(0, V.DST6, (LinkLayerAddressOption(1, b"\x00" * 5),)), "option"),
        (NeighbourSolicitation(0, V.DST6, (RawNdOption(1, b""),)), "option"),
        (NeighbourSolicitation(0, V.DST6, (RawNdOption(256, bytes(6)),)), "option type"),
        (NeighbourSolicitation(0, V.DST6, (RawNdOption(14, bytes(2046)),)), "option"),
        (NeighbourSolicitation(256, V.DST6), "code"),
        (NeighbourSolicitation(0, V.DST6, reserved=1 << 32), "reserved"),
        (NeighbourAdvertisement(0, V.DST6, False, False, False, reserved=1 << 29), "reserved"),
        (NeighbourAdvertisement(0, V.DST6, False, False, False, checksum=-1), "checksum"),
    ],
)
def test_build_rejects(message: Message, field: str) -> None:
    with pytest.raises(Malformed) as info:
        message.build()
    assert info.value.field == field


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize(("vector", "src", "dst", "expected"), MESSAGES)
def test_round_trip(vector: bytes, src: IPv6Address, dst: IPv6Address, expected: Message) -> None:
    cls = type(expected)
    assert cls.parse(vector).build() == vector
    assert cls.parse(expected.build(), src, dst, True) == expected


@pytest.mark.parametrize(("vector", "src", "dst", "expected"), MESSAGES)
def test_wrong_checksum_round_trips_and_is_detected(
    vector: bytes, src: IPv6Address, dst: IPv6Address, expected: Message
) -> None:
    bad = bytearray(vector)
    bad[2:4] = b"\x12\x34"
    message = type(expected).parse(bad, src, dst)
    assert message.checksum == 0x1234
    assert message.build(src, dst) == bytes(bad)
    with pytest.raises(ChecksumError) as info:
        type(expected).parse(bad, src, dst, verify=True)
    assert (info.value.actual, info.value.expected) == (0x1234, expected.checksum)
    assert expected_icmpv6_checksum(bad, src, dst) == expected.checksum
    assert info.value.layer == "ndisc"


def test_reserved_bits_round_trip() -> None:
    odd = bytearray(V.NA)
    odd[4:8] = bytes.fromhex("a0000005")
    na = NeighbourAdvertisement.parse(odd)
    assert (na.router, na.solicited, na.override, na.reserved) == (True, False, True, 5)
    assert na.build() == bytes(odd)
    odd_ns = V.NS[:4] + b"\x01\x02\x03\x04" + V.NS[8:]
    assert NeighbourSolicitation.parse(odd_ns).reserved == 0x01020304
    assert NeighbourSolicitation.parse(odd_ns).build() == odd_ns


# --- truncation and malformed input -----------------------------------------------------------


@pytest.mark.parametrize(("vector", "src", "dst", "expected"), MESSAGES)
def test_truncated_at_every_length(
    vector: bytes, src: IPv6Address, dst: IPv6Address, expected: Message
) -> None:
    cls = type(expected)
    for n in range(len(vector)):
        if n == HEADER_LEN:
            assert cls.parse(vector[:n]).options == ()
            continue
        with pytest.raises(Truncated):
            cls.parse(vector[:n])


def test_option_of_length_zero_is_malformed() -> None:
    with pytest.raises(Malformed) as info:
        NeighbourSolicitation.parse(V.NS[:HEADER_LEN] + bytes.fromhex("0100 020000000000"))
    assert (info.value.field, info.value.offset) == ("option length", 24)


def test_wrong_type_for_class() -> None:
    with pytest.raises(Malformed):
        NeighbourSolicitation.parse(V.NA)
    with pytest.raises(Malformed):
        NeighbourAdvertisement.parse(V.NS)


# --- multicast addresses -------------------------------------------------------------------------


def test_solicited_node_address() -> None:
    # RFC 4291 §2.7.1: ff02::1:ff00:0/104 plus the low 24 bits.
    assert solicited_node_address(IPv6Address("2001:db8:1::1")) == IPv6Address("ff02::1:ff00:1")
    assert solicited_node_address(IPv6Address("fe80::9830:94ff:fee2:3730")) == IPv6Address(
        "ff02::1:ffe2:3730"
    )
    assert solicited_node_address(IPv6Address("2001:db8::ab:cdef:1234")) == IPv6Address("ff02::1:ffef:1234")


def test_multicast_mac() -> None:
    # RFC 2464 §7: 33:33 then the last four bytes of the group.
    assert multicast_mac(IPv6Address("ff02::1:ffe2:3730")) == bytes.fromhex("3333ffe23730")
    assert multicast_mac(IPv6Address("ff02::16")) == bytes.fromhex("333300000016")
    assert multicast_mac(IPv6Address("ff02::1")) == bytes.fromhex("333300000001")
    with pytest.raises(ValueError, match="not a multicast"):
        multicast_mac(V.SRC6)
