"""ICMPv6 messages (RFC 4443), as frozen values, plus the receive-path peek helpers.

Every message starts with Type, Code and Checksum, then four type-specific bytes, so no
ICMPv6 message is shorter than ``HEADER_LEN`` = 8 bytes. Unlike ICMPv4, the checksum also
covers the IPv6 pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1): computing or verifying it
takes the packet's source and destination. A checksum computed over the message alone (the
IPv6 form of the classic mistake) parses, fails :func:`icmpv6_checksum_ok`, and
:func:`expected_icmpv6_checksum` gives the value it should have held.

Each message has ``parse(data, source=None, destination=None, verify=False)``,
``build(source=None, destination=None)`` and ``__len__``. ``checksum`` is ``None`` to
compute on build (when both addresses are given; else the field is left 0 for the kernel,
which fills it in on every ICMPv6 socket) and holds the received value after parse, so
``build(parse(b)) == b`` also holds for a wrong checksum. Error messages keep the quoted
packet as bytes (RFC 4443 §2.4: as much as fits in the minimum MTU) and parse it on demand.
:func:`parse_icmpv6` dispatches on Type through a table, Neighbour Discovery included
(:mod:`layerping.wire.ndisc`); unknown types become :class:`RawIcmpv6`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from ipaddress import IPv6Address
from typing import Any, ClassVar, Final, Self

from layerping._value import Value
from layerping.errors import ChecksumError, Malformed, Truncated, WireError
from layerping.wire import ndisc
from layerping.wire._fields import range_error
from layerping.wire.checksum import (
    expected_upper_layer_checksum,
    internet_checksum,
    pseudo_header_sum,
    upper_layer_checksum_ok,
)
from layerping.wire.ipv6 import Ipv6Packet, NextHeader

LAYER = "icmpv6"
IPPROTO_ICMPV6 = NextHeader.ICMPV6

Buffer = bytes | bytearray | memoryview
Address = IPv6Address | None


class Icmpv6Type:
    """ICMPv6 Type values (RFC 4443 §2.1, RFC 4861 §4, RFC 2710, RFC 3810): plain ``int``
    constants, as in :mod:`~layerping.wire.icmpv4`. Errors are below 128, informational
    messages from 128 on."""

    DEST_UNREACHABLE: Final = 1
    PACKET_TOO_BIG: Final = 2
    TIME_EXCEEDED: Final = 3
    PARAMETER_PROBLEM: Final = 4
    ECHO_REQUEST: Final = 128
    ECHO_REPLY: Final = 129
    MLD_QUERY: Final = 130
    MLD_REPORT: Final = 131
    MLD_DONE: Final = 132
    ROUTER_SOLICIT: Final = 133
    ROUTER_ADVERT: Final = 134
    NEIGHBOUR_SOLICIT: Final = ndisc.NEIGHBOUR_SOLICITATION  # 135
    NEIGHBOUR_ADVERT: Final = ndisc.NEIGHBOUR_ADVERTISEMENT  # 136
    REDIRECT: Final = 137
    MLD2_REPORT: Final = 143


class UnreachableCode:
    """Destination Unreachable codes: 0-6 RFC 4443 §3.1, 7 RFC 6554 §6.2."""

    NO_ROUTE: Final = 0
    ADMIN_PROHIBITED: Final = 1
    BEYOND_SCOPE: Final = 2  # beyond scope of source address
    ADDRESS: Final = 3  # address unreachable (neighbour discovery failed)
    PORT: Final = 4
    SOURCE_POLICY: Final = 5  # source address failed ingress/egress policy
    REJECT_ROUTE: Final = 6  # reject route to destination
    SOURCE_ROUTING_HEADER: Final = 7  # error in Source Routing Header


class TimeExceededCode:
    """Time Exceeded codes (RFC 4443 §3.3)."""

    HOP_LIMIT: Final = 0  # hop limit exceeded in transit
    FRAGMENT_REASSEMBLY: Final = 1  # fragment reassembly time exceeded


class ParameterProblemCode:
    """Parameter Problem codes: 0-2 RFC 4443 §3.4, 3 RFC 7112 §6."""

    ERRONEOUS_HEADER: Final = 0  # erroneous header field encountered
    UNRECOGNIZED_NEXT_HEADER: Final = 1
    UNRECOGNIZED_OPTION: Final = 2
    INCOMPLETE_CHAIN: Final = 3  # IPv6 first fragment has incomplete header chain


# --- layouts (RFC 4443): type, code, checksum, then four type-specific bytes --------------------

_COMMON = struct.Struct("!BBH")
HEADER_LEN = 8
CHECKSUM_OFFSET = 2
_CHECKSUM = struct.Struct("!H")
#: Echo: identifier, sequence number (RFC 4443 §4.1).
_ECHO = struct.Struct("!BBHHH")
#: The errors: one 32-bit word (unused, MTU or pointer), then the quoted packet (§3).
_ERROR = struct.Struct("!BBHI")
#: The receive-path peek: type, then identifier and sequence at bytes 4-7.
_PEEK = struct.Struct("!BxxxHH")
QUOTE_OFFSET = HEADER_LEN
#: RFC 4443 §2.4 (c): an error message holds at most the minimum IPv6 MTU.
MAX_ERROR_LEN = 1280 - 40


def _range_error(fields: tuple[tuple[str, int | None, int], ...]) -> Malformed:
    return range_error(LAYER, "message", fields)


def _check_length(data: Buffer, need: int) -> None:
    if len(data) < need:
        raise Truncated(LAYER, need, len(data))


def _verify(data: Buffer, source: Address, destination: Address) -> None:
    """Raise ChecksumError unless the sum over pseudo-header and ``data`` is 0xffff."""
    if source is None or destination is None:
        raise ValueError("verifying an ICMPv6 checksum needs the packet's source and destination")
    if not upper_layer_checksum_ok(data, source, destination, IPPROTO_ICMPV6):
        (actual,) = _CHECKSUM.unpack_from(data, CHECKSUM_OFFSET)
        raise ChecksumError(
            LAYER, expected_icmpv6_checksum(data, source, destination), actual, CHECKSUM_OFFSET
        )


def _finish(buf: bytearray | memoryview, checksum: int | None, source: Address, destination: Address) -> None:
    """Fill in the checksum (when None and the addresses are known) of a message built with
    a zero checksum field."""
    if checksum is None and source is not None and destination is not None:
        pseudo = pseudo_header_sum(source, destination, len(buf), IPPROTO_ICMPV6)
        _CHECKSUM.pack_into(buf, CHECKSUM_OFFSET, internet_checksum(buf, pseudo))


class Echo(Value):
    """Echo Request or Echo Reply (RFC 4443 §4.1, §4.2)."""

    type: int
    """``Icmpv6Type.ECHO_REQUEST`` (128) or ``Icmpv6Type.ECHO_REPLY`` (129)."""
    code: int
    identifier: int
    """Identifier. Linux ICMPv6 datagram sockets overwrite it with the socket's port."""
    sequence: int
    payload: bytes
    checksum: int | None = None

    @classmethod
    def request(cls, identifier: int, sequence: int, payload: bytes = b"") -> Self:
        return cls(Icmpv6Type.ECHO_REQUEST, 0, identifier, sequence, payload)

    @classmethod
    def reply(cls, identifier: int, sequence: int, payload: bytes = b"") -> Self:
        return cls(Icmpv6Type.ECHO_REPLY, 0, identifier, sequence, payload)

    @property
    def is_request(self) -> bool:
        return self.type == Icmpv6Type.ECHO_REQUEST

    @property
    def is_reply(self) -> bool:
        return self.type == Icmpv6Type.ECHO_REPLY

    def __len__(self) -> int:
        return HEADER_LEN + len(self.payload)

    @classmethod
    def parse(
        cls, data: Buffer, source: Address = None, destination: Address = None, verify: bool = False
    ) -> Self:
        _check_length(data, HEADER_LEN)
        icmp_type, code, checksum, identifier, sequence = _ECHO.unpack_from(data)
        if icmp_type != Icmpv6Type.ECHO_REQUEST and icmp_type != Icmpv6Type.ECHO_REPLY:
            raise Malformed(LAYER, "type", icmp_type, "not an echo request or reply")
        if verify:
            _verify(data, source, destination)
        return cls(icmp_type, code, identifier, sequence, bytes(data[HEADER_LEN:]), checksum)

    def build_into(
        self,
        buf: bytearray | memoryview,
        offset: int = 0,
        source: Address = None,
        destination: Address = None,
    ) -> int:
        """Write the message into ``buf`` at ``offset``; return the number of bytes written.

        A ``checksum`` of None is computed when both addresses are given, else left 0."""
        end = offset + HEADER_LEN + len(self.payload)
        if len(buf) < end:
            raise Truncated(LAYER, end, len(buf), offset)
        checksum = self.checksum
        try:
            _ECHO.pack_into(buf, offset, self.type, self.code, checksum or 0, self.identifier, self.sequence)
        except struct.error:
            raise _range_error(
                (
                    ("type", self.type, 8),
                    ("code", self.code, 8),
                    ("checksum", checksum, 16),
                    ("identifier", self.identifier, 16),
                    ("sequence", self.sequence, 16),
                )
            ) from None
        buf[offset + HEADER_LEN : end] = self.payload
        _finish(memoryview(buf)[offset:end], checksum, source, destination)
        return end - offset

    def build(self, source: Address = None, destination: Address = None) -> bytes:
        buf = bytearray(HEADER_LEN + len(self.payload))
        self.build_into(buf, 0, source, destination)
        return bytes(buf)


class _QuotingError:
    """Shared behaviour of the error messages, which quote the packet that caused them."""

    __slots__ = ()
    type: ClassVar[int]
    word_field: ClassVar[str]
    """The field bytes 4-7 hold: ``unused``, ``mtu`` or ``pointer`` (32 bits each)."""
    code: int
    quote: bytes
    checksum: int | None

    def _word(self) -> int:
        return _check_word(self.word_field, getattr(self, self.word_field))

    @classmethod
    def parse(
        cls, data: Buffer, source: Address = None, destination: Address = None, verify: bool = False
    ) -> Self:
        code, checksum, word, quote = _parse_error(data, cls.type, source, destination, verify)
        fields: dict[str, Any] = {"code": code, cls.word_field: word, "quote": quote, "checksum": checksum}
        return cls(**fields)

    def __len__(self) -> int:
        return HEADER_LEN + len(self.quote)

    def quoted_packet(self) -> Ipv6Packet:
        """The quoted packet: its IPv6 header and the payload bytes quoted (fewer than its
        Payload Length says when the quote was cut). Raises a ``WireError`` when the quote
        does not start with an IPv6 header; walk on with ``upper_layer()``."""
        return Ipv6Packet.parse(self.quote, partial=True)

    @property
    def quoted_echo(self) -> tuple[int, int, int] | None:
        """(type, identifier, sequence) of a quoted ICMPv6 echo, else None: how errors are
        matched to probes. Never raises: a quote that does not parse is simply not ours."""
        try:
            packet = self.quoted_packet()
            upper = packet.upper_layer()
        except WireError:
            return None
        if upper.protocol != IPPROTO_ICMPV6 or upper.is_non_first_fragment:
            return None
        return peek_echo(packet.upper_layer_bytes(upper))

    def build(self, source: Address = None, destination: Address = None) -> bytes:
        """The message bytes; see the module docstring for the checksum."""
        buf = bytearray(HEADER_LEN + len(self.quote))
        try:
            _ERROR.pack_into(buf, 0, self.type, self.code, self.checksum or 0, self._word())
        except struct.error:
            raise _range_error((("code", self.code, 8), ("checksum", self.checksum, 16))) from None
        buf[HEADER_LEN:] = self.quote
        _finish(buf, self.checksum, source, destination)
        return bytes(buf)


def _parse_error(
    data: Buffer, expected_type: int, source: Address, destination: Address, verify: bool
) -> tuple[int, int, int, bytes]:
    """(code, checksum, word, quote) of an error message of ``expected_type``."""
    _check_length(data, HEADER_LEN)
    icmp_type, code, checksum, word = _ERROR.unpack_from(data)
    if icmp_type != expected_type:
        raise Malformed(LAYER, "type", icmp_type, f"not {expected_type}")
    if verify:
        _verify(data, source, destination)
    return code, checksum, word, bytes(data[QUOTE_OFFSET:])


def _check_word(name: str, value: int) -> int:
    if not 0 <= value <= 0xFFFFFFFF:
        raise Malformed(LAYER, name, value, "does not fit in 32 bits")
    return value


class DestinationUnreachable(_QuotingError, Value):
    """Destination Unreachable (RFC 4443 §3.1, type 1)."""

    type: ClassVar[int] = Icmpv6Type.DEST_UNREACHABLE
    word_field: ClassVar[str] = "unused"
    code: int
    """An :class:`UnreachableCode`."""
    quote: bytes
    unused: int = 0
    """Bytes 4-7, unused (RFC 4443); RFC 4884 puts the quoted length in byte 4."""
    checksum: int | None = None


class PacketTooBig(_QuotingError, Value):
    """Packet Too Big (RFC 4443 §3.2, type 2): what path MTU discovery listens for."""

    type: ClassVar[int] = Icmpv6Type.PACKET_TOO_BIG
    word_field: ClassVar[str] = "mtu"
    code: int
    """0 (RFC 4443: set by the sender, ignored by the receiver)."""
    mtu: int
    """The MTU of the next-hop link (32 bits)."""
    quote: bytes
    checksum: int | None = None


class TimeExceeded(_QuotingError, Value):
    """Time Exceeded (RFC 4443 §3.3, type 3): what traceroute listens for."""

    type: ClassVar[int] = Icmpv6Type.TIME_EXCEEDED
    word_field: ClassVar[str] = "unused"
    code: int
    """A :class:`TimeExceededCode`."""
    quote: bytes
    unused: int = 0
    """Bytes 4-7, unused (RFC 4443); RFC 4884 puts the quoted length in byte 4."""
    checksum: int | None = None


class ParameterProblem(_QuotingError, Value):
    """Parameter Problem (RFC 4443 §3.4, type 4)."""

    type: ClassVar[int] = Icmpv6Type.PARAMETER_PROBLEM
    word_field: ClassVar[str] = "pointer"
    code: int
    """A :class:`ParameterProblemCode`."""
    pointer: int
    """Octet offset in the quoted packet where the error was found (32 bits)."""
    quote: bytes
    checksum: int | None = None


class RawIcmpv6(Value):
    """Any other ICMPv6 message, kept as bytes after the checksum (RFC 4443 §2.4 (a), (b):
    unknown errors go to the upper layer, unknown informational messages are dropped)."""

    type: int
    code: int
    rest: bytes
    """Everything after the checksum: the 4 type-specific bytes and the body."""
    checksum: int | None = None

    def __len__(self) -> int:
        return _COMMON.size + len(self.rest)

    @classmethod
    def parse(
        cls, data: Buffer, source: Address = None, destination: Address = None, verify: bool = False
    ) -> Self:
        _check_length(data, HEADER_LEN)
        if verify:
            _verify(data, source, destination)
        icmp_type, code, checksum = _COMMON.unpack_from(data)
        return cls(icmp_type, code, bytes(data[_COMMON.size :]), checksum)

    def build(self, source: Address = None, destination: Address = None) -> bytes:
        if len(self.rest) < HEADER_LEN - _COMMON.size:
            raise Malformed(LAYER, "rest", self.rest, "shorter than the 4 type-specific bytes")
        buf = bytearray(_COMMON.size + len(self.rest))
        try:
            _COMMON.pack_into(buf, 0, self.type, self.code, self.checksum or 0)
        except struct.error:
            raise _range_error(
                (("type", self.type, 8), ("code", self.code, 8), ("checksum", self.checksum, 16))
            ) from None
        buf[_COMMON.size :] = self.rest
        _finish(buf, self.checksum, source, destination)
        return bytes(buf)


Icmpv6Error = DestinationUnreachable | PacketTooBig | TimeExceeded | ParameterProblem
Icmpv6Message = Echo | Icmpv6Error | ndisc.NeighbourSolicitation | ndisc.NeighbourAdvertisement | RawIcmpv6

_PARSERS: dict[int, Callable[[Buffer, Address, Address, bool], Icmpv6Message]] = {
    Icmpv6Type.ECHO_REQUEST: Echo.parse,
    Icmpv6Type.ECHO_REPLY: Echo.parse,
    Icmpv6Type.DEST_UNREACHABLE: DestinationUnreachable.parse,
    Icmpv6Type.PACKET_TOO_BIG: PacketTooBig.parse,
    Icmpv6Type.TIME_EXCEEDED: TimeExceeded.parse,
    Icmpv6Type.PARAMETER_PROBLEM: ParameterProblem.parse,
    Icmpv6Type.NEIGHBOUR_SOLICIT: ndisc.NeighbourSolicitation.parse,
    Icmpv6Type.NEIGHBOUR_ADVERT: ndisc.NeighbourAdvertisement.parse,
}


def parse_icmpv6(data: Buffer, source: Address, destination: Address, verify: bool = False) -> Icmpv6Message:
    """Parse one ICMPv6 message (no IPv6 header), choosing the class by Type.

    ``source`` and ``destination`` are the IPv6 packet's (the final destination with a
    Routing header): ``verify=True`` needs them for the pseudo-header and raises
    :class:`ChecksumError` on a wrong checksum (ValueError when they are None). Unknown
    types become :class:`RawIcmpv6`; a malformed Neighbour Discovery message raises a
    ``WireError`` with layer "ndisc".
    """
    _check_length(data, HEADER_LEN)
    return _PARSERS.get(data[0], RawIcmpv6.parse)(data, source, destination, verify)


# --- receive hot path and checksum helpers --------------------------------------------------------


def peek_echo(data: Buffer) -> tuple[int, int, int] | None:
    """(type, identifier, sequence) if ``data`` is an echo request or reply, else None.

    Costs one length check and one ``unpack_from``, as :func:`layerping.wire.icmpv4.peek_echo`.
    """
    if len(data) < HEADER_LEN:
        return None
    icmp_type, identifier, sequence = _PEEK.unpack_from(data)
    if icmp_type != Icmpv6Type.ECHO_REPLY and icmp_type != Icmpv6Type.ECHO_REQUEST:
        return None
    return icmp_type, identifier, sequence


def icmpv6_checksum_ok(data: Buffer, source: IPv6Address, destination: IPv6Address) -> bool:
    """True when the message's checksum over pseudo-header and message is right.

    The receiver's test (RFC 1071 §1), so 0xffff where 0x0000 was expected passes too."""
    return upper_layer_checksum_ok(data, source, destination, IPPROTO_ICMPV6)


def expected_icmpv6_checksum(data: Buffer, source: IPv6Address, destination: IPv6Address) -> int:
    """The value the checksum field should hold: computed over the pseudo-header and the
    message with the field zeroed. With :func:`icmpv6_checksum_ok` false, this is the
    ``-> 0x....`` of tcpdump's ``[bad icmp6 cksum 0x.... -> 0x....!]``."""
    _check_length(data, CHECKSUM_OFFSET + _CHECKSUM.size)
    return expected_upper_layer_checksum(data, CHECKSUM_OFFSET, source, destination, IPPROTO_ICMPV6)
