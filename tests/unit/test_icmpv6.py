"""ICMPv6 messages: smoltcp's four tests per message, the pseudo-header checksum, dispatch,
the quoted packet, and the peek helper."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv6Address
from pathlib import Path

import pytest

from layerping._value import replace
from layerping.errors import ChecksumError, Malformed, Truncated
from layerping.wire.checksum import internet_checksum
from layerping.wire.icmpv6 import (
    DestinationUnreachable,
    Echo,
    Icmpv6Message,
    Icmpv6Type,
    PacketTooBig,
    ParameterProblem,
    ParameterProblemCode,
    RawIcmpv6,
    TimeExceeded,
    TimeExceededCode,
    UnreachableCode,
    expected_icmpv6_checksum,
    icmpv6_checksum_ok,
    parse_icmpv6,
    peek_echo,
)
from layerping.wire.ipv6 import Ipv6Header, Ipv6Packet, NextHeader
from layerping.wire.linktype import LINKTYPE_ETHERNET
from layerping.wire.ndisc import NeighbourAdvertisement, NeighbourSolicitation
from layerping.wire.pcap import PcapWriter, read_pcap
from tests import vectors as V

# (vector, its IPv6 source and destination, the value it parses to) for every message kind.
Case = tuple[bytes, IPv6Address, IPv6Address, Icmpv6Message]
MESSAGES: list[Case] = [
    (V.ECHO6_VEC, V.VEC6_SRC, V.VEC6_DST, Echo(128, 0, 0x1234, 1, V.ECHO6_VEC_PAYLOAD, 0xBF19)),
    (V.ECHO6_REQ, V.SRC6, V.DST6, Echo(128, 0, V.ECHO6_ID, 1, V.ECHO6_PAYLOAD, 0x3BB1)),
    (V.ECHO6_REPLY, V.DST6, V.SRC6, Echo(129, 0, V.ECHO6_ID, 1, V.ECHO6_PAYLOAD, 0x3AB1)),
    (V.UNREACH6_NO_ROUTE, V.DST6, V.SRC6, DestinationUnreachable(0, V.PROBE_NO_ROUTE, 0, 0x17AE)),
    (V.UNREACH6_ADDRESS, V.DST6, V.SRC6, DestinationUnreachable(3, V.PROBE_SILENT_HOST, 0, 0xBA84)),
    (V.TIME_EXCEEDED6, V.DST6, V.SRC6, TimeExceeded(0, V.PROBE_HOP_LIMIT_1, 0, 0x3AC5)),
    (V.PACKET_TOO_BIG, V.DST6, V.SRC6, PacketTooBig(0, 1280, V.PROBE_1400[:1232], 0x0B63)),
    (V.PARAM_PROBLEM6, V.DST6, V.SRC6, ParameterProblem(1, 6, V.PARAM_PROBLEM6_QUOTE, 0xD738)),
]
IDS = ["echo-vec", "echo", "reply", "no-route", "address", "hop-limit", "too-big", "param"]


def _unbuilt(message: Icmpv6Message) -> Icmpv6Message:
    return replace(message, checksum=None)


# --- deconstruct ------------------------------------------------------------------------------


@pytest.mark.parametrize(("vector", "src", "dst", "expected"), MESSAGES, ids=IDS)
def test_parse(vector: bytes, src: IPv6Address, dst: IPv6Address, expected: Icmpv6Message) -> None:
    parsed = parse_icmpv6(vector, src, dst, verify=True)
    assert type(parsed) is type(expected)
    assert parsed == expected
    assert parsed.type == vector[0]
    assert len(parsed) == len(vector)
    assert type(expected).parse(vector, src, dst, True) == expected


def test_echo_fields() -> None:
    echo = Echo.parse(V.ECHO6_VEC)
    assert (echo.type, echo.code, echo.identifier, echo.sequence) == (Icmpv6Type.ECHO_REQUEST, 0, 0x1234, 1)
    assert echo.payload == b"layerping-v6-vec!"
    assert echo.is_request and not echo.is_reply
    assert Echo.parse(V.ECHO6_REPLY).is_reply


@pytest.mark.parametrize(("vector", "src", "dst", "expected"), MESSAGES[3:7], ids=IDS[3:7])
def test_errors_expose_the_quoted_echo(
    vector: bytes, src: IPv6Address, dst: IPv6Address, expected: Icmpv6Message
) -> None:
    message = parse_icmpv6(vector, src, dst)
    assert isinstance(message, DestinationUnreachable | TimeExceeded | PacketTooBig)
    assert message.quoted_echo is not None
    assert message.quoted_echo[0] == Icmpv6Type.ECHO_REQUEST
    assert message.quoted_echo[2] == 1
    quoted = message.quoted_packet()
    assert quoted.header.source == V.SRC6
    assert quoted.upper_layer().protocol == NextHeader.ICMPV6


def test_quoted_packet_fields() -> None:
    message = parse_icmpv6(V.TIME_EXCEEDED6, V.DST6, V.SRC6)
    assert isinstance(message, TimeExceeded)
    assert message.code == TimeExceededCode.HOP_LIMIT
    quoted = message.quoted_packet()
    assert quoted.header.hop_limit == 1
    assert quoted.header.destination == V.FAR6
    assert message.quoted_echo == (128, 0x3254, 1)
    too_big = parse_icmpv6(V.PACKET_TOO_BIG, V.DST6, V.SRC6)
    assert isinstance(too_big, PacketTooBig)
    assert too_big.mtu == V.PACKET_TOO_BIG_MTU
    assert too_big.quoted_packet().header.payload_length == 1408  # more than was quoted
    assert too_big.quoted_echo == (128, 0x325D, 1)


def test_quoted_echo_none_for_other_packets() -> None:
    assert ParameterProblem(1, 6, V.PARAM_PROBLEM6_QUOTE).quoted_echo is None  # next header 253
    assert DestinationUnreachable(0, b"").quoted_echo is None  # nothing quoted
    assert DestinationUnreachable(0, V.IPV4_ECHO).quoted_echo is None  # not IPv6
    assert DestinationUnreachable(0, V.IPV6_FRAG_SECOND).quoted_echo is None  # non-first fragment
    first = DestinationUnreachable(0, V.IPV6_FRAG_FIRST[:100])
    assert first.quoted_echo == (128, 0x327C, 1)  # through the Fragment header
    assert DestinationUnreachable(0, V.IPV6_HBH_MLD).quoted_echo is None  # ICMPv6, not an echo
    with pytest.raises(Malformed):
        DestinationUnreachable(0, V.IPV4_ECHO + bytes(8)).quoted_packet()
    with pytest.raises(Truncated):
        DestinationUnreachable(0, V.IPV6_ECHO_VEC[:39]).quoted_packet()


def test_error_code_constants() -> None:
    codes = [value for name, value in vars(UnreachableCode).items() if name.isupper()]
    assert codes == list(range(8))  # RFC 4443 §3.1 codes 0-6 and RFC 6554's 7, in order
    assert UnreachableCode.ADDRESS == 3 and UnreachableCode.PORT == 4
    assert ParameterProblemCode.UNRECOGNIZED_NEXT_HEADER == 1
    assert ParameterProblemCode.INCOMPLETE_CHAIN == 3
    assert (DestinationUnreachable.type, PacketTooBig.type, TimeExceeded.type, ParameterProblem.type) == (
        1,
        2,
        3,
        4,
    )


def test_dispatch_neighbour_discovery() -> None:
    assert isinstance(parse_icmpv6(V.NS, V.SRC6, V.SOLICITED_NODE6, verify=True), NeighbourSolicitation)
    assert isinstance(parse_icmpv6(V.NA, V.DST6, V.SRC6, verify=True), NeighbourAdvertisement)


def test_unknown_type_is_raw() -> None:
    mld = V.IPV6_HBH_MLD[48:]
    message = parse_icmpv6(mld, V.MLD_SRC, V.MLD_DST, verify=True)
    assert message == RawIcmpv6(Icmpv6Type.MLD2_REPORT, 0, mld[4:], 0x6FD9)
    assert message.build() == mld
    assert replace(message, checksum=None).build(V.MLD_SRC, V.MLD_DST) == mld
    assert parse_icmpv6(b"\x64\x07\xab\xcd\x00\x00\x00\x00", None, None) == RawIcmpv6(
        100, 7, bytes(4), 0xABCD
    )


# --- construct --------------------------------------------------------------------------------


def test_build_echo_request() -> None:
    echo = Echo.request(0x1234, 1, b"layerping-v6-vec!")
    assert echo.build(V.VEC6_SRC, V.VEC6_DST) == V.ECHO6_VEC
    assert Echo.reply(V.ECHO6_ID, 1, V.ECHO6_PAYLOAD).build(V.DST6, V.SRC6) == V.ECHO6_REPLY


def test_build_without_addresses_leaves_the_checksum_to_the_kernel() -> None:
    # An ICMPv6 socket always computes the checksum (RFC 3542 §3.1); the field goes out 0.
    data = Echo.request(0x1234, 1, b"layerping-v6-vec!").build()
    assert data == V.ECHO6_VEC[:2] + b"\0\0" + V.ECHO6_VEC[4:]
    assert expected_icmpv6_checksum(data, V.VEC6_SRC, V.VEC6_DST) == 0xBF19


@pytest.mark.parametrize(("vector", "src", "dst", "expected"), MESSAGES, ids=IDS)
def test_build(vector: bytes, src: IPv6Address, dst: IPv6Address, expected: Icmpv6Message) -> None:
    assert _unbuilt(expected).build(src, dst) == vector
    assert expected.build() == vector
    assert len(_unbuilt(expected)) == len(vector)


def test_build_into_writes_every_byte() -> None:
    buf = bytearray(b"\xa5" * (len(V.ECHO6_VEC) + 8))
    echo = Echo.request(0x1234, 1, b"layerping-v6-vec!")
    assert echo.build_into(buf, 4, V.VEC6_SRC, V.VEC6_DST) == len(V.ECHO6_VEC)
    assert buf == b"\xa5" * 4 + V.ECHO6_VEC + b"\xa5" * 4


def test_build_into_keeps_given_checksum() -> None:
    buf = bytearray(b"\xa5" * len(V.ECHO6_VEC))
    Echo(128, 0, 0x1234, 1, b"layerping-v6-vec!", 0x1AE7).build_into(buf, 0, V.VEC6_SRC, V.VEC6_DST)
    assert buf == V.ECHO6_VEC_BAD_CSUM


def test_build_into_without_addresses_zeroes_the_field() -> None:
    buf = bytearray(b"\xa5" * len(V.ECHO6_VEC))
    Echo.request(0x1234, 1, b"layerping-v6-vec!").build_into(buf)
    assert buf[2:4] == b"\0\0"


def test_build_into_too_small() -> None:
    with pytest.raises(Truncated):
        Echo.request(1, 2, b"abcd").build_into(bytearray(11))


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (Echo(128, 0, 0x10000, 0, b""), "identifier"),
        (Echo(128, 0, 0, -1, b""), "sequence"),
        (Echo(256, 0, 0, 0, b""), "type"),
        (Echo(128, 0, 0, 0, b"", 0x10000), "checksum"),
        (PacketTooBig(0, 1 << 32, b""), "mtu"),
        (TimeExceeded(300, b""), "code"),
        (DestinationUnreachable(0, b"", unused=-1), "unused"),
        (ParameterProblem(0, 1 << 32, b""), "pointer"),
        (RawIcmpv6(100, 0, b"\x00"), "rest"),
        (RawIcmpv6(100, 256, b"\x00" * 4), "code"),
    ],
)
def test_build_rejects_values_that_do_not_fit(message: Icmpv6Message, field: str) -> None:
    with pytest.raises(Malformed) as info:
        message.build()
    assert info.value.field == field


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize(("vector", "src", "dst", "expected"), MESSAGES, ids=IDS)
def test_round_trip(vector: bytes, src: IPv6Address, dst: IPv6Address, expected: Icmpv6Message) -> None:
    assert parse_icmpv6(vector, src, dst).build() == vector
    assert parse_icmpv6(expected.build(), src, dst) == expected
    assert parse_icmpv6(_unbuilt(expected).build(src, dst), src, dst, verify=True) == expected


def test_round_trip_with_wrong_checksum() -> None:
    echo = parse_icmpv6(V.ECHO6_VEC_BAD_CSUM, V.VEC6_SRC, V.VEC6_DST)
    assert isinstance(echo, Echo)
    assert echo.checksum == V.ECHO6_VEC_CSUM_WITHOUT_PSEUDO_HEADER
    assert echo.build() == V.ECHO6_VEC_BAD_CSUM
    assert echo.build(V.VEC6_SRC, V.VEC6_DST) == V.ECHO6_VEC_BAD_CSUM  # a given checksum is kept
    assert Echo.parse(echo.build()) == echo


# --- checksums --------------------------------------------------------------------------------


def test_checksum_without_pseudo_header_is_detected() -> None:
    # The IPv6 form of the classic mistake: summing the message alone.
    zeroed = V.ECHO6_VEC[:2] + b"\0\0" + V.ECHO6_VEC[4:]
    assert internet_checksum(zeroed) == V.ECHO6_VEC_CSUM_WITHOUT_PSEUDO_HEADER == 0x1AE7
    assert not icmpv6_checksum_ok(V.ECHO6_VEC_BAD_CSUM, V.VEC6_SRC, V.VEC6_DST)
    assert icmpv6_checksum_ok(V.ECHO6_VEC, V.VEC6_SRC, V.VEC6_DST)
    assert expected_icmpv6_checksum(V.ECHO6_VEC_BAD_CSUM, V.VEC6_SRC, V.VEC6_DST) == V.ECHO6_VEC_CSUM
    with pytest.raises(ChecksumError) as info:
        parse_icmpv6(V.ECHO6_VEC_BAD_CSUM, V.VEC6_SRC, V.VEC6_DST, verify=True)
    assert (info.value.expected, info.value.actual, info.value.layer) == (0xBF19, 0x1AE7, "icmpv6")
    note = f"[bad icmp6 cksum 0x{info.value.actual:04x} -> 0x{info.value.expected:04x}!]"
    assert note == "[bad icmp6 cksum 0x1ae7 -> 0xbf19!]"  # tcpdump 4.99.3's words, see tcpdump test


def test_checksum_covers_the_addresses() -> None:
    assert icmpv6_checksum_ok(V.ECHO6_VEC, V.VEC6_DST, V.VEC6_SRC)  # swapped: a sum does not see order
    other = IPv6Address("2001:db8:3::3")
    assert not icmpv6_checksum_ok(V.ECHO6_VEC, V.VEC6_SRC, other)


@pytest.mark.parametrize(("vector", "src", "dst", "expected"), MESSAGES, ids=IDS)
def test_verify_catches_a_flipped_bit(
    vector: bytes, src: IPv6Address, dst: IPv6Address, expected: Icmpv6Message
) -> None:
    flipped = bytearray(vector)
    flipped[-1] ^= 0x01
    with pytest.raises(ChecksumError) as info:
        parse_icmpv6(flipped, src, dst, verify=True)
    assert info.value.actual == expected.checksum
    assert info.value.expected == expected_icmpv6_checksum(flipped, src, dst)


def test_verify_needs_the_addresses() -> None:
    with pytest.raises(ValueError, match="source and destination"):
        parse_icmpv6(V.ECHO6_VEC, None, None, verify=True)


def test_negative_zero_checksum_passes_verify() -> None:
    src = dst = IPv6Address("::")
    # Pseudo-header sum: length 8 + next header 58 = 0x42. Echo words 8000 + 0000 ... choose the
    # identifier so the whole sum is 0xffff: 0x8000 + 0x42 + id = 0xffff.
    body = bytes.fromhex("8000 0000") + (0xFFFF - 0x8000 - 0x42).to_bytes(2, "big") + b"\0\0"
    assert expected_icmpv6_checksum(body, src, dst) == 0x0000
    other_zero = body[:2] + b"\xff\xff" + body[4:]
    assert icmpv6_checksum_ok(other_zero, src, dst)
    assert Echo.parse(other_zero, src, dst, verify=True).checksum == 0xFFFF


def test_expected_checksum_needs_the_field() -> None:
    with pytest.raises(Truncated):
        expected_icmpv6_checksum(b"\x80\x00\xbf", V.VEC6_SRC, V.VEC6_DST)


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed")
def test_tcpdump_words_for_the_bad_checksum(tmp_path: Path) -> None:
    """tcpdump -v prints what expected_icmpv6_checksum gives, in the words the decoder copies."""
    path = tmp_path / "bad.pcap"
    header = Ipv6Header.parse(V.IPV6_VEC_HDR)
    with path.open("wb") as stream, PcapWriter(stream, 101) as writer:
        writer.write(0, V.IPV6_ECHO_VEC)
        writer.write(1, header.build() + V.ECHO6_VEC_BAD_CSUM)
    out = subprocess.run(
        ["tcpdump", "-n", "-v", "-r", str(path)], capture_output=True, text=True, timeout=30, check=True
    ).stdout.splitlines()
    assert "[icmp6 sum ok] ICMP6, echo request, id 4660, seq 1" in out[0]
    assert "[bad icmp6 cksum 0x1ae7 -> 0xbf19!] ICMP6, echo request, id 4660, seq 1" in out[1]


# --- the captures the vectors come from ---------------------------------------------------------

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ipv6"


def _frames(name: str) -> list[bytes]:
    with (FIXTURES / name).open("rb") as stream:
        capture = read_pcap(stream)
    assert capture.linktype == LINKTYPE_ETHERNET
    assert len(capture.records) <= 10
    return [record.data for record in capture.records]


def test_vectors_are_the_captured_frames() -> None:
    assert _frames("icmpv6_ndisc_echo.pcap") == [
        V.ETH_NS,
        V.ETH_NA,
        V.ETH_ECHO6_REQ,
        V.MAC_A + V.MAC_B + b"\x86\xdd" + V.IPV6_ECHO_REPLY,
    ]
    errors = _frames("icmpv6_errors.pcap")
    assert errors[0][14:] == V.IPV6_UNREACH6_NO_ROUTE
    assert [frame[54:] for frame in errors[1:]] == [V.TIME_EXCEEDED6, V.UNREACH6_ADDRESS, V.PACKET_TOO_BIG]
    assert [frame[14:] for frame in _frames("ipv6_extensions.pcap")] == [
        V.IPV6_HBH_MLD,
        V.IPV6_FRAG_FIRST,
        V.IPV6_FRAG_SECOND,
    ]


@pytest.mark.parametrize("name", ["icmpv6_ndisc_echo.pcap", "icmpv6_errors.pcap", "ipv6_extensions.pcap"])
def test_every_captured_frame_parses_verifies_and_round_trips(name: str) -> None:
    for frame in _frames(name):
        packet = Ipv6Packet.parse(frame[14:])
        assert packet.build() == frame[14:]
        upper = packet.upper_layer()
        if upper.is_non_first_fragment:
            continue
        body = packet.upper_layer_bytes(upper)
        if upper.is_fragment:  # the first fragment holds only the start of the message
            assert peek_echo(body) == (128, 0x327C, 1)
            continue
        message = parse_icmpv6(body, packet.header.source, packet.header.destination, verify=True)
        assert message.build() == body


# --- peek ---------------------------------------------------------------------------------------


def test_peek_echo() -> None:
    assert peek_echo(V.ECHO6_VEC) == (128, 0x1234, 1)
    assert peek_echo(memoryview(V.ECHO6_REPLY)) == (129, V.ECHO6_ID, 1)
    assert peek_echo(V.ECHO6_VEC[:8]) == (128, 0x1234, 1)
    assert peek_echo(V.ECHO6_VEC[:7]) is None
    assert peek_echo(b"") is None
    assert peek_echo(V.UNREACH6_NO_ROUTE) is None
    assert peek_echo(V.ECHO_REQ) is None  # an ICMPv4 echo request (type 8)
    assert peek_echo(V.NS) is None


# --- truncation and malformed input -----------------------------------------------------------


@pytest.mark.parametrize(("vector", "src", "dst", "expected"), MESSAGES, ids=IDS)
def test_truncated_at_every_length(
    vector: bytes, src: IPv6Address, dst: IPv6Address, expected: Icmpv6Message
) -> None:
    parse = type(expected).parse
    for n in range(8):
        with pytest.raises(Truncated):
            parse(vector[:n])
        with pytest.raises(Truncated):
            parse_icmpv6(vector[:n], src, dst)
    # The quote is bytes, parsed on demand: any cut from 8 bytes on parses and round-trips.
    for n in range(8, min(len(vector), 200) + 1):
        assert parse_icmpv6(vector[:n], src, dst).build() == vector[:n]


def test_wrong_type_for_class() -> None:
    with pytest.raises(Malformed):
        Echo.parse(V.UNREACH6_NO_ROUTE)
    with pytest.raises(Malformed):
        TimeExceeded.parse(V.UNREACH6_NO_ROUTE)
    with pytest.raises(Malformed):
        PacketTooBig.parse(V.ECHO6_VEC)
    with pytest.raises(Malformed):
        ParameterProblem.parse(V.ECHO6_VEC)
