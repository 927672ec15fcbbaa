"""Ethernet II frames (IEEE 802.3 with an EtherType) and MAC address helpers.

A frame here is what ``AF_PACKET``/``SOCK_RAW`` hands over: destination, source,
EtherType, payload; no preamble and no FCS. The payload keeps any padding up to the
60-byte minimum, since only the next layer knows its own length. An 802.1Q tag is not
taken apart: with EtherType ``VLAN`` the payload starts with the tag's TCI.
"""

from __future__ import annotations

import re
import struct
from typing import Final, Self

from layerping._value import Value
from layerping.errors import Malformed, Truncated

LAYER = "ethernet"


class EtherType:
    """EtherType values (IEEE 802 numbers): plain ``int`` constants, as the fields are.

    Not an ``IntEnum``: nothing here needs member names, and defining one costs 0.15 to 0.3 ms
    at start-up, on the import path of ``--layer ip`` and ``--layer ethernet`` only.
    """

    IPV4: Final = 0x0800
    ARP: Final = 0x0806
    VLAN: Final = 0x8100
    IPV6: Final = 0x86DD


#: destination MAC, source MAC, EtherType.
_HEADER = struct.Struct("!6s6sH")
HEADER_LEN = _HEADER.size  # 14
MAC_LEN = 6
#: Smallest frame without FCS (64 bytes on the wire); drivers pad shorter frames with zeros.
MIN_FRAME_LEN = 60

BROADCAST_MAC = b"\xff" * MAC_LEN
ZERO_MAC = bytes(MAC_LEN)

# Compiled on first use (re caches it), not at import: most runs never parse a MAC.
_MAC_PATTERN = r"[0-9A-Fa-f]{1,2}([:-])[0-9A-Fa-f]{1,2}(?:\1[0-9A-Fa-f]{1,2}){4}"


def mac_str(mac: bytes) -> str:
    """Format a MAC address as lowercase colon-separated hex: ``52:8d:d0:30:ba:14``."""
    return mac.hex(":")


def parse_mac(text: str) -> bytes:
    """Parse ``52:8d:d0:30:ba:14`` or ``52-8D-D0-30-BA-14`` (one-digit groups allowed)."""
    match = re.fullmatch(_MAC_PATTERN, text)
    if match is None:
        raise Malformed(LAYER, "mac", text, "expected six hex bytes separated by ':' or '-'")
    return bytes(int(group, 16) for group in text.split(match.group(1)))


class EthernetFrame(Value):
    """An Ethernet II frame without FCS."""

    destination: bytes
    source: bytes
    ethertype: int
    """An :class:`EtherType` (values up to 1500 would be an 802.3 length; kept as is)."""
    payload: bytes

    def __len__(self) -> int:
        return HEADER_LEN + len(self.payload)

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> Self:
        if len(data) < HEADER_LEN:
            raise Truncated(LAYER, HEADER_LEN, len(data))
        destination, source, ethertype = _HEADER.unpack_from(data)
        return cls(destination, source, ethertype, bytes(data[HEADER_LEN:]))

    def build_into(self, buf: bytearray | memoryview, offset: int = 0) -> int:
        """Write the frame into ``buf`` at ``offset``; return the number of bytes written."""
        for name, mac in (("destination", self.destination), ("source", self.source)):
            if len(mac) != MAC_LEN:
                raise Malformed(LAYER, name, mac, "a MAC address is 6 bytes")
        if not 0 <= self.ethertype <= 0xFFFF:
            raise Malformed(LAYER, "ethertype", self.ethertype, "does not fit in 16 bits")
        end = offset + HEADER_LEN + len(self.payload)
        if len(buf) < end:
            raise Truncated(LAYER, end, len(buf), offset)
        _HEADER.pack_into(buf, offset, self.destination, self.source, self.ethertype)
        buf[offset + HEADER_LEN : end] = self.payload
        return end - offset

    def build(self) -> bytes:
        buf = bytearray(HEADER_LEN + len(self.payload))
        self.build_into(buf)
        return bytes(buf)
