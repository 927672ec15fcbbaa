"""MmsgLinkIO writes every probe of a batch right: the IPv4 header fields that change per probe,
and each probe's next-hop MAC (the frame's at layer ethernet, the sockaddr_ll's at layer ip).

No packet leaves: the adapter is built on a UDP socket it never sends on, and the tests read its
buffers. The lab tests (tests/lab/test_many.py) check the same on the wire with tshark.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest

from layerping.inet.v4 import IPV4, Ipv4HeaderWriter
from layerping.transport.base import Layer, SendOptions
from layerping.transport.batch import MmsgLinkIO
from layerping.transport.framing import framing_for
from layerping.transport.packet import PacketTransport
from layerping.wire.checksum import ones_complement_sum
from layerping.wire.icmpv4 import Echo

ROUTER_MAC = bytes.fromhex("020000000002")
OWN_MAC = bytes.fromhex("020000000001")
OTHER_MAC = bytes.fromhex("02000000000a")
SOURCE = IPv4Address("192.0.2.2")


class _Plan:
    ifindex = 2
    src_mac = OWN_MAC
    source = SOURCE


def _Transport(layer: Layer) -> PacketTransport:
    """A packet transport as the factory opens one, but on a UDP socket it never sends on."""
    transport = PacketTransport.__new__(PacketTransport)
    transport.layer = layer
    transport.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    transport.plan = _Plan()  # type: ignore[assignment]
    transport.framing = framing_for(layer)
    transport.family = IPV4
    transport.writer = Ipv4HeaderWriter(SOURCE, SendOptions(ttl=64, pmtu="do"), 1500)
    return transport


class _NextHops:
    def __init__(self) -> None:
        self.default = ROUTER_MAC
        self.macs: dict[int, bytes | str | None] = {}


@pytest.fixture(params=[Layer.ETHERNET, Layer.IP])
def link_io(request: pytest.FixtureRequest) -> Iterator[MmsgLinkIO]:
    transport = _Transport(request.param)
    template = Echo.request(0x1234, 0, bytes(16)).build()
    io = MmsgLinkIO(transport, len(template), 1000.0, _NextHops(), capacity=8)
    io.prepare(template)
    try:
        yield io
    finally:
        io.close()
        assert transport.sock is not None
        transport.sock.close()


def _probe(io: MmsgLinkIO, k: int) -> tuple[bytes, bytes]:
    """(IPv4 header, next-hop MAC) of probe ``k`` of the current batch."""
    tx_set = io._sets[io._current]
    frame = bytes(tx_set.view[k * io.stride : k * io.stride + io.frame_len])
    if io.ethernet:
        return frame[14:34], frame[:6]
    name = bytes(tx_set.names_view[k * tx_set.name_stride : k * tx_set.name_stride + 20])
    return frame[:20], name[12:18]


def test_every_header_is_whole_with_its_own_identification(link_io: MmsgLinkIO) -> None:
    destinations = [int(IPv4Address("198.18.0.1")) + k for k in range(8)]
    link_io.writer._next_identification = 0xFFFC  # type: ignore[attr-defined]  # wraps inside the batch
    held = link_io._address(link_io._sets[link_io._current], 8, destinations)
    assert held == {}
    identifications = []
    for k, destination in enumerate(destinations):
        header, mac = _probe(link_io, k)
        assert ones_complement_sum(header) == 0xFFFF  # RFC 1071: an intact header sums to all ones
        fields = struct.unpack("!BBHHHBBH4s4s", header)
        version_ihl, _tos, total, ident, flags, ttl, protocol, _sum, src, dst = fields
        assert (version_ihl, total, flags, ttl, protocol) == (0x45, 20 + 24, 0x4000, 64, 1)
        assert (IPv4Address(src), int(IPv4Address(dst))) == (SOURCE, destination)
        assert mac == ROUTER_MAC
        identifications.append(ident)
    assert identifications == [0xFFFC, 0xFFFD, 0xFFFE, 0xFFFF, 0, 1, 2, 3]
    assert link_io.writer._next_identification == 4  # type: ignore[attr-defined]


def test_checksums_agree_with_a_per_probe_computation_for_many_addresses(link_io: MmsgLinkIO) -> None:
    # Sums that need the second fold of the end-around carry, and ones whose fold is 0xffff.
    destinations = [0xFFFFFFFF, 0xFFFF0000, 0x0000FFFF, 0xC0000201, 0, 0xFFFEFFFF, 0x80008000, 0x7FFF7FFF]
    for first in (0, 0x1234, 0xFFFF):
        link_io.writer._next_identification = first  # type: ignore[attr-defined]
        link_io._address(link_io._sets[link_io._current], 8, destinations)
        for k in range(8):
            header, _mac = _probe(link_io, k)
            assert ones_complement_sum(header) == 0xFFFF, (first, k)


def test_next_hops_of_their_own_are_written_and_restored(link_io: MmsgLinkIO) -> None:
    tx_set = link_io._sets[link_io._current]
    on_link = int(IPv4Address("192.0.2.10"))
    unanswered = int(IPv4Address("192.0.2.99"))
    link_io.next_hops.macs.update({on_link: OTHER_MAC, unanswered: None})
    behind_router = int(IPv4Address("198.18.0.1"))
    held = link_io._address(tx_set, 3, [behind_router, on_link, unanswered])
    assert held == {2: None}
    assert _probe(link_io, 0)[1] == ROUTER_MAC and _probe(link_io, 1)[1] == OTHER_MAC
    # The next batch through the same buffer: slot 1 now carries a target behind the router.
    held = link_io._address(tx_set, 3, [behind_router, behind_router + 1, behind_router + 2])
    assert held == {} and [_probe(link_io, k)[1] for k in range(3)] == [ROUTER_MAC] * 3
