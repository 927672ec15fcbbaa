"""IPv6 header, packet and extension-header walk: smoltcp's four tests plus fragments."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from layerping._value import replace
from layerping.errors import Malformed, Truncated
from layerping.wire.ipv6 import (
    HEADER_LEN,
    Fragment,
    Ipv6Header,
    Ipv6Packet,
    NextHeader,
    UpperLayer,
    walk_extension_headers,
)
from tests import vectors as V

ECHO_REQ_HEADER = Ipv6Header(0, 0x2D8C6, NextHeader.ICMPV6, 64, V.SRC6, V.DST6, 25)
VEC_HEADER = Ipv6Header(0, 0, NextHeader.ICMPV6, 64, V.VEC6_SRC, V.VEC6_DST, 25)
HEADERS = [
    (V.IPV6_ECHO_REQ_HDR, ECHO_REQ_HEADER),
    (V.IPV6_VEC_HDR, VEC_HEADER),
    (V.IPV6_NS_HDR, Ipv6Header(0, 0, 58, 255, V.SRC6, V.SOLICITED_NODE6, 32)),
    (V.IPV6_HBH_MLD[:40], Ipv6Header(0, 0, NextHeader.HOP_BY_HOP, 1, V.MLD_SRC, V.MLD_DST, 56)),
    (
        V.IPV6_FRAG_HDR,
        Ipv6Header(0, 0xFCC42, NextHeader.FRAGMENT, 64, V.SRC6, IPv6Address("2001:db8:2::2"), 1240),
    ),
]
PACKETS = [V.IPV6_ECHO_REQ, V.IPV6_ECHO_REPLY, V.IPV6_ECHO_VEC, V.IPV6_UNREACH6_NO_ROUTE, V.IPV6_HBH_MLD]
PACKETS += [V.IPV6_FRAG_FIRST, V.IPV6_FRAG_SECOND]


# --- deconstruct ------------------------------------------------------------------------------


@pytest.mark.parametrize(("vector", "expected"), HEADERS)
def test_parse_header(vector: bytes, expected: Ipv6Header) -> None:
    header = Ipv6Header.parse(vector)
    assert header == expected
    assert len(header) == HEADER_LEN == 40


def test_header_fields() -> None:
    header = Ipv6Header.parse(V.IPV6_ECHO_REPLY)
    assert header.traffic_class == 0
    assert header.flow_label == 0xFF0B5  # the kernel's autoflowlabel
    assert (header.next_header, header.hop_limit, header.payload_length) == (58, 64, 25)
    assert (header.source, header.destination) == (V.DST6, V.SRC6)


def test_traffic_class_and_flow_label_share_a_word() -> None:
    header = Ipv6Header(0xB8, 0xABCDE, 58, 64, V.SRC6, V.DST6)  # DSCP EF
    data = header.build(8)
    assert data[:4] == bytes.fromhex("6b8abcde")
    assert Ipv6Header.parse(data) == replace(header, payload_length=8)


def test_parse_packet_trims_link_padding() -> None:
    packet = Ipv6Packet.parse(V.IPV6_ECHO_REQ + bytes(10))
    assert packet.header == ECHO_REQ_HEADER
    assert packet.payload == V.ECHO6_REQ
    assert len(packet) == len(V.IPV6_ECHO_REQ)


def test_upper_layer_without_extensions() -> None:
    packet = Ipv6Packet.parse(V.IPV6_ECHO_REQ)
    upper = packet.upper_layer()
    assert upper == UpperLayer(NextHeader.ICMPV6, 40, (), None)
    assert not upper.is_fragment and not upper.is_non_first_fragment
    assert packet.upper_layer_bytes() == V.ECHO6_REQ


def test_upper_layer_after_hop_by_hop() -> None:
    packet = Ipv6Packet.parse(V.IPV6_HBH_MLD)
    upper = packet.upper_layer()
    assert upper == UpperLayer(NextHeader.ICMPV6, 48, (NextHeader.HOP_BY_HOP,), None)
    assert packet.upper_layer_bytes(upper)[:4] == bytes.fromhex("8f006fd9")  # MLDv2 report


def test_first_fragment() -> None:
    packet = Ipv6Packet.parse(V.IPV6_FRAG_FIRST)
    upper = packet.upper_layer()
    assert upper.protocol == NextHeader.ICMPV6
    assert upper.offset == 48
    assert upper.extensions == (NextHeader.FRAGMENT,)
    assert upper.fragment == Fragment(58, 0, True, V.FRAGMENT_ID)
    assert upper.is_fragment and not upper.is_non_first_fragment
    assert packet.upper_layer_bytes(upper)[:8] == bytes.fromhex("8000fef6327c0001")


def test_non_first_fragment() -> None:
    upper = Ipv6Packet.parse(V.IPV6_FRAG_SECOND).upper_layer()
    assert upper.fragment == Fragment(58, 154, False, V.FRAGMENT_ID)
    assert upper.fragment.byte_offset == 1232  # tshark: offset 154
    assert upper.is_non_first_fragment
    assert (upper.protocol, upper.offset) == (58, 48)


def test_walk_routing_and_destination_options() -> None:
    # Routing header type 0 with segments left 0 (RFC 8200 §4.4: 8-octet units after the first 8),
    # then Destination Options with a PadN of 4 + 8 bytes, then No Next Header.
    routing = bytes.fromhex("3c 02 00 00 00000000") + bytes(16)
    dest_opts = bytes.fromhex("3b 01 01 0a") + bytes(12)
    upper = walk_extension_headers(NextHeader.ROUTING, routing + dest_opts)
    assert upper == UpperLayer(NextHeader.NO_NEXT_HEADER, 40, (43, 60), None)
    assert walk_extension_headers(NextHeader.ROUTING, b"xx" + routing + dest_opts, 2).offset == 42


def test_walk_stops_at_headers_it_does_not_know() -> None:
    assert walk_extension_headers(NextHeader.ESP, b"") == UpperLayer(NextHeader.ESP, 0)
    assert walk_extension_headers(NextHeader.UDP, b"abc", 3) == UpperLayer(17, 3)


@pytest.mark.parametrize("next_header", [0, 43, 60, 44])
def test_walk_truncated_extension(next_header: int) -> None:
    whole = bytes([NextHeader.ICMPV6]) + bytes(7)  # 8 bytes: length 0, or an atomic fragment
    assert walk_extension_headers(next_header, whole).offset == 8
    for n in range(8):
        with pytest.raises(Truncated) as info:
            walk_extension_headers(next_header, whole[:n])
        assert (info.value.need, info.value.got) == (8, n)


@pytest.mark.parametrize("next_header", [0, 43, 60])
def test_walk_extension_longer_than_data(next_header: int) -> None:
    with pytest.raises(Truncated) as info:
        walk_extension_headers(next_header, bytes([58, 1]) + bytes(10))  # says 16 bytes, has 12
    assert (info.value.need, info.value.got) == (16, 12)


# --- construct --------------------------------------------------------------------------------


@pytest.mark.parametrize(("vector", "expected"), HEADERS)
def test_build_header(vector: bytes, expected: Ipv6Header) -> None:
    assert replace(expected, payload_length=None).build(expected.payload_length or 0) == vector
    assert expected.build() == vector


def test_build_packet() -> None:
    packet = Ipv6Packet(replace(ECHO_REQ_HEADER, payload_length=None), V.ECHO6_REQ)
    assert packet.build() == V.IPV6_ECHO_REQ


def test_build_into_writes_every_byte() -> None:
    packet = Ipv6Packet(VEC_HEADER, V.ECHO6_VEC)
    buf = bytearray(b"\xa5" * (len(V.IPV6_ECHO_VEC) + 8))
    assert packet.build_into(buf, 4) == len(V.IPV6_ECHO_VEC)
    assert buf == b"\xa5" * 4 + V.IPV6_ECHO_VEC + b"\xa5" * 4
    with pytest.raises(Truncated):
        packet.build_into(bytearray(len(V.IPV6_ECHO_VEC) - 1))


def test_build_fragment_header() -> None:
    assert Fragment(58, 0, True, V.FRAGMENT_ID).build() == V.FRAGMENT_FIRST
    assert Fragment.parse(V.FRAGMENT_FIRST) == Fragment(58, 0, True, V.FRAGMENT_ID)
    odd = bytes.fromhex("3a 7f 04d6 825df257")  # reserved byte and Res bits set: kept
    assert Fragment.parse(odd) == Fragment(58, 154, False, V.FRAGMENT_ID, 0x7F, 3)
    assert Fragment.parse(odd).build() == odd


@pytest.mark.parametrize(
    ("header", "field"),
    [
        (replace(VEC_HEADER, traffic_class=256), "traffic_class"),
        (replace(VEC_HEADER, flow_label=1 << 20), "flow_label"),
        (replace(VEC_HEADER, flow_label=-1), "flow_label"),
        (replace(VEC_HEADER, payload_length=0x10000), "payload_length"),
        (replace(VEC_HEADER, next_header=256), "next_header"),
        (replace(VEC_HEADER, hop_limit=-1), "hop_limit"),
    ],
)
def test_build_rejects_values_that_do_not_fit(header: Ipv6Header, field: str) -> None:
    with pytest.raises(Malformed) as info:
        header.build()
    assert info.value.field == field


@pytest.mark.parametrize(
    ("fragment", "field"),
    [
        (Fragment(58, 0x2000, False, 1), "fragment offset"),
        (Fragment(58, 0, False, 1, res=4), "fragment res"),
        (Fragment(58, 0, False, 1 << 32), "identification"),
        (Fragment(256, 0, False, 1), "next_header"),
    ],
)
def test_fragment_build_rejects(fragment: Fragment, field: str) -> None:
    with pytest.raises(Malformed) as info:
        fragment.build()
    assert info.value.field == field


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", PACKETS)
def test_round_trip(vector: bytes) -> None:
    packet = Ipv6Packet.parse(vector)
    assert packet.build() == vector
    assert Ipv6Packet.parse(packet.build()) == packet
    unbuilt = Ipv6Packet(replace(packet.header, payload_length=None), packet.payload)
    assert unbuilt.build() == vector


def test_wrong_payload_length_is_kept() -> None:
    data = bytearray(V.IPV6_ECHO_VEC)
    data[4:6] = b"\x00\x10"  # 16, but 25 follow
    packet = Ipv6Packet.parse(data)
    assert packet.header.payload_length == 16
    assert packet.build() == bytes(data[:56])


# --- truncation and malformed input -----------------------------------------------------------


@pytest.mark.parametrize("vector", PACKETS)
def test_truncated_at_every_length(vector: bytes) -> None:
    for n in range(min(len(vector), 300)):
        with pytest.raises(Truncated):
            Ipv6Packet.parse(vector[:n])
        if n < HEADER_LEN:
            with pytest.raises(Truncated):
                Ipv6Header.parse(vector[:n])
            with pytest.raises(Truncated):
                Ipv6Packet.parse(vector[:n], partial=True)
    with pytest.raises(Truncated):
        Ipv6Packet.parse(vector[:-1])


def test_partial_packet_keeps_what_is_quoted() -> None:
    packet = Ipv6Packet.parse(V.PACKET_TOO_BIG[8:], partial=True)
    assert packet.header.payload_length == 1408
    assert len(packet.payload) == 1232 - 40
    assert packet.build() == V.PACKET_TOO_BIG[8:]
    assert packet.upper_layer().protocol == 58


def test_hop_by_hop_cut_short_in_a_quote() -> None:
    packet = Ipv6Packet.parse(V.IPV6_HBH_MLD[:45], partial=True)
    with pytest.raises(Truncated) as info:
        packet.upper_layer()
    assert (info.value.need, info.value.got) == (8, 5)


def test_version_must_be_6() -> None:
    with pytest.raises(Malformed) as info:
        Ipv6Packet.parse(V.IPV4_ECHO + bytes(40))
    assert (info.value.field, info.value.value) == ("version", 4)


def test_next_header_constants() -> None:
    assert (NextHeader.HOP_BY_HOP, NextHeader.ROUTING, NextHeader.FRAGMENT) == (0, 43, 44)
    assert (NextHeader.ICMPV6, NextHeader.NO_NEXT_HEADER, NextHeader.DESTINATION_OPTIONS) == (58, 59, 60)
