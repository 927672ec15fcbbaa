"""One packet path per layer: the single-target send path and the many-target batch path put
the same bytes on the wire for the same probe, at layers ip and ethernet.

Both paths are built in-process from one configuration: a :class:`PacketTransport` whose socket
records what ``send`` hands it, and an :class:`MmsgLinkIO` on the same kind of transport whose
batch buffers are read back (neither socket sends anything: the first is a stand-in, the second
a UDP socket the adapter only sizes). Each writer starts at the same Identification, so probe
``k`` of one path must equal probe ``k`` of the other byte for byte: the frame (Ethernet header
at layer ethernet, IPv4 header, ICMP message) and, at layer ip, the next hop's MAC that the
kernel writes the link header from.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest

from layerping._linux import ARPHRD_ETHER
from layerping.discovery.plan import PathPlan
from layerping.engine.multi import MultiConfig, MultiSession
from layerping.inet.v4 import IPV4, RULES, Ipv4HeaderWriter
from layerping.transport.base import Layer, SendOptions
from layerping.transport.batch import MmsgLinkIO
from layerping.transport.framing import framing_for
from layerping.transport.packet import PacketTransport
from layerping.wire.ethernet import EthernetFrame
from layerping.wire.ipv4 import Ipv4Packet

SOURCE = IPv4Address("192.0.2.2")
ROUTER = IPv4Address("192.0.2.1")
OWN_MAC = bytes.fromhex("020000000001")
ROUTER_MAC = bytes.fromhex("020000000002")
TARGETS = [int(IPv4Address("198.18.0.1")) + 255 * k for k in range(6)]
FIRST_IDENTIFICATION = 0xFFFD  # wraps inside the batch
OPTIONS = SendOptions(ttl=61, tos=0x10, pmtu="do")


class _RecordingSocket:
    """Stands in for the packet socket: keeps what send/sendto were given."""

    def __init__(self) -> None:
        self._real = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sent: list[tuple[bytes, object]] = []

    def fileno(self) -> int:
        return self._real.fileno()

    def send(self, data: bytes) -> int:
        self.sent.append((data, None))
        return len(data)

    def sendto(self, data: bytes, address: object) -> int:
        self.sent.append((data, address))
        return len(data)

    def setblocking(self, flag: bool) -> None:
        pass

    def close(self) -> None:
        self._real.close()


class _NextHops:
    def __init__(self) -> None:
        self.default = ROUTER_MAC
        self.macs: dict[int, bytes | str | None] = {}


def _plan() -> PathPlan:
    return PathPlan(
        destination=IPv4Address(TARGETS[0]),
        ifindex=2,
        ifname="lp-test0",
        source=SOURCE,
        src_mac=OWN_MAC,
        next_hop=ROUTER,
        gateway=ROUTER,
        next_hop_mac=ROUTER_MAC,
        neighbour_state=None,
        link_type=ARPHRD_ETHER,
        mtu=1500,
        has_link_header=True,
    )


def _transport(layer: Layer, sock: object) -> PacketTransport:
    transport = PacketTransport(
        _plan(), 0x4C50, OPTIONS, framing=framing_for(layer), family=IPV4, next_hop_mac=ROUTER_MAC,
        sock=sock,  # type: ignore[arg-type]
    )  # fmt: skip
    # Both paths' writers start where the other's does (a run draws this at random).
    transport.writer = Ipv4HeaderWriter(SOURCE, OPTIONS, 1500, first_identification=FIRST_IDENTIFICATION)
    return transport


@pytest.fixture(params=[Layer.IP, Layer.ETHERNET])
def layer(request: pytest.FixtureRequest) -> Iterator[Layer]:
    yield request.param


def _probes() -> tuple[MultiSession, list[bytes]]:
    """The ICMP messages of one batch, as the many-target session writes them."""
    config = MultiConfig(identifier=0x4C50, cookie=bytes(range(8)), rate_pps=1e9, retries=0)
    session = MultiSession(config, [(a, None) for a in TARGETS], 0, RULES)
    stride = len(session.template)
    buf = bytearray(stride * len(TARGETS))
    assert session.fill(0, len(TARGETS), buf, 0, stride, []) == len(TARGETS)
    return session, [bytes(buf[k * stride : (k + 1) * stride]) for k in range(len(TARGETS))]


def _single_path(layer: Layer, probes: list[bytes]) -> list[tuple[bytes, bytes]]:
    """(bytes given to the kernel, next-hop MAC of the link header) per probe, one send each."""
    sock = _RecordingSocket()
    transport = _transport(layer, sock)
    try:
        for icmp, target in zip(probes, TARGETS, strict=True):
            transport.send(icmp, IPv4Address(target))
    finally:
        transport.close()
    out = []
    for data, address in sock.sent:
        if layer is Layer.ETHERNET:
            assert address is None  # sent on the bound sockaddr_ll
            out.append((data, data[:6]))
        else:
            assert isinstance(address, tuple) and address[:2] == ("lp-test0", 0x0800)
            out.append((data, address[4]))
    return out


def _batch_path(layer: Layer, session: MultiSession, probes: list[bytes]) -> list[tuple[bytes, bytes]]:
    """The same, from one batch of MmsgLinkIO (its buffers read back, nothing sent)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    transport = _transport(layer, sock)
    io = MmsgLinkIO(transport, len(session.template), 1000.0, _NextHops(), capacity=len(TARGETS))
    try:
        io.prepare(session.template)
        tx_set = io._sets[io._current]
        for k, icmp in enumerate(probes):  # where MultiSession.fill writes them
            tx_set.view[k * io.stride + io.offset : k * io.stride + io.offset + len(icmp)] = icmp
        assert io._address(tx_set, len(TARGETS), list(TARGETS)) == {}
        out = []
        for k in range(len(TARGETS)):
            frame = bytes(tx_set.view[k * io.stride : k * io.stride + io.frame_len])
            if layer is Layer.ETHERNET:
                out.append((frame, frame[:6]))
            else:
                name = bytes(tx_set.names_view[k * tx_set.name_stride : k * tx_set.name_stride + 20])
                out.append((frame, name[12:18]))
        return out
    finally:
        io.close()
        transport.close()


def test_single_and_batch_paths_write_the_same_bytes(layer: Layer) -> None:
    session, probes = _probes()
    single = _single_path(layer, probes)
    batch = _batch_path(layer, session, probes)
    assert len(single) == len(batch) == len(TARGETS)
    for k, ((one, one_mac), (many, many_mac)) in enumerate(zip(single, batch, strict=True)):
        assert one == many, (layer, k)
        assert one_mac == many_mac == ROUTER_MAC
        # And the bytes are what they should be: a whole, valid datagram to target k.
        packet = EthernetFrame.parse(one).payload if layer is Layer.ETHERNET else one
        parsed = Ipv4Packet.parse(packet, verify=True)
        assert int(parsed.header.destination) == TARGETS[k]
        assert parsed.header.identification == (FIRST_IDENTIFICATION + k) & 0xFFFF
        assert (parsed.header.ttl, parsed.header.tos, parsed.header.source) == (61, 0x10, SOURCE)
        assert parsed.payload == probes[k]
