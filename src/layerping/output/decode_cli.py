"""``layerping --decode HEX`` and ``layerping --decode-pcap FILE``: decode bytes someone hands you.

The same decode as ``-v`` (:mod:`layerping.wire.decode`), every checksum verified, with ``-X``
the hex dump too. Exit status: 0 when every checksum is right, 1 when one (or more) is wrong,
2 when the bytes are not a packet; then one line on stderr says where parsing stopped.

``--decode`` takes an Ethernet frame or an IPv4 packet (told apart by
:func:`~layerping.wire.decode.detect_linktype`) as hex digits, with or without spaces, colons or
newlines between them. ``--decode-pcap`` reads a pcap file (Ethernet or raw IPv4 link type) and
prints each frame after its timestamp, as ``tcpdump -n -v -e -r FILE`` does.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from layerping.errors import UsageError, WireError
from layerping.output.verbose import timestamp
from layerping.privilege import open_user_file
from layerping.wire import decode as wire_decode
from layerping.wire.pcap import read_pcap

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
        data = wire_decode.parse_hex(text)
    except ValueError as exc:
        err.write(f"layerping: not a packet: {exc}\n")
        return EXIT_NOT_A_PACKET
    linktype = wire_decode.detect_linktype(data)
    if linktype is None:
        err.write(f"layerping: not a packet: {wire_decode.why_not_a_packet(data)}\n")
        return EXIT_NOT_A_PACKET
    decoded = wire_decode.decode(data, linktype)
    _print(decoded.lines, data, hexdump, out)
    if decoded.stopped is not None:
        err.write(f"layerping: not a whole packet: {decoded.stopped}\n")
    return decoded.status


def decode_pcap_file(path: str, hexdump: bool, out: TextIO, err: TextIO) -> int:
    """Decode every frame of a pcap file; the worst status of any frame."""
    try:
        with open_user_file(path, "rb") as stream:  # the invoking user's rights
            capture = read_pcap(stream)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", "give the path of a pcap file") from None
    except WireError as exc:
        err.write(f"layerping: {path} is not a pcap file layerping reads: {exc.message}\n")
        return EXIT_NOT_A_PACKET
    status = EXIT_OK
    for number, record in enumerate(capture.records, start=1):
        decoded = wire_decode.decode(record.data, capture.linktype, record.orig_len)
        lines = list(decoded.lines) or [""]
        lines[0] = f"{timestamp(record.ts_ns)} {lines[0]}"
        _print(lines, record.data, hexdump, out)
        if decoded.stopped is not None:
            err.write(f"layerping: frame {number}: {decoded.stopped}\n")
        status = max(status, decoded.status)
    return status


def _print(lines: list[str] | tuple[str, ...], data: bytes, hexdump: bool, out: TextIO) -> None:
    text = list(lines)
    if hexdump:
        text.extend(wire_decode.hexdump(data))
    if text:
        out.write("\n".join(text) + "\n")
    out.flush()
