"""``layerping --decode HEX`` and ``layerping --decode-pcap FILE``: decode bytes someone hands you.

The same decode as ``-v`` (:mod:`layerping.output.tcpdump`), every checksum verified, with ``-X``
the hex dump too. Exit status: 0 when every checksum is right, 1 when one (or more) is wrong,
2 when the bytes are not a packet; then one line on stderr says where parsing stopped.

``--decode`` takes an Ethernet frame or an IPv4 packet (told apart by
:func:`~layerping.output.tcpdump.detect_linktype`) as hex digits, with or without spaces, colons or
newlines between them. ``--decode-pcap`` reads a pcap file (Ethernet or raw IPv4 link type) and
prints each frame after its timestamp, as ``tcpdump -n -v -e -r FILE`` does, one record at a time:
memory does not grow with the file. A capture cut short (a run interrupted, a disk that filled)
is decoded up to its last whole record, then one line on stderr says which record is not whole and
at which byte, and the status is 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import BinaryIO, TextIO

from layerping.errors import UsageError, WireError
from layerping.output import hexdump as hex_view
from layerping.output import tcpdump
from layerping.output.verbose import timestamp
from layerping.privilege import open_user_file
from layerping.wire.pcap import iter_records, read_header

EXIT_OK = 0
EXIT_BAD_CHECKSUM = 1
EXIT_NOT_A_PACKET = 2


def run_decode(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``--decode`` or ``--decode-pcap`` (not both) and return the exit status."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if args.decode is not None and args.decode_pcap is not None:
        raise UsageError("--decode and --decode-pcap exclude each other", "give one of them")
    if args.destinations:
        raise UsageError("--decode and --decode-pcap take no destination", "drop the destination")
    hexdump = bool(getattr(args, "hex", False))
    if args.decode is not None:
        return decode_hex(args.decode, hexdump, out, err)
    return decode_pcap_file(args.decode_pcap, hexdump, out, err)


def decode_hex(text: str, hexdump: bool, out: TextIO, err: TextIO) -> int:
    """Decode one frame or packet given as hex digits."""
    try:
        data = hex_view.parse_hex(text)
    except ValueError as exc:
        err.write(f"layerping: not a packet: {exc}\n")
        return EXIT_NOT_A_PACKET
    linktype = tcpdump.detect_linktype(data)
    if linktype is None:
        err.write(f"layerping: not a packet: {tcpdump.why_not_a_packet(data)}\n")
        return EXIT_NOT_A_PACKET
    decoded = tcpdump.decode(data, linktype)
    _print(decoded.lines, data, hexdump, out)
    if decoded.stopped is not None:
        err.write(f"layerping: not a whole packet: {decoded.stopped}\n")
    return decoded.status


def open_capture(path: str) -> BinaryIO:
    """Open the file ``--decode-pcap`` names (the one place it is opened), buffered for reading."""
    try:
        return open_user_file(path, "rb")  # the invoking user's rights
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", "give the path of a pcap file") from None


def decode_pcap_file(path: str, hexdump: bool, out: TextIO, err: TextIO) -> int:
    """Decode every frame of a pcap file as it is read; the worst status of any frame.

    Streams: one record is held at a time and printed before the next is read. A record cut
    short or damaged ends the decode there with one line on stderr naming it (record number and
    byte offset), after every good record before it, as ``tcpdump -r`` does; the status is then
    :data:`EXIT_NOT_A_PACKET` (tcpdump exits 1: we keep 1 for a wrong checksum).
    """
    with open_capture(path) as stream:
        return _decode_stream(stream, path, hexdump, out, err)


def _decode_stream(stream: BinaryIO, path: str, hexdump: bool, out: TextIO, err: TextIO) -> int:
    try:
        header = read_header(stream)
    except WireError as exc:
        err.write(f"layerping: {path} is not a pcap file layerping reads: {exc.message}\n")
        return EXIT_NOT_A_PACKET
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", "give the path of a pcap file") from None
    linktype = header.linktype
    decoder = tcpdump.LINKTYPES.get(linktype)
    if decoder is None:
        err.write(f"layerping: {path}: link type {linktype} is not one layerping decodes "
                  "(Ethernet 1, raw IPv4 101 or 228)\n")  # fmt: skip
        return EXIT_NOT_A_PACKET
    write = out.write
    status = EXIT_OK
    number = 0
    stamp = _Stamper()
    records = iter_records(stream, header)
    try:
        for ts_ns, data, orig_len in records:
            number += 1
            # tcpdump.decode() without its Decoded value: the text is printed as one string.
            decoded = tcpdump.Out()
            decoder(decoded, memoryview(data), orig_len)
            write(f"{stamp(ts_ns)} {decoded.text()}\n")
            if hexdump:
                dump = hex_view.hexdump(data)
                if dump:
                    write("\n".join(dump) + "\n")
            if decoded.stopped is not None:
                out.flush()
                err.write(f"layerping: frame {number}: {decoded.stopped}\n")
            if decoded.status > status:
                status = decoded.status
    except WireError as exc:
        out.flush()
        err.write(f"layerping: {path}: record {number + 1} at byte {exc.offset} is not whole: "
                  f"{exc.message}; decoding stops after {number} records\n")  # fmt: skip
        return EXIT_NOT_A_PACKET
    except OSError as exc:
        out.flush()
        err.write(f"layerping: {path}: reading record {number + 1} failed: {exc.strerror}; "
                  f"decoding stops after {number} records\n")  # fmt: skip
        return EXIT_NOT_A_PACKET
    out.flush()
    return status


class _Stamper:
    """:func:`timestamp` with the ``HH:MM:SS`` part kept for the second it was made for: the
    records of a capture come many to a second, and ``localtime`` + ``strftime`` were a tenth of
    the time per record."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, ns: int) -> str:
        second, rest_ns = divmod(ns, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._prefix = timestamp(second * 1_000_000_000)[:-7]
        return f"{self._prefix}.{rest_ns // 1000:06d}"


def _print(lines: list[str] | tuple[str, ...], data: bytes, hexdump: bool, out: TextIO) -> None:
    text = list(lines)
    if hexdump:
        text.extend(hex_view.hexdump(data))
    if text:
        out.write("\n".join(text) + "\n")
    out.flush()
