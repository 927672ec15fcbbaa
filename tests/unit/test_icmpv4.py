"""ICMPv4 messages: smoltcp's four tests per message, dispatch, and the peek helpers."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address

import pytest

from layerping._value import replace
from layerping.errors import ChecksumError, Malformed, Truncated, WireError
from layerping.wire.icmpv4 import (
    DestinationUnreachable,
    Echo,
    IcmpMessage,
    IcmpType,
    ParameterProblem,
    RawIcmp,
    Redirect,
    RedirectCode,
    SourceQuench,
    TimeExceeded,
    TimeExceededCode,
    UnreachableCode,
    expected_icmp_checksum,
    icmp_checksum_ok,
    parse_icmpv4,
    peek_echo,
)
from layerping.wire.ipv4 import Ipv4Header
from tests import vectors as V

QUOTED = Ipv4Header.parse(V.IPV4_ECHO)
QUOTED_DF = Ipv4Header.parse(V.IPV4_ECHO_DF)
QUOTED_TTL1 = Ipv4Header.parse(V.IPV4_ECHO_TTL1)
FIRST_8 = V.ECHO_REQ[:8]

# (vector, the value it parses to) for every message kind.
MESSAGES: list[tuple[bytes, IcmpMessage]] = [
    (V.ECHO_REQ, Echo(8, 0, V.ECHO_ID, V.ECHO_SEQ, V.ECHO_PAYLOAD, 0xF210)),
    (V.ECHO_REPLY, Echo(0, 0, V.ECHO_ID, V.ECHO_SEQ, V.ECHO_PAYLOAD, 0xFA10)),
    (V.UNREACH_NET, DestinationUnreachable(UnreachableCode.NET, QUOTED, FIRST_8, 0, 0, 0x0106)),
    (V.UNREACH_HOST, DestinationUnreachable(UnreachableCode.HOST, QUOTED, FIRST_8, 0, 0, 0x0105)),
    (
        V.UNREACH_FRAG,
        DestinationUnreachable(UnreachableCode.FRAG_NEEDED, QUOTED_DF, FIRST_8, 1400, 0, 0xFB89),
    ),
    (V.SOURCE_QUENCH, SourceQuench(0, QUOTED, FIRST_8, 0, 0x0006)),
    (V.TIME_EXCEEDED, TimeExceeded(TimeExceededCode.TTL_EXCEEDED, QUOTED_TTL1, V.ECHO_REQ, 0, 0xF4FF)),
    (V.REDIRECT, Redirect(RedirectCode.HOST, V.REDIRECT_GATEWAY, QUOTED, FIRST_8, 0x0B5E)),
    (V.PARAM_PROBLEM, ParameterProblem(0, 1, QUOTED, FIRST_8, 0, 0xF705)),
]
IDS = [
    "echo", "reply", "unreach-net", "unreach-host", "frag-needed", "quench", "time-exceeded", "redirect",
    "param",
]  # fmt: skip


def _unbuilt(message: IcmpMessage) -> IcmpMessage:
    """The same message with its checksum left for build to compute."""
    return replace(message, checksum=None)


# --- deconstruct ------------------------------------------------------------------------------


@pytest.mark.parametrize(("vector", "expected"), MESSAGES, ids=IDS)
def test_parse(vector: bytes, expected: IcmpMessage) -> None:
    parsed = parse_icmpv4(vector, verify=True)
    assert type(parsed) is type(expected)
    assert parsed == expected
    assert parsed.type == vector[0]
    assert len(parsed) == len(vector)


def test_echo_fields() -> None:
    echo = Echo.parse(V.ECHO_REQ)
    assert (echo.type, echo.code, echo.identifier, echo.sequence) == (IcmpType.ECHO_REQUEST, 0, 69, 420)
    assert echo.payload == b"\x01\x02\x03\x04"
    assert echo.checksum == 0xF210
    assert echo.is_request and not echo.is_reply
    assert Echo.parse(V.ECHO_REPLY).is_reply


def test_frag_needed_fields() -> None:
    message = parse_icmpv4(V.UNREACH_FRAG)
    assert isinstance(message, DestinationUnreachable)
    assert message.type == IcmpType.DEST_UNREACHABLE == 3
    assert message.code == UnreachableCode.FRAG_NEEDED == 4
    assert message.next_hop_mtu == 1400
    assert message.quoted.dont_fragment
    assert message.quoted.identification == 0xBEEF
    assert message.quoted_echo == (8, 69, 420)


def test_errors_expose_the_quoted_echo() -> None:
    for vector, _ in MESSAGES[2:]:
        message = parse_icmpv4(vector)
        assert isinstance(
            message, DestinationUnreachable | SourceQuench | TimeExceeded | Redirect | ParameterProblem
        )
        assert message.quoted_echo == (8, 69, 420)
        assert message.quoted.destination == V.DST


def test_quoted_echo_none_for_other_protocols() -> None:
    message = DestinationUnreachable(3, replace(QUOTED, protocol=17), FIRST_8)
    assert message.quoted_echo is None


def test_error_accepts_longer_quote() -> None:
    message = parse_icmpv4(V.TIME_EXCEEDED)
    assert isinstance(message, TimeExceeded)
    assert message.quoted_payload == V.ECHO_REQ  # 12 bytes, more than RFC 792's 8


def test_unused_bytes_round_trip() -> None:
    # RFC 4884 senders put a length in byte 5; odd senders put anything in the unused bytes.
    for vector, start, end in (
        (V.UNREACH_HOST, 4, 6),
        (V.SOURCE_QUENCH, 4, 8),
        (V.TIME_EXCEEDED, 4, 8),
        (V.PARAM_PROBLEM, 5, 8),
    ):
        weird = bytearray(vector)
        weird[start:end] = b"\x5a" * (end - start)
        message = parse_icmpv4(weird)
        assert isinstance(message, DestinationUnreachable | SourceQuench | TimeExceeded | ParameterProblem)
        assert message.unused != 0
        assert message.build() == bytes(weird)


def test_unknown_type_is_raw() -> None:
    data = bytes.fromhex("0d00 0000 1234 0001") + bytes(12)  # a timestamp request
    message = parse_icmpv4(data)
    assert message == RawIcmp(IcmpType.TIMESTAMP, 0, data[4:], 0)
    assert message.build() == data
    assert parse_icmpv4(b"\xc8\x07\xab\xcd\x00\x00\x00\x00") == RawIcmp(200, 7, bytes(4), 0xABCD)


# --- construct --------------------------------------------------------------------------------


def test_build_echo_request() -> None:
    assert Echo.request(69, 420, b"\x01\x02\x03\x04").build() == V.ECHO_REQ


def test_build_echo_reply() -> None:
    assert Echo.reply(69, 420, b"\x01\x02\x03\x04").build() == V.ECHO_REPLY


@pytest.mark.parametrize(("vector", "expected"), MESSAGES, ids=IDS)
def test_build(vector: bytes, expected: IcmpMessage) -> None:
    assert _unbuilt(expected).build() == vector
    assert len(_unbuilt(expected)) == len(vector)


def test_build_unreachable_from_scratch() -> None:
    quoted = Ipv4Header(0, 0xBEEF, 0x2, 0, 64, 1, V.SRC, V.DST)  # total_length/checksum/ihl computed
    data = DestinationUnreachable(UnreachableCode.FRAG_NEEDED, quoted, FIRST_8, next_hop_mtu=1400).build()
    # The quoted Total Length is computed over what is quoted (28), not the original 32.
    assert data[8:28] == bytes.fromhex("45 00 001c beef 4000 40 01 86a6 c0a832a1 01010101")
    assert data[28:] == FIRST_8
    assert data[:8] == bytes.fromhex("03 04 fb89 0000 0578")  # scapy 2.8.0 agrees
    assert icmp_checksum_ok(data)
    assert Ipv4Header.parse(data[8:], verify=True).total_length == 28


def test_build_into_writes_every_byte() -> None:
    buf = bytearray(b"\xa5" * 20)
    assert Echo.request(69, 420, b"\x01\x02\x03\x04").build_into(buf, 4) == 12
    assert buf == b"\xa5" * 4 + V.ECHO_REQ + b"\xa5" * 4


def test_build_into_keeps_given_checksum() -> None:
    buf = bytearray(b"\xa5" * 12)
    Echo(8, 0, 69, 420, b"\x01\x02\x03\x04", 0xF616).build_into(buf)
    assert buf == V.ECHO_REQ_BAD_CSUM


def test_build_into_too_small() -> None:
    with pytest.raises(Truncated):
        Echo.request(1, 2, b"abcd").build_into(bytearray(11))


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (Echo(8, 0, 0x10000, 0, b""), "identifier"),
        (Echo(8, 0, 0, -1, b""), "sequence"),
        (Echo(256, 0, 0, 0, b""), "type"),
        (Echo(8, 0, 0, 0, b"", 0x10000), "checksum"),
        (DestinationUnreachable(4, QUOTED, FIRST_8, next_hop_mtu=70000), "next_hop_mtu"),
        (TimeExceeded(300, QUOTED, FIRST_8), "code"),
        (ParameterProblem(0, 256, QUOTED, FIRST_8), "pointer"),
        (ParameterProblem(0, 1, QUOTED, FIRST_8, unused=1 << 24), "unused"),
        (RawIcmp(13, 0, b"\x00"), "rest"),
    ],
)
def test_build_rejects_values_that_do_not_fit(message: IcmpMessage, field: str) -> None:
    with pytest.raises(Malformed) as info:
        message.build()
    assert info.value.field == field


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize(("vector", "expected"), MESSAGES, ids=IDS)
def test_round_trip(vector: bytes, expected: IcmpMessage) -> None:
    assert parse_icmpv4(vector).build() == vector
    assert parse_icmpv4(expected.build()) == expected
    assert parse_icmpv4(_unbuilt(expected).build()) == expected


# --- checksums --------------------------------------------------------------------------------


def test_bad_checksum_is_kept_without_verify() -> None:
    echo = Echo.parse(V.ECHO_REQ_BAD_CSUM)
    assert echo.checksum == V.ECHO_REQ_CSUM_OVER_HEADER_ONLY
    assert echo.build() == V.ECHO_REQ_BAD_CSUM
    assert expected_icmp_checksum(V.ECHO_REQ_BAD_CSUM) == V.ECHO_REQ_CSUM
    assert not icmp_checksum_ok(V.ECHO_REQ_BAD_CSUM)
    assert icmp_checksum_ok(V.ECHO_REQ)


@pytest.mark.parametrize("parse", [parse_icmpv4, Echo.parse])
def test_verify_raises_checksum_error(parse: Callable[[bytes, bool], object]) -> None:
    with pytest.raises(ChecksumError) as info:
        parse(V.ECHO_REQ_BAD_CSUM, True)
    assert (info.value.expected, info.value.actual) == (0xF210, 0xF616)
    assert info.value.layer == "icmpv4"


@pytest.mark.parametrize(("vector", "expected"), MESSAGES, ids=IDS)
def test_verify_catches_a_flipped_bit(vector: bytes, expected: IcmpMessage) -> None:
    flipped = bytearray(vector)
    flipped[-1] ^= 0x01
    with pytest.raises(ChecksumError) as info:
        parse_icmpv4(flipped, verify=True)
    assert info.value.actual == expected.checksum
    assert info.value.expected == expected_icmp_checksum(flipped)


def test_negative_zero_checksum_passes_verify() -> None:
    # A sum of 0xffff wants checksum 0x0000; 0xffff is the other zero and receivers accept it.
    body = b"\x08\x00\x00\x00\xf7\xff\x00\x00"  # words 0800 + f7ff = ffff
    assert expected_icmp_checksum(body) == 0x0000
    other_zero = body[:2] + b"\xff\xff" + body[4:]
    assert icmp_checksum_ok(other_zero)
    assert Echo.parse(other_zero, verify=True).checksum == 0xFFFF


def test_all_zero_echo_reply_checksum() -> None:
    assert Echo.reply(0, 0).build() == b"\x00\x00\xff\xff\x00\x00\x00\x00"


# --- peek helpers -----------------------------------------------------------------------------


def test_peek_echo() -> None:
    assert peek_echo(V.ECHO_REQ) == (8, 69, 420)
    assert peek_echo(memoryview(V.ECHO_REPLY)) == (0, 69, 420)
    assert peek_echo(V.ECHO_REQ[:8]) == (8, 69, 420)
    assert peek_echo(V.ECHO_REQ[:7]) is None
    assert peek_echo(b"") is None
    assert peek_echo(V.UNREACH_HOST) is None
    assert peek_echo(V.TIME_EXCEEDED) is None


def test_expected_checksum_needs_the_field() -> None:
    with pytest.raises(Truncated):
        expected_icmp_checksum(b"\x08\x00\xf2")


# --- truncation and malformed input -----------------------------------------------------------


@pytest.mark.parametrize(("vector", "expected"), MESSAGES, ids=IDS)
def test_truncated_at_every_length(vector: bytes, expected: IcmpMessage) -> None:
    parse = type(expected).parse
    minimum = len(vector) if not isinstance(expected, Echo) else 8
    if isinstance(expected, TimeExceeded):
        minimum = 8 + 20 + 8  # a longer quote may be cut back to RFC 792's 8 bytes
    for n in range(minimum):
        with pytest.raises(Truncated):
            parse(vector[:n])
        with pytest.raises(Truncated):
            parse_icmpv4(vector[:n])
    for n in range(minimum, len(vector) + 1):
        assert parse_icmpv4(vector[:n]).build() == vector[:n]


def test_truncated_quote_reports_whole_need() -> None:
    with pytest.raises(Truncated) as info:
        parse_icmpv4(V.UNREACH_HOST[:35])
    assert (info.value.layer, info.value.need, info.value.got) == ("icmpv4", 36, 35)


def test_truncated_quote_with_options() -> None:
    quote = V.IPV4_RR[:40]  # 32-byte header + 8
    message = DestinationUnreachable(1, Ipv4Header.parse(quote), quote[32:])
    data = message.build()
    assert parse_icmpv4(data).build() == data
    for n in range(len(data)):
        with pytest.raises(Truncated):
            parse_icmpv4(data[:n])
    with pytest.raises(Truncated) as info:
        parse_icmpv4(data[:30])
    assert info.value.need == 8 + 32 + 8


def test_quoted_header_must_be_ipv4() -> None:
    data = bytearray(V.UNREACH_HOST)
    data[8] = 0x65
    with pytest.raises(Malformed) as info:
        parse_icmpv4(data)
    assert info.value.field == "quoted version"
    assert info.value.offset == 8
    assert isinstance(info.value, WireError)


def test_wrong_type_for_class() -> None:
    with pytest.raises(Malformed):
        Echo.parse(V.UNREACH_HOST)
    with pytest.raises(Malformed):
        TimeExceeded.parse(V.ECHO_REQ + bytes(28))
    with pytest.raises(Malformed):
        Redirect.parse(V.UNREACH_HOST)
    with pytest.raises(Malformed):
        SourceQuench.parse(V.TIME_EXCEEDED)


def test_type_and_code_constants() -> None:
    codes = [value for name, value in vars(UnreachableCode).items() if name.isupper()]
    assert codes == list(range(16))  # every code RFC 792, 1122 and 1812 define, in order
    assert UnreachableCode.ADMIN_PROHIBITED == 13
    assert UnreachableCode.PRECEDENCE_CUTOFF == 15
    assert IcmpType.INFO_REPLY == 16
    assert SourceQuench.type == 4 and Redirect.type == 5
    assert TimeExceeded.type == 11 and ParameterProblem.type == 12
    assert IPv4Address(V.REDIRECT[4:8]) == V.REDIRECT_GATEWAY
