"""The classic pcap file format: a writer and a reader.

Layout (draft-ietf-opsawg-pcap §4-5): a 24-byte file header (magic, version 2.4, two
reserved words, snaplen, link type) and then records, each a 16-byte header (seconds,
fraction, captured length, original length) followed by the captured bytes. The magic
says both the byte order and the unit of the fraction: 0xa1b2c3d4 microseconds,
0xa1b23c4d nanoseconds. We write nanoseconds, little-endian; we read all four variants.

This module reads and writes a stream it is given; it never opens files or sockets.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from layerping._value import Value
from layerping.errors import Malformed, Truncated
from layerping.wire.linktype import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW

LAYER = "pcap"

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_RAW",
    "PcapFile",
    "PcapHeader",
    "PcapRecord",
    "PcapWriter",
    "iter_records",
    "read_header",
    "read_pcap",
]

MAGIC_MICROSECONDS = 0xA1B2C3D4
MAGIC_NANOSECONDS = 0xA1B23C4D
VERSION_MAJOR = 2
VERSION_MINOR = 4
DEFAULT_SNAPLEN = 262144  # tcpdump's default

#: magic, version major, version minor, reserved (was thiszone), reserved (was sigfigs),
#: snaplen, link type (its top bits may carry FCS information; kept as read).
_FILE_HEADER_LE = struct.Struct("<IHHiIII")
_FILE_HEADER_BE = struct.Struct(">IHHiIII")
FILE_HEADER_LEN = _FILE_HEADER_LE.size  # 24
#: seconds, fraction (µs or ns), captured length, original length.
_RECORD_HEADER_LE = struct.Struct("<IIII")
_RECORD_HEADER_BE = struct.Struct(">IIII")
RECORD_HEADER_LEN = _RECORD_HEADER_LE.size  # 16
_MAGIC = struct.Struct("<I")
_MAGICS = {
    MAGIC_MICROSECONDS: (False, False),  # (big-endian file, nanosecond)
    MAGIC_NANOSECONDS: (False, True),
    int.from_bytes(MAGIC_MICROSECONDS.to_bytes(4, "big"), "little"): (True, False),
    int.from_bytes(MAGIC_NANOSECONDS.to_bytes(4, "big"), "little"): (True, True),
}
_NS_PER_S = 1_000_000_000
_NS_PER_US = 1_000
_MAX_U32 = 0xFFFFFFFF
# A reader refuses records above this, so a corrupt length cannot make it read gigabytes.
# Wireshark's limit for Ethernet is the same 262144 (WTAP_MAX_PACKET_SIZE_STANDARD).
MAX_RECORD_LEN = DEFAULT_SNAPLEN


class PcapRecord(Value):
    """One captured packet. ``orig_len`` is its length on the wire (``len(data)`` if not cut)."""

    ts_ns: int
    data: bytes
    orig_len: int


class PcapFile(Value):
    """A whole pcap file: link type, snaplen, timestamp unit and records."""

    linktype: int
    snaplen: int
    nanosecond: bool
    records: list[PcapRecord]


class PcapWriter:
    """Writes a nanosecond pcap file to ``stream``, flushing after each record.

    Flushing each record means a run stopped with Ctrl-C leaves a file every reader
    accepts. ``close()`` closes the stream too.
    """

    def __init__(self, stream: BinaryIO, linktype: int, snaplen: int = DEFAULT_SNAPLEN) -> None:
        if not 0 < snaplen <= _MAX_U32:
            raise Malformed(LAYER, "snaplen", snaplen, "must be 1..2**32-1")
        if not 0 <= linktype <= _MAX_U32:
            raise Malformed(LAYER, "linktype", linktype, "does not fit in 32 bits")
        self._stream = stream
        self.linktype = linktype
        self.snaplen = snaplen
        stream.write(
            _FILE_HEADER_LE.pack(MAGIC_NANOSECONDS, VERSION_MAJOR, VERSION_MINOR, 0, 0, snaplen, linktype)
        )
        stream.flush()

    def write(self, ts_ns: int, data: bytes, orig_len: int | None = None) -> None:
        """Append one record; ``data`` beyond snaplen is cut, ``orig_len`` defaults to its length."""
        seconds, fraction_ns = divmod(ts_ns, _NS_PER_S)
        if not 0 <= seconds <= _MAX_U32:
            raise Malformed(LAYER, "ts_ns", ts_ns, "outside 1970..2106")
        captured = data[: self.snaplen]
        original = len(data) if orig_len is None else orig_len
        if not len(captured) <= original <= _MAX_U32:
            raise Malformed(LAYER, "orig_len", original, "less than the captured length or above 2**32-1")
        self._stream.write(_RECORD_HEADER_LE.pack(seconds, fraction_ns, len(captured), original) + captured)
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PcapHeader(Value):
    """The file header: link type, snaplen, timestamp unit and byte order."""

    linktype: int
    snaplen: int
    nanosecond: bool
    big_endian: bool = False


def _read_exactly(stream: BinaryIO, n: int, offset: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise Truncated(LAYER, n, len(data), offset)
    return data


def read_header(stream: BinaryIO) -> PcapHeader:
    """Read the 24-byte file header; :class:`Truncated` or :class:`Malformed` if it is not one."""
    header = _read_exactly(stream, FILE_HEADER_LEN, 0)
    (magic,) = _MAGIC.unpack_from(header)
    try:
        big_endian, nanosecond = _MAGICS[magic]
    except KeyError:
        raise Malformed(LAYER, "magic", hex(magic), "not a pcap file (pcapng is not supported)") from None
    file_header = _FILE_HEADER_BE if big_endian else _FILE_HEADER_LE
    _, major, _, _, _, snaplen, linktype = file_header.unpack_from(header)
    if major != VERSION_MAJOR:
        raise Malformed(LAYER, "version", major, "only version 2 is defined")
    return PcapHeader(linktype, snaplen, nanosecond, big_endian)


def iter_records(stream: BinaryIO, header: PcapHeader) -> Iterator[tuple[int, bytes, int]]:
    """The records after ``header``, one at a time, as ``(ts_ns, data, orig_len)`` tuples.

    Streams: only the record being read is held, whatever the size of the file. A file that
    ends exactly after a record ends the iteration; one that ends inside a record raises
    :class:`Truncated`, a record header no writer produces :class:`Malformed`, both with the
    byte offset of that record (the records before it have been yielded). Tuples, not
    :class:`PcapRecord`, because ``--decode-pcap`` reads a million of them.
    """
    unpack = (_RECORD_HEADER_BE if header.big_endian else _RECORD_HEADER_LE).unpack
    fraction_limit, ns_per_unit = (
        (_NS_PER_S, 1) if header.nanosecond else (_NS_PER_S // _NS_PER_US, _NS_PER_US)
    )
    read = stream.read
    offset = FILE_HEADER_LEN
    while True:
        raw = read(RECORD_HEADER_LEN)
        if len(raw) != RECORD_HEADER_LEN:
            if not raw:
                return
            raise Truncated(LAYER, RECORD_HEADER_LEN, len(raw), offset)
        seconds, fraction, captured, original = unpack(raw)
        if fraction >= fraction_limit:
            raise Malformed(LAYER, "timestamp fraction", fraction, "a second or more", offset)
        if captured > MAX_RECORD_LEN:
            raise Malformed(LAYER, "captured length", captured, f"above {MAX_RECORD_LEN}", offset)
        data = read(captured)
        if len(data) != captured:
            raise Truncated(LAYER, captured, len(data), offset)
        yield seconds * _NS_PER_S + fraction * ns_per_unit, data, original
        offset += RECORD_HEADER_LEN + captured


def read_pcap(stream: BinaryIO) -> PcapFile:
    """Read a whole pcap file (µs or ns timestamps, either byte order) into memory.

    For small files (tests, the fake transports); ``--decode-pcap`` streams with
    :func:`read_header` and :func:`iter_records`. A file that ends exactly after a record is
    complete; one that ends inside a record raises :class:`Truncated`, as does one shorter than
    the file header.
    """
    header = read_header(stream)
    records = [PcapRecord(ts_ns, data, orig_len) for ts_ns, data, orig_len in iter_records(stream, header)]
    return PcapFile(header.linktype, header.snaplen, header.nanosecond, records)
