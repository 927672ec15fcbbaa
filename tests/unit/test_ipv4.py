"""IPv4 header and packet: smoltcp's four tests plus the checksum and limit cases."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from layerping._value import replace
from layerping.errors import ChecksumError, Malformed, Truncated
from layerping.wire.ipv4 import (
    FLAG_DF,
    FLAG_MF,
    HEADER_LEN,
    IPPROTO_ICMP,
    Ipv4Header,
    Ipv4Packet,
)
from tests import vectors as V

ECHO_HEADER = Ipv4Header(
    tos=0,
    identification=0,
    flags=0,
    fragment_offset=0,
    ttl=64,
    protocol=IPPROTO_ICMP,
    source=V.SRC,
    destination=V.DST,
)


# --- deconstruct ------------------------------------------------------------------------------


def test_parse_echo_header() -> None:
    header = Ipv4Header.parse(V.IPV4_ECHO)
    assert header == Ipv4Header(
        tos=0,
        identification=0,
        flags=0,
        fragment_offset=0,
        ttl=64,
        protocol=1,
        source=IPv4Address("192.168.50.161"),
        destination=IPv4Address("1.1.1.1"),
        options=b"",
        total_length=32,
        checksum=0x8592,
        ihl=5,
    )
    assert header.header_length == 20 == len(header)
    assert not header.dont_fragment
    assert not header.more_fragments


def test_parse_df_header() -> None:
    header = Ipv4Header.parse(V.IPV4_ECHO_DF)
    assert header.identification == 0xBEEF
    assert header.flags == FLAG_DF
    assert header.dont_fragment
    assert not header.more_fragments
    assert header.checksum == 0x86A2


def test_parse_header_with_options() -> None:
    header = Ipv4Header.parse(V.IPV4_RR, verify=True)
    assert header.ihl == 8
    assert header.header_length == 32
    assert header.options == V.IPV4_RR_OPTIONS
    assert header.total_length == 44
    assert header.checksum == 0x777B


def test_parse_packet_trims_link_padding() -> None:
    packet = Ipv4Packet.parse(V.IPV4_ECHO + bytes(14), verify=True)
    assert packet.header == Ipv4Header.parse(V.IPV4_ECHO)
    assert packet.payload == V.ECHO_REQ
    assert len(packet) == 32


def test_parse_packet_with_options() -> None:
    packet = Ipv4Packet.parse(V.IPV4_RR)
    assert packet.payload == V.ECHO_REQ


def test_fragment_fields() -> None:
    data = bytearray(V.IPV4_ECHO_HDR)
    data[6:8] = (FLAG_MF << 13 | 0x1ABC).to_bytes(2, "big")
    header = Ipv4Header.parse(data)
    assert header.flags == FLAG_MF
    assert header.more_fragments
    assert header.fragment_offset == 0x1ABC
    assert header.build() == bytes(data)


# --- construct --------------------------------------------------------------------------------


def test_build_echo_header() -> None:
    assert ECHO_HEADER.build(len(V.ECHO_REQ)) == V.IPV4_ECHO_HDR
    assert len(ECHO_HEADER) == HEADER_LEN


def test_build_doc_header() -> None:
    header = Ipv4Header(0, 0, 0, 0, 64, IPPROTO_ICMP, IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2"))
    assert header.build(12) == V.IPV4_ECHO_DOC_HDR


def test_build_df_header() -> None:
    header = Ipv4Header(0, 0xBEEF, FLAG_DF, 0, 64, IPPROTO_ICMP, V.SRC, V.DST)
    assert header.build(12) == V.IPV4_ECHO_DF_HDR


def test_build_options_header() -> None:
    header = Ipv4Header(0, 0, 0, 0, 64, IPPROTO_ICMP, V.SRC, V.DST, options=V.IPV4_RR_OPTIONS)
    assert header.build(12) == V.IPV4_RR_HDR + V.IPV4_RR_OPTIONS


def test_build_packet() -> None:
    assert Ipv4Packet(ECHO_HEADER, V.ECHO_REQ).build() == V.IPV4_ECHO


def test_build_into_writes_every_byte() -> None:
    buf = bytearray(b"\xa5" * 40)
    assert Ipv4Packet(ECHO_HEADER, V.ECHO_REQ).build_into(buf, 4) == 32
    assert buf == b"\xa5" * 4 + V.IPV4_ECHO + b"\xa5" * 4


def test_build_into_too_small() -> None:
    with pytest.raises(Truncated):
        Ipv4Packet(ECHO_HEADER, V.ECHO_REQ).build_into(bytearray(31))


def test_received_values_win_over_computed() -> None:
    header = Ipv4Header.parse(V.IPV4_ECHO_HDR)
    # total_length 32 as received, though the payload given now is 0 bytes long
    assert header.build() == V.IPV4_ECHO_HDR
    assert header.build(1000) == V.IPV4_ECHO_HDR


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vector", [V.IPV4_ECHO, V.IPV4_ECHO_DOC, V.IPV4_ECHO_DF, V.IPV4_ECHO_TTL1, V.IPV4_RR, V.IPV4_UNREACH_HOST]
)
def test_round_trip_bytes(vector: bytes) -> None:
    assert Ipv4Packet.parse(vector).build() == vector
    header = Ipv4Header.parse(vector)
    assert header.build() == vector[: header.header_length]


def test_round_trip_value() -> None:
    packet = Ipv4Packet(ECHO_HEADER, V.ECHO_REQ)
    parsed = Ipv4Packet.parse(packet.build())
    assert parsed.header.total_length == 32
    assert parsed.header.checksum == 0x8592
    assert parsed.header.ihl == 5
    # With the derived values filled in, the value round-trips exactly.
    assert parsed == Ipv4Packet(replace(ECHO_HEADER, total_length=32, checksum=0x8592, ihl=5), V.ECHO_REQ)


def test_bad_checksum_round_trips_and_verify_raises() -> None:
    bad = bytearray(V.IPV4_ECHO)
    bad[10:12] = b"\x12\x34"
    header = Ipv4Header.parse(bad)
    assert header.checksum == 0x1234
    assert header.expected_checksum() == 0x8592
    assert header.build() == bytes(bad[:20])
    with pytest.raises(ChecksumError) as info:
        Ipv4Header.parse(bad, verify=True)
    assert (info.value.expected, info.value.actual, info.value.layer) == (0x8592, 0x1234, "ipv4")
    with pytest.raises(ChecksumError):
        Ipv4Packet.parse(bad, verify=True)


def test_expected_checksum_of_unbuilt_header() -> None:
    assert ECHO_HEADER.expected_checksum(12) == 0x8592


# --- truncation and malformed input -----------------------------------------------------------


@pytest.mark.parametrize("vector", [V.IPV4_ECHO, V.IPV4_RR])
def test_header_truncated_at_every_length(vector: bytes) -> None:
    header_length = (vector[0] & 0xF) * 4
    for n in range(header_length):
        with pytest.raises(Truncated):
            Ipv4Header.parse(vector[:n])


@pytest.mark.parametrize("vector", [V.IPV4_ECHO, V.IPV4_RR, V.IPV4_UNREACH_HOST])
def test_packet_truncated_at_every_length(vector: bytes) -> None:
    for n in range(len(vector)):
        with pytest.raises(Truncated) as info:
            Ipv4Packet.parse(vector[:n])
        assert info.value.got == n


def test_truncated_reports_need() -> None:
    with pytest.raises(Truncated) as info:
        Ipv4Header.parse(V.IPV4_RR[:25])
    assert (info.value.need, info.value.got) == (32, 25)


@pytest.mark.parametrize(
    ("first_byte", "field"),
    [(0x65, "version"), (0x05, "version"), (0x44, "ihl"), (0x40, "ihl")],
)
def test_malformed_version_or_ihl(first_byte: int, field: str) -> None:
    data = bytes([first_byte]) + V.IPV4_ECHO[1:]
    with pytest.raises(Malformed) as info:
        Ipv4Header.parse(data)
    assert info.value.field == field


def test_total_length_shorter_than_header() -> None:
    data = bytearray(V.IPV4_ECHO)
    data[2:4] = (19).to_bytes(2, "big")
    assert Ipv4Header.parse(data).total_length == 19  # the header alone is lenient
    with pytest.raises(Malformed) as info:
        Ipv4Packet.parse(data)
    assert info.value.field == "total_length"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ttl": 256}, "ttl"),
        ({"tos": -1}, "tos"),
        ({"identification": 0x10000}, "identification"),
        ({"flags": 8}, "flags"),
        ({"fragment_offset": 0x2000}, "fragment_offset"),
        ({"ihl": 16}, "ihl"),
        ({"options": b"\x01\x01\x01"}, "options"),
        ({"options": b"\x01" * 44}, "options"),
        ({"total_length": 0x10000}, "total_length"),
        ({"checksum": 0x10000}, "checksum"),
    ],
)
def test_build_rejects_values_that_do_not_fit(change: dict[str, object], field: str) -> None:
    with pytest.raises(Malformed) as info:
        replace(ECHO_HEADER, **change).build()
    assert info.value.field == field


def test_build_rejects_payload_too_long() -> None:
    with pytest.raises(Malformed) as info:
        ECHO_HEADER.build(0x10000 - 19)
    assert info.value.field == "total_length"


def test_lying_fields_are_written_as_given() -> None:
    lie = replace(ECHO_HEADER, ihl=15, total_length=7, checksum=0)
    data = lie.build()
    assert data[0] == 0x4F
    assert data[2:4] == b"\x00\x07"
    assert data[10:12] == b"\x00\x00"
