"""IPv4 header and packet (RFC 791 §3.1).

``Ipv4Header.parse`` reads the header alone, which is what an ICMP error quotes;
``Ipv4Packet.parse`` also uses Total Length to cut the payload out of a link frame.
Derived fields (IHL, Total Length, Header Checksum) are ``None`` to compute on build and
hold the received value after parse, so ``build(parse(b)) == b`` byte for byte.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address
from typing import Self

from layerping._value import Value
from layerping.errors import ChecksumError, Malformed, Truncated
from layerping.wire._fields import range_error
from layerping.wire.checksum import internet_checksum, ones_complement_sum

LAYER = "ipv4"
IPPROTO_ICMP = 1

#: version/IHL, TOS, total length, identification, flags/fragment offset, TTL, protocol,
#: header checksum, source, destination (RFC 791 §3.1).
_HEADER = struct.Struct("!BBHHHBBH4s4s")
HEADER_LEN = _HEADER.size  # 20: the header without options
MAX_HEADER_LEN = 60  # IHL is 4 bits of 32-bit words
MAX_OPTIONS_LEN = MAX_HEADER_LEN - HEADER_LEN
MAX_TOTAL_LEN = 0xFFFF
CHECKSUM_OFFSET = 10
_CHECKSUM = struct.Struct("!H")
VERSION = 4

FLAG_DF = 0x2  # Don't Fragment (RFC 791 §3.1, Flags bit 1)
FLAG_MF = 0x1  # More Fragments (RFC 791 §3.1, Flags bit 2)
_FLAGS_SHIFT = 13
_FRAGMENT_OFFSET_MASK = 0x1FFF
_MAX_FLAGS = 0x7
_MAX_IHL = 0xF
_MIN_IHL = HEADER_LEN // 4


def _range_error(fields: tuple[tuple[str, int | None, int], ...]) -> Malformed:
    return range_error(LAYER, "header", fields)


class Ipv4Header(Value):
    """An IPv4 header (RFC 791 §3.1), options included, payload not."""

    tos: int
    """Type of Service byte: DSCP in the top 6 bits, ECN in the low 2 (RFC 2474, RFC 3168)."""
    identification: int
    """Identification, used to reassemble fragments (RFC 791; RFC 6864 for atomic datagrams)."""
    flags: int
    """The 3-bit Flags field: ``FLAG_DF``, ``FLAG_MF``; bit 0 (0x4) is reserved."""
    fragment_offset: int
    """Fragment Offset in 8-byte units (13 bits)."""
    ttl: int
    protocol: int
    """Protocol of the payload (IANA numbers; ``IPPROTO_ICMP`` = 1)."""
    source: IPv4Address
    destination: IPv4Address
    options: bytes = b""
    """Raw option bytes, padding included; a multiple of 4 bytes, at most 40."""
    total_length: int | None = None
    """Total Length of header plus payload; None = compute on build."""
    checksum: int | None = None
    """Header Checksum as received; None = compute on build."""
    ihl: int | None = None
    """Internet Header Length in 32-bit words as received; None = compute on build."""

    @property
    def header_length(self) -> int:
        """Bytes this header occupies: 20 plus the options (what IHL should say × 4)."""
        return HEADER_LEN + len(self.options)

    @property
    def dont_fragment(self) -> bool:
        return bool(self.flags & FLAG_DF)

    @property
    def more_fragments(self) -> bool:
        return bool(self.flags & FLAG_MF)

    def __len__(self) -> int:
        return HEADER_LEN + len(self.options)

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview, verify: bool = False) -> Self:
        """Parse the header at the start of ``data``; bytes after it are ignored.

        Total Length is stored, not checked against ``data`` (an ICMP error quotes only
        the start of a datagram, and some stacks quote it altered). ``verify=True``
        raises :class:`ChecksumError` when the header checksum is wrong.
        """
        got = len(data)
        if got < HEADER_LEN:
            raise Truncated(LAYER, HEADER_LEN, got)
        (ver_ihl, tos, total_length, ident, flags_frag, ttl, proto, checksum, src, dst) = _HEADER.unpack_from(
            data
        )
        version = ver_ihl >> 4
        if version != VERSION:
            raise Malformed(LAYER, "version", version, "not 4")
        ihl = ver_ihl & _MAX_IHL
        if ihl < _MIN_IHL:
            raise Malformed(LAYER, "ihl", ihl, "less than 5 words")
        header_length = ihl * 4
        if got < header_length:
            raise Truncated(LAYER, header_length, got)
        if verify and ones_complement_sum(data[:header_length]) != 0xFFFF:
            raise ChecksumError(LAYER, _expected(data[:header_length]), checksum, CHECKSUM_OFFSET)
        return cls(
            tos=tos,
            identification=ident,
            flags=flags_frag >> _FLAGS_SHIFT,
            fragment_offset=flags_frag & _FRAGMENT_OFFSET_MASK,
            ttl=ttl,
            protocol=proto,
            source=IPv4Address(src),
            destination=IPv4Address(dst),
            options=bytes(data[HEADER_LEN:header_length]),
            total_length=total_length,
            checksum=checksum,
            ihl=ihl,
        )

    def _build(self, payload_length: int, checksum: int | None) -> bytearray:
        """The header bytes with ``checksum`` in its field (0 when None)."""
        options_length = len(self.options)
        if options_length % 4 or options_length > MAX_OPTIONS_LEN:
            raise Malformed(LAYER, "options", self.options, "length must be a multiple of 4, at most 40")
        header_length = HEADER_LEN + options_length
        ihl = header_length // 4 if self.ihl is None else self.ihl
        total_length = header_length + payload_length if self.total_length is None else self.total_length
        # These share bytes with other fields, so struct would not catch an overflow.
        if not (0 <= self.flags <= _MAX_FLAGS):
            raise Malformed(LAYER, "flags", self.flags, "does not fit in 3 bits")
        if not (0 <= self.fragment_offset <= _FRAGMENT_OFFSET_MASK):
            raise Malformed(LAYER, "fragment_offset", self.fragment_offset, "does not fit in 13 bits")
        if not (0 <= ihl <= _MAX_IHL):
            raise Malformed(LAYER, "ihl", ihl, "does not fit in 4 bits")
        buf = bytearray(header_length)
        try:
            _HEADER.pack_into(
                buf,
                0,
                VERSION << 4 | ihl,
                self.tos,
                total_length,
                self.identification,
                self.flags << _FLAGS_SHIFT | self.fragment_offset,
                self.ttl,
                self.protocol,
                0 if checksum is None else checksum,
                self.source.packed,
                self.destination.packed,
            )
        except struct.error:
            raise _range_error(
                (
                    ("tos", self.tos, 8),
                    ("total_length", total_length, 16),
                    ("identification", self.identification, 16),
                    ("ttl", self.ttl, 8),
                    ("protocol", self.protocol, 8),
                    ("checksum", checksum or 0, 16),
                )
            ) from None
        buf[HEADER_LEN:] = self.options
        return buf

    def build(self, payload_length: int = 0) -> bytes:
        """Return the header bytes; Total Length defaults to header + ``payload_length``."""
        buf = self._build(payload_length, self.checksum)
        if self.checksum is None:
            _CHECKSUM.pack_into(buf, CHECKSUM_OFFSET, internet_checksum(buf))
        return bytes(buf)

    def expected_checksum(self, payload_length: int = 0) -> int:
        """The Header Checksum these fields call for (the received one is ignored)."""
        return internet_checksum(self._build(payload_length, None))


def _expected(header: bytes | bytearray | memoryview) -> int:
    """The checksum ``header`` should carry: computed with the checksum field zeroed."""
    buf = bytearray(header)
    _CHECKSUM.pack_into(buf, CHECKSUM_OFFSET, 0)
    return internet_checksum(buf)


class Ipv4Packet(Value):
    """An IPv4 datagram: header plus the payload Total Length covers."""

    header: Ipv4Header
    payload: bytes

    def __len__(self) -> int:
        return len(self.header) + len(self.payload)

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview, verify: bool = False) -> Self:
        """Parse a datagram; bytes beyond Total Length (link-layer padding) are dropped."""
        header = Ipv4Header.parse(data, verify)
        header_length = header.header_length
        total_length = header.total_length
        assert total_length is not None  # parse always stores it
        if total_length < header_length:
            raise Malformed(LAYER, "total_length", total_length, f"less than the {header_length}-byte header")
        if len(data) < total_length:
            raise Truncated(LAYER, total_length, len(data))
        return cls(header, bytes(data[header_length:total_length]))

    def build(self) -> bytes:
        """Return header and payload bytes."""
        return self.header.build(len(self.payload)) + self.payload

    def build_into(self, buf: bytearray | memoryview, offset: int = 0) -> int:
        """Write the datagram into ``buf`` at ``offset``; return the number of bytes written."""
        data = self.build()
        end = offset + len(data)
        if len(buf) < end:
            raise Truncated(LAYER, end, len(buf), offset)
        buf[offset:end] = data
        return len(data)
