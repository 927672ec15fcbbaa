"""ARP for IPv4 over Ethernet (RFC 826)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from layerping.errors import Malformed, Truncated
from layerping.wire.arp import HEADER_LEN, ArpOperation, ArpPacket
from layerping.wire.ethernet import HEADER_LEN as ETH_HEADER_LEN
from layerping.wire.ethernet import ZERO_MAC, EthernetFrame, EtherType
from tests import vectors as V

REQUEST = ArpPacket(ArpOperation.REQUEST, V.OUR_MAC, V.SRC, ZERO_MAC, V.ROUTER, 1, 0x0800, 6, 4)
REPLY = ArpPacket(ArpOperation.REPLY, V.GW_MAC, V.ROUTER, V.OUR_MAC, V.SRC, 1, 0x0800, 6, 4)


def test_parse_request() -> None:
    packet = ArpPacket.parse(V.ARP_REQ)
    assert packet == REQUEST
    assert packet.operation == ArpOperation.REQUEST == 1
    assert packet.sender_mac == bytes.fromhex("528dd030ba14")
    assert packet.sender_ip == IPv4Address("192.168.50.161")
    assert packet.target_mac == bytes(6)
    assert packet.target_ip == IPv4Address("192.168.50.1")
    assert len(packet) == 28


def test_parse_reply_in_padded_frame() -> None:
    frame = EthernetFrame.parse(V.ETH_ARP_REP)
    assert frame.ethertype == EtherType.ARP
    assert ArpPacket.parse(frame.payload) == REPLY  # the 18 bytes of padding are ignored
    assert ArpPacket.parse(memoryview(V.ETH_ARP_REP)[ETH_HEADER_LEN:]) == REPLY


def test_build_request() -> None:
    assert ArpPacket.request(V.OUR_MAC, V.SRC, V.ROUTER).build() == V.ARP_REQ


def test_build_reply() -> None:
    assert ArpPacket.reply(V.GW_MAC, V.ROUTER, V.OUR_MAC, V.SRC).build() == V.ARP_REP


def test_build_padded_frame() -> None:
    frame = EthernetFrame(V.OUR_MAC, V.GW_MAC, EtherType.ARP, REPLY.build() + V.ETH_PAD)
    assert frame.build() == V.ETH_ARP_REP


@pytest.mark.parametrize("vector", [V.ARP_REQ, V.ARP_REP])
def test_round_trip(vector: bytes) -> None:
    assert ArpPacket.parse(vector).build() == vector
    assert ArpPacket.parse(vector + V.ETH_PAD).build() == vector


def test_round_trip_value() -> None:
    assert ArpPacket.parse(REQUEST.build()) == REQUEST
    assert ArpPacket.parse(REPLY.build()) == REPLY


def test_other_hardware_type_is_kept() -> None:
    data = b"\x00\x06" + V.ARP_REQ[2:]  # IEEE 802 networks, same layout
    packet = ArpPacket.parse(data)
    assert packet.hardware_type == 6
    assert packet.build() == data


@pytest.mark.parametrize("vector", [V.ARP_REQ, V.ARP_REP])
def test_truncated_at_every_length(vector: bytes) -> None:
    for n in range(HEADER_LEN):
        with pytest.raises(Truncated) as info:
            ArpPacket.parse(vector[:n])
        assert (info.value.need, info.value.got) == (28, n)


@pytest.mark.parametrize(
    ("offset", "value", "field"), [(4, 8, "hardware_length"), (5, 16, "protocol_length")]
)
def test_only_ethernet_ipv4(offset: int, value: int, field: str) -> None:
    data = bytearray(V.ARP_REQ)
    data[offset] = value
    with pytest.raises(Malformed) as info:
        ArpPacket.parse(data)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("packet", "field"),
    [
        (ArpPacket(1, b"\x00" * 5, V.SRC, ZERO_MAC, V.ROUTER), "sender_mac"),
        (ArpPacket(1, V.OUR_MAC, V.SRC, b"", V.ROUTER), "target_mac"),
        (ArpPacket(0x10000, V.OUR_MAC, V.SRC, ZERO_MAC, V.ROUTER), "operation"),
        (ArpPacket(1, V.OUR_MAC, V.SRC, ZERO_MAC, V.ROUTER, hardware_length=256), "hardware_length"),
    ],
)
def test_build_rejects(packet: ArpPacket, field: str) -> None:
    with pytest.raises(Malformed) as info:
        packet.build()
    assert info.value.field == field
