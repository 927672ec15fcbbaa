"""IPv6 header and packet (RFC 8200 §3), and the walk over the extension headers (§4).

``Ipv6Header.parse`` reads the 40-byte fixed header alone; ``Ipv6Packet.parse`` also uses
Payload Length to cut the payload out of a link frame (or, with ``partial=True``, takes what
an ICMPv6 error quotes). ``Ipv6Packet.upper_layer()`` walks the extension headers a ping can
meet (Hop-by-Hop Options, Routing, Fragment, Destination Options) to the upper-layer header
and reports a Fragment header. Payload Length is ``None`` to compute on build and holds the
received value after parse, so ``build(parse(b)) == b`` byte for byte.
"""

from __future__ import annotations

import struct
from ipaddress import IPv6Address
from typing import Final, Self

from layerping._value import Value
from layerping.errors import Malformed, Truncated
from layerping.wire._fields import range_error

LAYER = "ipv6"
VERSION = 6


class NextHeader:
    """Next Header values (IANA protocol numbers; RFC 8200 §4): plain ``int`` constants."""

    HOP_BY_HOP: Final = 0  # RFC 8200 §4.3
    TCP: Final = 6
    UDP: Final = 17
    ROUTING: Final = 43  # RFC 8200 §4.4
    FRAGMENT: Final = 44  # RFC 8200 §4.5
    ESP: Final = 50
    AUTH: Final = 51
    ICMPV6: Final = 58
    NO_NEXT_HEADER: Final = 59  # RFC 8200 §4.7
    DESTINATION_OPTIONS: Final = 60  # RFC 8200 §4.6


#: version/traffic class/flow label word, payload length, next header, hop limit, source,
#: destination (RFC 8200 §3).
_HEADER = struct.Struct("!IHBB16s16s")
HEADER_LEN = _HEADER.size  # 40
MAX_PAYLOAD_LEN = 0xFFFF  # without a Jumbo Payload option (RFC 2675)
_VERSION_SHIFT = 28
_TRAFFIC_CLASS_SHIFT = 20
FLOW_LABEL_MASK = 0xFFFFF  # 20 bits

#: The extension headers with the common "next header, length in 8-octet units not counting
#: the first 8" layout (RFC 8200 §4.3, §4.4, §4.6; RFC 6564 §4).
_OPTIONS_LIKE = frozenset((NextHeader.HOP_BY_HOP, NextHeader.ROUTING, NextHeader.DESTINATION_OPTIONS))
_EXTENSION_START = struct.Struct("!BB")

#: Fragment header: next header, reserved, offset (13 bits) / Res (2) / M (1), identification.
_FRAGMENT = struct.Struct("!BBHI")
FRAGMENT_LEN = _FRAGMENT.size  # 8
_FRAGMENT_OFFSET_SHIFT = 3
_FRAGMENT_OFFSET_MAX = 0x1FFF
_FRAGMENT_RES_MASK = 0x6
_FRAGMENT_M = 0x1


def _range_error(fields: tuple[tuple[str, int | None, int], ...]) -> Malformed:
    return range_error(LAYER, "header", fields)


class Ipv6Header(Value):
    """The fixed IPv6 header (RFC 8200 §3); extension headers belong to the payload."""

    traffic_class: int
    """DSCP in the top 6 bits, ECN in the low 2 (RFC 2474, RFC 3168)."""
    flow_label: int
    """20 bits (RFC 6437); 0 when the sender does not label flows."""
    next_header: int
    """The first extension header's or the upper layer's type (:class:`NextHeader`)."""
    hop_limit: int
    source: IPv6Address
    destination: IPv6Address
    payload_length: int | None = None
    """Bytes after this header, extension headers included; None = compute on build."""

    def __len__(self) -> int:
        return HEADER_LEN

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> Self:
        """Parse the fixed header at the start of ``data``; bytes after it are ignored.

        Payload Length is stored, not checked against ``data`` (an ICMPv6 error quotes only
        the start of a packet). There is no header checksum in IPv6.
        """
        got = len(data)
        if got < HEADER_LEN:
            raise Truncated(LAYER, HEADER_LEN, got)
        word, payload_length, next_header, hop_limit, src, dst = _HEADER.unpack_from(data)
        version = word >> _VERSION_SHIFT
        if version != VERSION:
            raise Malformed(LAYER, "version", version, "not 6")
        return cls(
            (word >> _TRAFFIC_CLASS_SHIFT) & 0xFF,
            word & FLOW_LABEL_MASK,
            next_header,
            hop_limit,
            IPv6Address(bytes(src)),
            IPv6Address(bytes(dst)),
            payload_length,
        )

    def build(self, payload_length: int = 0) -> bytes:
        """Return the 40 header bytes; Payload Length defaults to ``payload_length``."""
        length = payload_length if self.payload_length is None else self.payload_length
        # Traffic class and flow label share a word with the version: struct would not notice.
        if not 0 <= self.traffic_class <= 0xFF:
            raise Malformed(LAYER, "traffic_class", self.traffic_class, "does not fit in 8 bits")
        if not 0 <= self.flow_label <= FLOW_LABEL_MASK:
            raise Malformed(LAYER, "flow_label", self.flow_label, "does not fit in 20 bits")
        try:
            return _HEADER.pack(
                VERSION << _VERSION_SHIFT | self.traffic_class << _TRAFFIC_CLASS_SHIFT | self.flow_label,
                length,
                self.next_header,
                self.hop_limit,
                self.source.packed,
                self.destination.packed,
            )
        except struct.error:
            raise _range_error(
                (
                    ("payload_length", length, 16),
                    ("next_header", self.next_header, 8),
                    ("hop_limit", self.hop_limit, 8),
                )
            ) from None


class Fragment(Value):
    """The Fragment header (RFC 8200 §4.5)."""

    next_header: int
    """The type of the header that follows in the reassembled packet (RFC 8200 §4.5)."""
    offset: int
    """Fragment Offset in 8-octet units (13 bits); non-zero for every fragment but the first."""
    more_fragments: bool
    """M flag: more fragments follow."""
    identification: int
    reserved: int = 0
    """The 8-bit Reserved field, kept as received."""
    res: int = 0
    """The 2-bit Res field between the offset and M, kept as received."""

    @property
    def byte_offset(self) -> int:
        return self.offset * 8

    def __len__(self) -> int:
        return FRAGMENT_LEN

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview, offset: int = 0) -> Self:
        """Parse the 8-byte Fragment header at ``offset`` in ``data``."""
        if len(data) < offset + FRAGMENT_LEN:
            raise Truncated(LAYER, offset + FRAGMENT_LEN, len(data), offset)
        next_header, reserved, word, identification = _FRAGMENT.unpack_from(data, offset)
        return cls(
            next_header,
            word >> _FRAGMENT_OFFSET_SHIFT,
            bool(word & _FRAGMENT_M),
            identification,
            reserved,
            (word & _FRAGMENT_RES_MASK) >> 1,
        )

    def build(self) -> bytes:
        if not 0 <= self.offset <= _FRAGMENT_OFFSET_MAX:
            raise Malformed(LAYER, "fragment offset", self.offset, "does not fit in 13 bits")
        if not 0 <= self.res <= 3:
            raise Malformed(LAYER, "fragment res", self.res, "does not fit in 2 bits")
        word = self.offset << _FRAGMENT_OFFSET_SHIFT | self.res << 1 | int(self.more_fragments)
        try:
            return _FRAGMENT.pack(self.next_header, self.reserved, word, self.identification)
        except struct.error:
            raise range_error(
                LAYER,
                "fragment header",
                (
                    ("next_header", self.next_header, 8),
                    ("reserved", self.reserved, 8),
                    ("identification", self.identification, 32),
                ),
            ) from None


class UpperLayer(Value):
    """Where the extension headers end: what :meth:`Ipv6Packet.upper_layer` finds."""

    protocol: int
    """The Next Header value that ended the walk: the upper layer (58 for ICMPv6), 59 for
    No Next Header, or an extension header not walked (ESP, AH, Mobility...)."""
    offset: int
    """Byte offset of that header from the start of the IPv6 header."""
    extensions: tuple[int, ...] = ()
    """Types of the extension headers walked, in order."""
    fragment: Fragment | None = None
    """The Fragment header, if the packet is a fragment."""

    @property
    def is_fragment(self) -> bool:
        return self.fragment is not None

    @property
    def is_non_first_fragment(self) -> bool:
        """True when the upper-layer header is not in this packet (RFC 8200 §4.5)."""
        return self.fragment is not None and self.fragment.offset != 0


def walk_extension_headers(
    next_header: int, data: bytes | bytearray | memoryview, offset: int = 0
) -> UpperLayer:
    """Follow the chain of extension headers in ``data`` from ``offset``, starting with type
    ``next_header``, to the upper-layer header (RFC 8200 §4.1).

    Walks Hop-by-Hop Options, Routing and Destination Options (length byte in 8-octet units
    after the first 8) and Fragment (8 bytes). A non-first fragment ends the walk at the end
    of the Fragment header, as the upper-layer header is in the first fragment only. Offsets
    in the result count from the start of ``data``. Raises :class:`Truncated` when a header
    is cut short, so a caller with a quote (fewer bytes than the packet had) learns that.
    """
    extensions: list[int] = []
    fragment: Fragment | None = None
    got = len(data)
    while True:
        if next_header in _OPTIONS_LIKE:
            if got < offset + _EXTENSION_START.size:
                raise Truncated(LAYER, offset + 8, got, offset)
            following, units = _EXTENSION_START.unpack_from(data, offset)
            length = (units + 1) * 8
            if got < offset + length:
                raise Truncated(LAYER, offset + length, got, offset)
        elif next_header == NextHeader.FRAGMENT:
            fragment = Fragment.parse(data, offset)
            following, length = fragment.next_header, FRAGMENT_LEN
        else:
            break
        extensions.append(next_header)
        offset += length
        next_header = following
        if fragment is not None and fragment.offset:
            break  # a non-first fragment: the rest is the middle of the upper layer
    return UpperLayer(next_header, offset, tuple(extensions), fragment)


class Ipv6Packet(Value):
    """An IPv6 packet: fixed header plus the payload (extension headers included)."""

    header: Ipv6Header
    payload: bytes

    def __len__(self) -> int:
        return HEADER_LEN + len(self.payload)

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview, partial: bool = False) -> Self:
        """Parse a packet; bytes beyond Payload Length (link-layer padding) are dropped.

        ``partial=True`` accepts fewer payload bytes than Payload Length says (the quote in
        an ICMPv6 error) and keeps those. A Payload Length of 0 with a Hop-by-Hop header
        would mean a Jumbo Payload (RFC 2675): not supported, parsed as an empty payload.
        """
        header = Ipv6Header.parse(data)
        payload_length = header.payload_length
        assert payload_length is not None  # parse always stores it
        end = HEADER_LEN + payload_length
        if len(data) < end and not partial:
            raise Truncated(LAYER, end, len(data))
        return cls(header, bytes(data[HEADER_LEN:end]))

    def upper_layer(self) -> UpperLayer:
        """Walk the extension headers (see :func:`walk_extension_headers`).

        Offsets count from the start of the IPv6 header: the upper-layer bytes are
        ``packet.payload[upper.offset - HEADER_LEN:]``.
        """
        upper = walk_extension_headers(self.header.next_header, self.payload)
        return UpperLayer(upper.protocol, upper.offset + HEADER_LEN, upper.extensions, upper.fragment)

    def upper_layer_bytes(self, upper: UpperLayer | None = None) -> bytes:
        """The bytes after the extension headers (walked again unless ``upper`` is given)."""
        if upper is None:
            upper = self.upper_layer()
        return self.payload[upper.offset - HEADER_LEN :]

    def build(self) -> bytes:
        """Return header and payload bytes."""
        return self.header.build(len(self.payload)) + self.payload

    def build_into(self, buf: bytearray | memoryview, offset: int = 0) -> int:
        """Write the packet into ``buf`` at ``offset``; return the number of bytes written."""
        end = offset + HEADER_LEN + len(self.payload)
        if len(buf) < end:
            raise Truncated(LAYER, end, len(buf), offset)
        buf[offset : offset + HEADER_LEN] = self.header.build(len(self.payload))
        buf[offset + HEADER_LEN : end] = self.payload
        return end - offset
