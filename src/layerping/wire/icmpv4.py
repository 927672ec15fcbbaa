"""ICMPv4 messages (RFC 792), as frozen values, plus the receive-path peek helpers.

Every message starts with Type, Code and Checksum, then four type-specific bytes (the
"rest of header"), so no ICMP message is shorter than ``HEADER_LEN`` = 8 bytes. The
checksum covers the whole message. Error messages quote the offending datagram's IPv4
header and at least its first 8 payload bytes (RFC 792); more is accepted, as Linux quotes
up to 576 bytes in all (RFC 1812 §4.3.2.3).

Each message has ``parse(data, verify=False)``, ``build()`` and ``__len__``, and a received
``checksum`` that is ``None`` to compute on build, so ``build(parse(b)) == b`` also holds
for a wrong checksum. :func:`parse_icmpv4` dispatches on Type through a table; unknown
types become :class:`RawIcmp`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import ClassVar, Final, Self

from layerping._value import Value
from layerping.errors import ChecksumError, Malformed, Truncated
from layerping.wire import ipv4
from layerping.wire._fields import range_error
from layerping.wire.checksum import internet_checksum, ones_complement_sum
from layerping.wire.ipv4 import Ipv4Header

LAYER = "icmpv4"

Buffer = bytes | bytearray | memoryview


class IcmpType:
    """ICMPv4 Type values (RFC 792, RFC 950, RFC 1256), as plain ``int`` constants: the fields
    stay ``int`` (the set is open). Not ``IntEnum``s, here and for the codes below: nothing needs
    member names, and defining the five enums cost 0.9 ms of every start."""

    ECHO_REPLY: Final = 0
    DEST_UNREACHABLE: Final = 3
    SOURCE_QUENCH: Final = 4
    REDIRECT: Final = 5
    ECHO_REQUEST: Final = 8
    ROUTER_ADVERT: Final = 9
    ROUTER_SOLICIT: Final = 10
    TIME_EXCEEDED: Final = 11
    PARAMETER_PROBLEM: Final = 12
    TIMESTAMP: Final = 13
    TIMESTAMP_REPLY: Final = 14
    INFO_REQUEST: Final = 15
    INFO_REPLY: Final = 16


class UnreachableCode:
    """Destination Unreachable codes: 0-5 RFC 792, 6-12 RFC 1122 §3.2.2.1, 13-15 RFC 1812 §5.2.7.1."""

    NET: Final = 0
    HOST: Final = 1
    PROTOCOL: Final = 2
    PORT: Final = 3
    FRAG_NEEDED: Final = 4  # and DF set; bytes 6-7 carry the next-hop MTU (RFC 1191 §4)
    SOURCE_ROUTE_FAILED: Final = 5
    NET_UNKNOWN: Final = 6
    HOST_UNKNOWN: Final = 7
    HOST_ISOLATED: Final = 8
    NET_PROHIBITED: Final = 9
    HOST_PROHIBITED: Final = 10
    NET_TOS: Final = 11
    HOST_TOS: Final = 12
    ADMIN_PROHIBITED: Final = 13
    HOST_PRECEDENCE_VIOLATION: Final = 14
    PRECEDENCE_CUTOFF: Final = 15


class TimeExceededCode:
    """Time Exceeded codes (RFC 792)."""

    TTL_EXCEEDED: Final = 0  # time to live exceeded in transit
    FRAGMENT_REASSEMBLY: Final = 1  # fragment reassembly time exceeded


class RedirectCode:
    """Redirect codes (RFC 792)."""

    NET: Final = 0
    HOST: Final = 1
    TOS_NET: Final = 2
    TOS_HOST: Final = 3


class ParameterProblemCode:
    """Parameter Problem codes (RFC 792, RFC 1108, RFC 1812 §5.2.7.3)."""

    POINTER: Final = 0  # the pointer indicates the error
    MISSING_OPTION: Final = 1
    BAD_LENGTH: Final = 2


# --- layouts (RFC 792): type, code, checksum, then the four "rest of header" bytes --------------

_COMMON = struct.Struct("!BBH")
HEADER_LEN = 8
CHECKSUM_OFFSET = 2
_CHECKSUM = struct.Struct("!H")
#: Echo: identifier, sequence number.
_ECHO = struct.Struct("!BBHHH")
#: Destination Unreachable: unused (RFC 4884 puts a length in its low byte), next-hop MTU.
_UNREACH = struct.Struct("!BBHHH")
#: Time Exceeded and Source Quench: 32 unused bits.
_TIME_EXCEEDED = struct.Struct("!BBHI")
#: Redirect: gateway internet address.
_REDIRECT = struct.Struct("!BBH4s")
#: Parameter Problem: pointer (top byte of the word), 24 unused bits.
_PARAM_PROBLEM = struct.Struct("!BBHI")
_POINTER_SHIFT = 24
_UNUSED24_MASK = 0xFFFFFF
#: The receive-path peek: type, then identifier and sequence at bytes 4-7.
_PEEK = struct.Struct("!BxxxHH")
#: RFC 792: an error quotes the internet header plus the first 64 bits of the datagram.
QUOTED_PAYLOAD_MIN = 8
QUOTE_OFFSET = HEADER_LEN


def _range_error(fields: tuple[tuple[str, int | None, int], ...]) -> Malformed:
    return range_error(LAYER, "message", fields)


def _check_length(data: Buffer, need: int) -> None:
    if len(data) < need:
        raise Truncated(LAYER, need, len(data))


def _verify(data: Buffer) -> None:
    """Raise ChecksumError unless the ones'-complement sum over ``data`` is 0xffff."""
    if ones_complement_sum(data) != 0xFFFF:
        (actual,) = _CHECKSUM.unpack_from(data, CHECKSUM_OFFSET)
        raise ChecksumError(LAYER, expected_icmp_checksum(data), actual, CHECKSUM_OFFSET)


def _finish(buf: bytearray, checksum: int | None) -> bytes:
    """Fill in the checksum (when None) of a message built with a zero checksum field."""
    if checksum is None:
        _CHECKSUM.pack_into(buf, CHECKSUM_OFFSET, internet_checksum(buf))
    return bytes(buf)


def _parse_quoted(data: Buffer) -> tuple[Ipv4Header, bytes]:
    """Parse the quoted IPv4 header and the payload bytes after it (RFC 792 errors)."""
    got = len(data)
    minimum = QUOTE_OFFSET + ipv4.HEADER_LEN + QUOTED_PAYLOAD_MIN
    if got < QUOTE_OFFSET + ipv4.HEADER_LEN:
        raise Truncated(LAYER, minimum, got)
    try:
        quoted = Ipv4Header.parse(memoryview(data)[QUOTE_OFFSET:])
    except Truncated as e:  # options cut short: report the whole message's need
        raise Truncated(LAYER, QUOTE_OFFSET + e.need + QUOTED_PAYLOAD_MIN, got) from None
    except Malformed as e:
        raise Malformed(LAYER, f"quoted {e.field}", e.value, e.reason, QUOTE_OFFSET + e.offset) from None
    payload_offset = QUOTE_OFFSET + quoted.header_length
    if got < payload_offset + QUOTED_PAYLOAD_MIN:
        raise Truncated(LAYER, payload_offset + QUOTED_PAYLOAD_MIN, got)
    return quoted, bytes(data[payload_offset:])


class Echo(Value):
    """Echo or Echo Reply (RFC 792): what ping sends and gets back."""

    type: int
    """``IcmpType.ECHO_REQUEST`` (8) or ``IcmpType.ECHO_REPLY`` (0)."""
    code: int
    identifier: int
    """Identifier (RFC 792, Echo). Linux ICMP datagram sockets overwrite it."""
    sequence: int
    payload: bytes
    checksum: int | None = None

    @classmethod
    def request(cls, identifier: int, sequence: int, payload: bytes = b"") -> Self:
        return cls(IcmpType.ECHO_REQUEST, 0, identifier, sequence, payload)

    @classmethod
    def reply(cls, identifier: int, sequence: int, payload: bytes = b"") -> Self:
        return cls(IcmpType.ECHO_REPLY, 0, identifier, sequence, payload)

    @property
    def is_request(self) -> bool:
        return self.type == IcmpType.ECHO_REQUEST

    @property
    def is_reply(self) -> bool:
        return self.type == IcmpType.ECHO_REPLY

    def __len__(self) -> int:
        return HEADER_LEN + len(self.payload)

    @classmethod
    def parse(cls, data: Buffer, verify: bool = False) -> Self:
        _check_length(data, HEADER_LEN)
        if verify:
            _verify(data)
        icmp_type, code, checksum, identifier, sequence = _ECHO.unpack_from(data)
        if icmp_type != IcmpType.ECHO_REQUEST and icmp_type != IcmpType.ECHO_REPLY:
            raise Malformed(LAYER, "type", icmp_type, "not an echo request or reply")
        return cls(icmp_type, code, identifier, sequence, bytes(data[HEADER_LEN:]), checksum)

    def build_into(self, buf: bytearray | memoryview, offset: int = 0) -> int:
        """Write the message into ``buf`` at ``offset``; return the number of bytes written."""
        end = offset + HEADER_LEN + len(self.payload)
        if len(buf) < end:
            raise Truncated(LAYER, end, len(buf), offset)
        try:
            _ECHO.pack_into(buf, offset, self.type, self.code, 0, self.identifier, self.sequence)
        except struct.error:
            raise _range_error(
                (
                    ("type", self.type, 8),
                    ("code", self.code, 8),
                    ("identifier", self.identifier, 16),
                    ("sequence", self.sequence, 16),
                )
            ) from None
        buf[offset + HEADER_LEN : end] = self.payload
        checksum = self.checksum
        if checksum is None:
            checksum = internet_checksum(memoryview(buf)[offset:end])
        try:
            _CHECKSUM.pack_into(buf, offset + CHECKSUM_OFFSET, checksum)
        except struct.error:
            raise _range_error((("checksum", checksum, 16),)) from None
        return end - offset

    def build(self) -> bytes:
        buf = bytearray(HEADER_LEN + len(self.payload))
        self.build_into(buf)
        return bytes(buf)


class _QuotingError:
    """Shared behaviour of the error messages, which quote the datagram that caused them."""

    __slots__ = ()
    quoted: Ipv4Header
    quoted_payload: bytes

    @property
    def quoted_echo(self) -> tuple[int, int, int] | None:
        """(type, identifier, sequence) of a quoted ICMP echo, else None: how errors are matched."""
        if self.quoted.protocol != ipv4.IPPROTO_ICMP or self.quoted.fragment_offset:
            return None
        return peek_echo(self.quoted_payload)

    def _quote(self) -> bytes:
        return self.quoted.build(len(self.quoted_payload)) + self.quoted_payload


class DestinationUnreachable(_QuotingError, Value):
    """Destination Unreachable (RFC 792, type 3)."""

    type: ClassVar[int] = IcmpType.DEST_UNREACHABLE
    code: int
    """An :class:`UnreachableCode`."""
    quoted: Ipv4Header
    quoted_payload: bytes
    next_hop_mtu: int = 0
    """Bytes 6-7: the next-hop MTU for code 4 (RFC 1191 §4); unused (kept as received) otherwise."""
    unused: int = 0
    """Bytes 4-5, unused (RFC 792); RFC 4884 puts the quoted length in 32-bit words in byte 5."""
    checksum: int | None = None

    def __len__(self) -> int:
        return HEADER_LEN + len(self.quoted) + len(self.quoted_payload)

    @classmethod
    def parse(cls, data: Buffer, verify: bool = False) -> Self:
        _check_length(data, HEADER_LEN)
        if verify:
            _verify(data)
        icmp_type, code, checksum, unused, mtu = _UNREACH.unpack_from(data)
        if icmp_type != cls.type:
            raise Malformed(LAYER, "type", icmp_type, "not destination unreachable")
        quoted, quoted_payload = _parse_quoted(data)
        return cls(code, quoted, quoted_payload, mtu, unused, checksum)

    def build(self) -> bytes:
        quote = self._quote()
        buf = bytearray(HEADER_LEN + len(quote))
        try:
            _UNREACH.pack_into(
                buf, 0, self.type, self.code, self.checksum or 0, self.unused, self.next_hop_mtu
            )
        except struct.error:
            raise _range_error(
                (
                    ("code", self.code, 8),
                    ("checksum", self.checksum, 16),
                    ("unused", self.unused, 16),
                    ("next_hop_mtu", self.next_hop_mtu, 16),
                )
            ) from None
        buf[HEADER_LEN:] = quote
        return _finish(buf, self.checksum)


class TimeExceeded(_QuotingError, Value):
    """Time Exceeded (RFC 792, type 11): what traceroute listens for."""

    type: ClassVar[int] = IcmpType.TIME_EXCEEDED
    code: int
    """A :class:`TimeExceededCode`."""
    quoted: Ipv4Header
    quoted_payload: bytes
    unused: int = 0
    """Bytes 4-7, unused (RFC 792); RFC 4884 puts the quoted length in byte 5."""
    checksum: int | None = None

    def __len__(self) -> int:
        return HEADER_LEN + len(self.quoted) + len(self.quoted_payload)

    @classmethod
    def parse(cls, data: Buffer, verify: bool = False) -> Self:
        _check_length(data, HEADER_LEN)
        if verify:
            _verify(data)
        icmp_type, code, checksum, unused = _TIME_EXCEEDED.unpack_from(data)
        if icmp_type != cls.type:
            raise Malformed(LAYER, "type", icmp_type, "not time exceeded")
        quoted, quoted_payload = _parse_quoted(data)
        return cls(code, quoted, quoted_payload, unused, checksum)

    def build(self) -> bytes:
        quote = self._quote()
        buf = bytearray(HEADER_LEN + len(quote))
        try:
            _TIME_EXCEEDED.pack_into(buf, 0, self.type, self.code, self.checksum or 0, self.unused)
        except struct.error:
            raise _range_error(
                (("code", self.code, 8), ("checksum", self.checksum, 16), ("unused", self.unused, 32))
            ) from None
        buf[HEADER_LEN:] = quote
        return _finish(buf, self.checksum)


class SourceQuench(_QuotingError, Value):
    """Source Quench (RFC 792, type 4): a router asked us to slow down.

    Deprecated by RFC 6633 (hosts ignore it; Linux sends none), but still quoted datagram and
    all: iputils reports it (``From x icmp_seq=N Source Quench``) without counting an error.
    Its layout is Time Exceeded's: 32 unused bits, then the quote.
    """

    type: ClassVar[int] = IcmpType.SOURCE_QUENCH
    code: int
    quoted: Ipv4Header
    quoted_payload: bytes
    unused: int = 0
    """Bytes 4-7, unused (RFC 792)."""
    checksum: int | None = None

    def __len__(self) -> int:
        return HEADER_LEN + len(self.quoted) + len(self.quoted_payload)

    @classmethod
    def parse(cls, data: Buffer, verify: bool = False) -> Self:
        _check_length(data, HEADER_LEN)
        if verify:
            _verify(data)
        icmp_type, code, checksum, unused = _TIME_EXCEEDED.unpack_from(data)
        if icmp_type != cls.type:
            raise Malformed(LAYER, "type", icmp_type, "not source quench")
        quoted, quoted_payload = _parse_quoted(data)
        return cls(code, quoted, quoted_payload, unused, checksum)

    def build(self) -> bytes:
        quote = self._quote()
        buf = bytearray(HEADER_LEN + len(quote))
        try:
            _TIME_EXCEEDED.pack_into(buf, 0, self.type, self.code, self.checksum or 0, self.unused)
        except struct.error:
            raise _range_error(
                (("code", self.code, 8), ("checksum", self.checksum, 16), ("unused", self.unused, 32))
            ) from None
        buf[HEADER_LEN:] = quote
        return _finish(buf, self.checksum)


class Redirect(_QuotingError, Value):
    """Redirect (RFC 792, type 5): use ``gateway`` for the quoted datagram's destination."""

    type: ClassVar[int] = IcmpType.REDIRECT
    code: int
    """A :class:`RedirectCode`."""
    gateway: IPv4Address
    quoted: Ipv4Header
    quoted_payload: bytes
    checksum: int | None = None

    def __len__(self) -> int:
        return HEADER_LEN + len(self.quoted) + len(self.quoted_payload)

    @classmethod
    def parse(cls, data: Buffer, verify: bool = False) -> Self:
        _check_length(data, HEADER_LEN)
        if verify:
            _verify(data)
        icmp_type, code, checksum, gateway = _REDIRECT.unpack_from(data)
        if icmp_type != cls.type:
            raise Malformed(LAYER, "type", icmp_type, "not a redirect")
        quoted, quoted_payload = _parse_quoted(data)
        return cls(code, IPv4Address(gateway), quoted, quoted_payload, checksum)

    def build(self) -> bytes:
        quote = self._quote()
        buf = bytearray(HEADER_LEN + len(quote))
        try:
            _REDIRECT.pack_into(buf, 0, self.type, self.code, self.checksum or 0, self.gateway.packed)
        except struct.error:
            raise _range_error((("code", self.code, 8), ("checksum", self.checksum, 16))) from None
        buf[HEADER_LEN:] = quote
        return _finish(buf, self.checksum)


class ParameterProblem(_QuotingError, Value):
    """Parameter Problem (RFC 792, type 12)."""

    type: ClassVar[int] = IcmpType.PARAMETER_PROBLEM
    code: int
    pointer: int
    """Octet of the quoted datagram where the problem was found (code 0)."""
    quoted: Ipv4Header
    quoted_payload: bytes
    unused: int = 0
    """Bytes 5-7, unused (RFC 792); RFC 4884 puts the quoted length in byte 5."""
    checksum: int | None = None

    def __len__(self) -> int:
        return HEADER_LEN + len(self.quoted) + len(self.quoted_payload)

    @classmethod
    def parse(cls, data: Buffer, verify: bool = False) -> Self:
        _check_length(data, HEADER_LEN)
        if verify:
            _verify(data)
        icmp_type, code, checksum, word = _PARAM_PROBLEM.unpack_from(data)
        if icmp_type != cls.type:
            raise Malformed(LAYER, "type", icmp_type, "not a parameter problem")
        quoted, quoted_payload = _parse_quoted(data)
        return cls(code, word >> _POINTER_SHIFT, quoted, quoted_payload, word & _UNUSED24_MASK, checksum)

    def build(self) -> bytes:
        if not 0 <= self.pointer <= 0xFF:
            raise Malformed(LAYER, "pointer", self.pointer, "does not fit in 8 bits")
        if not 0 <= self.unused <= _UNUSED24_MASK:
            raise Malformed(LAYER, "unused", self.unused, "does not fit in 24 bits")
        quote = self._quote()
        buf = bytearray(HEADER_LEN + len(quote))
        word = self.pointer << _POINTER_SHIFT | self.unused
        try:
            _PARAM_PROBLEM.pack_into(buf, 0, self.type, self.code, self.checksum or 0, word)
        except struct.error:
            raise _range_error((("code", self.code, 8), ("checksum", self.checksum, 16))) from None
        buf[HEADER_LEN:] = quote
        return _finish(buf, self.checksum)


class RawIcmp(Value):
    """Any other ICMP message, kept as bytes after the checksum (Go ``RawBody``)."""

    type: int
    code: int
    rest: bytes
    """Everything after the checksum: the 4 rest-of-header bytes and the body."""
    checksum: int | None = None

    def __len__(self) -> int:
        return _COMMON.size + len(self.rest)

    @classmethod
    def parse(cls, data: Buffer, verify: bool = False) -> Self:
        _check_length(data, HEADER_LEN)
        if verify:
            _verify(data)
        icmp_type, code, checksum = _COMMON.unpack_from(data)
        return cls(icmp_type, code, bytes(data[_COMMON.size :]), checksum)

    def build(self) -> bytes:
        if len(self.rest) < HEADER_LEN - _COMMON.size:
            raise Malformed(LAYER, "rest", self.rest, "shorter than the 4 rest-of-header bytes")
        buf = bytearray(_COMMON.size + len(self.rest))
        try:
            _COMMON.pack_into(buf, 0, self.type, self.code, self.checksum or 0)
        except struct.error:
            raise _range_error(
                (("type", self.type, 8), ("code", self.code, 8), ("checksum", self.checksum, 16))
            ) from None
        buf[_COMMON.size :] = self.rest
        return _finish(buf, self.checksum)


IcmpMessage = (
    Echo | DestinationUnreachable | SourceQuench | TimeExceeded | Redirect | ParameterProblem | RawIcmp
)

_PARSERS: dict[int, Callable[[Buffer, bool], IcmpMessage]] = {
    IcmpType.ECHO_REPLY: Echo.parse,
    IcmpType.ECHO_REQUEST: Echo.parse,
    IcmpType.DEST_UNREACHABLE: DestinationUnreachable.parse,
    IcmpType.SOURCE_QUENCH: SourceQuench.parse,
    IcmpType.TIME_EXCEEDED: TimeExceeded.parse,
    IcmpType.REDIRECT: Redirect.parse,
    IcmpType.PARAMETER_PROBLEM: ParameterProblem.parse,
}


def parse_icmpv4(data: Buffer, verify: bool = False) -> IcmpMessage:
    """Parse one ICMPv4 message (no IP header), choosing the class by Type.

    Known error types whose quoted datagram does not parse raise a ``WireError``;
    unknown types become :class:`RawIcmp`.
    """
    _check_length(data, HEADER_LEN)
    return _PARSERS.get(data[0], RawIcmp.parse)(data, verify)


# --- receive hot path ---------------------------------------------------------------------------


def peek_echo(data: Buffer) -> tuple[int, int, int] | None:
    """(type, identifier, sequence) if ``data`` is an echo request or reply, else None.

    Costs one length check and one ``unpack_from``: the receive path peeks at every
    packet and fully parses only its own.
    """
    if len(data) < HEADER_LEN:
        return None
    icmp_type, identifier, sequence = _PEEK.unpack_from(data)
    if icmp_type != IcmpType.ECHO_REPLY and icmp_type != IcmpType.ECHO_REQUEST:
        return None
    return icmp_type, identifier, sequence


def icmp_checksum_ok(data: Buffer) -> bool:
    """True when the message's checksum is right (its ones'-complement sum is 0xffff).

    This is the receiver's test (RFC 1071 §1), so a field of 0xffff where 0x0000 was
    expected passes too: both are zero in ones'-complement arithmetic.
    """
    return ones_complement_sum(data) == 0xFFFF


def expected_icmp_checksum(data: Buffer) -> int:
    """The value the checksum field should hold: computed with the field zeroed."""
    if len(data) < CHECKSUM_OFFSET + _CHECKSUM.size:
        raise Truncated(LAYER, CHECKSUM_OFFSET + _CHECKSUM.size, len(data))
    buf = bytearray(data)
    _CHECKSUM.pack_into(buf, CHECKSUM_OFFSET, 0)
    return internet_checksum(buf)
