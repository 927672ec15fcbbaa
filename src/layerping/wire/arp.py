"""ARP for IPv4 over Ethernet (RFC 826).

Only the Ethernet/IPv4 shape is supported: hardware address length 6 and protocol
address length 4, 28 bytes in all. Hardware Type and Protocol Type are kept as received
(IEEE 802 networks use hardware type 6 with the same layout). Bytes after the 28 are
ignored: Ethernet pads an ARP packet to the 60-byte minimum frame.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address
from typing import Final, Self

from layerping._value import Value
from layerping.errors import Malformed, Truncated
from layerping.wire._fields import range_error
from layerping.wire.ethernet import MAC_LEN, ZERO_MAC, EtherType

LAYER = "arp"

HARDWARE_ETHERNET = 1  # ar$hrd (RFC 826; IANA "Ethernet (10Mb)")
IPV4_ADDR_LEN = 4


class ArpOperation:
    """ar$op (RFC 826): plain ``int`` constants, like :class:`~layerping.wire.ethernet.EtherType`."""

    REQUEST: Final = 1
    REPLY: Final = 2


#: hardware type, protocol type, hardware length, protocol length, operation.
_FIXED = struct.Struct("!HHBBH")
#: The whole Ethernet/IPv4 packet: the fixed part, then sender MAC/IP, target MAC/IP.
_PACKET = struct.Struct("!HHBBH6s4s6s4s")
HEADER_LEN = _PACKET.size  # 28


def _range_error(fields: tuple[tuple[str, int | None, int], ...]) -> Malformed:
    return range_error(LAYER, "packet", fields)


class ArpPacket(Value):
    """An ARP request or reply for IPv4 over Ethernet (RFC 826)."""

    operation: int
    """An :class:`ArpOperation`."""
    sender_mac: bytes
    sender_ip: IPv4Address
    target_mac: bytes
    """All zeros in a request (RFC 826 leaves it unspecified; Linux sends zeros)."""
    target_ip: IPv4Address
    hardware_type: int = HARDWARE_ETHERNET
    protocol_type: int = EtherType.IPV4
    hardware_length: int | None = None
    """ar$hln as received; None = 6 on build."""
    protocol_length: int | None = None
    """ar$pln as received; None = 4 on build."""

    @classmethod
    def request(cls, sender_mac: bytes, sender_ip: IPv4Address, target_ip: IPv4Address) -> Self:
        """Who has ``target_ip``? Tell ``sender_ip``."""
        return cls(ArpOperation.REQUEST, sender_mac, sender_ip, ZERO_MAC, target_ip)

    @classmethod
    def reply(
        cls, sender_mac: bytes, sender_ip: IPv4Address, target_mac: bytes, target_ip: IPv4Address
    ) -> Self:
        """``sender_ip`` is at ``sender_mac``, told to the requester ``target_mac``/``target_ip``."""
        return cls(ArpOperation.REPLY, sender_mac, sender_ip, target_mac, target_ip)

    def __len__(self) -> int:
        return HEADER_LEN

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> Self:
        got = len(data)
        if got < _FIXED.size:
            raise Truncated(LAYER, HEADER_LEN, got)
        _, _, hardware_length, protocol_length, _ = _FIXED.unpack_from(data)
        if hardware_length != MAC_LEN:
            raise Malformed(LAYER, "hardware_length", hardware_length, "only 6-byte (Ethernet) addresses")
        if protocol_length != IPV4_ADDR_LEN:
            raise Malformed(LAYER, "protocol_length", protocol_length, "only 4-byte (IPv4) addresses")
        if got < HEADER_LEN:
            raise Truncated(LAYER, HEADER_LEN, got)
        (hardware_type, protocol_type, _, _, operation, sender_mac, sender_ip, target_mac, target_ip) = (
            _PACKET.unpack_from(data)
        )
        return cls(
            operation,
            sender_mac,
            IPv4Address(sender_ip),
            target_mac,
            IPv4Address(target_ip),
            hardware_type,
            protocol_type,
            hardware_length,
            protocol_length,
        )

    def build(self) -> bytes:
        for name, mac in (("sender_mac", self.sender_mac), ("target_mac", self.target_mac)):
            if len(mac) != MAC_LEN:
                raise Malformed(LAYER, name, mac, "a MAC address is 6 bytes")
        hardware_length = MAC_LEN if self.hardware_length is None else self.hardware_length
        protocol_length = IPV4_ADDR_LEN if self.protocol_length is None else self.protocol_length
        try:
            return _PACKET.pack(
                self.hardware_type,
                self.protocol_type,
                hardware_length,
                protocol_length,
                self.operation,
                self.sender_mac,
                self.sender_ip.packed,
                self.target_mac,
                self.target_ip.packed,
            )
        except struct.error:
            raise _range_error(
                (
                    ("hardware_type", self.hardware_type, 16),
                    ("protocol_type", self.protocol_type, 16),
                    ("hardware_length", hardware_length, 8),
                    ("protocol_length", protocol_length, 8),
                    ("operation", self.operation, 16),
                )
            ) from None
