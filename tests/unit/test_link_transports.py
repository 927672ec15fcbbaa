"""Unit tests of the layer-2 transports' pure parts: header writer, local errors, checks.

The lab tests (tests/lab/test_layer2.py) cover the sockets on a real kernel.
"""

from __future__ import annotations

import errno
import os
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from layerping._linux import ARPHRD_ETHER, ARPHRD_LOOPBACK, ARPHRD_NONE
from layerping.discovery.plan import PathPlan
from layerping.errors import UsageError
from layerping.inet.v4 import (
    Ipv4HeaderWriter,
    forbids_fragmentation,
    host_unreachable,
)
from layerping.transport import factory
from layerping.transport.base import SendFailed, SendOptions
from layerping.wire.checksum import ones_complement_sum
from layerping.wire.icmpv4 import DestinationUnreachable, Echo, parse_icmpv4
from layerping.wire.ipv4 import Ipv4Header, Ipv4Packet

SOURCE = IPv4Address("192.0.2.2")
DESTINATION = IPv4Address("198.51.100.2")
ECHO = Echo.request(0x1234, 7, bytes(range(56))).build()
# version/IHL 45, TOS 00, total length 0054 | id 0000 | DF 4000 | TTL 40, ICMP 01 | checksum 4e71 |
# source c0000202 | destination c6336402. Checked once with tshark -o ip.check_checksum:TRUE
# (ip.checksum 0x4e71, ip.checksum.status 1 = good; icmp.checksum.status 1) and frozen here.
VECTOR_HEADER = bytes.fromhex("4500 0054 0000 4000 4001 4e71 c0000202 c6336402")


def writer(**kwargs: object) -> Ipv4HeaderWriter:
    options = SendOptions(
        ttl=int(kwargs.pop("ttl", 64)),  # type: ignore[call-overload]
        tos=int(kwargs.pop("tos", 0)),  # type: ignore[call-overload]
        pmtu=kwargs.pop("pmtu", None),  # type: ignore[arg-type]
    )
    return Ipv4HeaderWriter(SOURCE, options, int(kwargs.pop("mtu", 1500)), **kwargs)  # type: ignore[call-overload, arg-type]


def test_header_matches_the_wire_class_and_vector() -> None:
    w = writer(first_identification=0, pmtu="do")
    packet = w.packet(ECHO, DESTINATION)
    assert packet[:20] == VECTOR_HEADER
    parsed = Ipv4Packet.parse(packet, verify=True)
    assert parsed.payload == ECHO
    assert parsed.header.build(len(ECHO)) == packet[:20]


@pytest.mark.parametrize(
    "ttl,tos,pmtu,df", [(64, 0, "do", True), (1, 0xB8, "dont", False), (255, 4, "want", True)]
)
@pytest.mark.parametrize("first_identification", [0, 1, 0x7FFF, 0xFFFE])
def test_every_field_is_written(ttl: int, tos: int, pmtu: str, df: bool, first_identification: int) -> None:
    w = writer(ttl=ttl, tos=tos, pmtu=pmtu, first_identification=first_identification)
    seen = []
    for n in range(3):
        icmp = ECHO[: 8 + 17 * n]  # odd and even lengths
        packet = w.packet(icmp, DESTINATION)
        header = Ipv4Header.parse(packet, verify=True)  # raises on a wrong checksum
        assert ones_complement_sum(packet[:20]) == 0xFFFF
        assert (header.ttl, header.tos, header.protocol) == (ttl, tos, 1)
        assert header.dont_fragment is df and not header.more_fragments and header.fragment_offset == 0
        assert (header.source, header.destination) == (SOURCE, DESTINATION)
        assert header.total_length == 20 + len(icmp)
        assert header.ihl == 5
        seen.append(header.identification)
    assert seen == [(first_identification + n) & 0xFFFF for n in range(3)]


def test_identification_wraps_and_checksum_stays_right() -> None:
    w = writer(first_identification=0xFFFF)
    ids = [Ipv4Header.parse(w.packet(ECHO, DESTINATION), verify=True).identification for _ in range(2)]
    assert ids == [0xFFFF, 0]


def test_beyond_mtu_with_df_is_the_iputils_local_error() -> None:
    w = writer(pmtu="do", mtu=1500)
    w.packet(Echo.request(1, 1, bytes(1472)).build(), DESTINATION)  # 1500 bytes: fits
    with pytest.raises(SendFailed) as caught:
        w.packet(Echo.request(1, 1, bytes(1473)).build(), DESTINATION)
    assert caught.value.errno == errno.EMSGSIZE
    assert caught.value.text == "local error: message too long, mtu=1500"


def test_beyond_mtu_without_df_says_we_do_not_fragment() -> None:
    w = writer(pmtu="dont", mtu=576)
    with pytest.raises(SendFailed, match="does not fragment"):
        w.packet(Echo.request(1, 1, bytes(549)).build(), DESTINATION)


def test_forbids_fragmentation() -> None:
    assert forbids_fragmentation("do") and forbids_fragmentation("probe")
    assert not any(forbids_fragmentation(p) for p in (None, "want", "dont"))


def test_host_unreachable_quotes_the_probe() -> None:
    packet = writer(first_identification=9).packet(ECHO, DESTINATION)
    inbound = host_unreachable(packet, SOURCE, 123)
    message = parse_icmpv4(inbound.icmp, verify=True)
    assert isinstance(message, DestinationUnreachable)
    assert message.code == 1
    assert message.quoted.build(len(ECHO)) == packet[:20]
    assert message.quoted_payload == ECHO[:8]
    assert message.quoted_echo == (8, 0x1234, 7)
    assert (inbound.src, inbound.rx_ns, inbound.local_error, inbound.ip_checksum_ok) == (
        SOURCE,
        123,
        True,
        True,
    )
    raw = Ipv4Packet.parse(inbound.raw, verify=True)
    assert (raw.header.source, raw.header.destination, raw.payload) == (SOURCE, SOURCE, inbound.icmp)


def plan(**kwargs: object) -> PathPlan:
    fields: dict[str, object] = dict(
        destination=DESTINATION,
        ifindex=2,
        ifname="c0",
        source=SOURCE,
        src_mac=bytes.fromhex("020000000001"),
        next_hop=IPv4Address("192.0.2.1"),
        gateway=IPv4Address("192.0.2.1"),
        next_hop_mac=bytes.fromhex("020000000002"),
        neighbour_state=0x02,
        link_type=ARPHRD_ETHER,
        mtu=1500,
        has_link_header=True,
    )
    fields.update(kwargs)
    return PathPlan(**fields)  # type: ignore[arg-type]


class _Config:
    def __init__(self, payload_size: int = 56, pmtu: str | None = None, src_mac: bytes | None = None) -> None:
        self.payload_size = payload_size
        self.pmtu = pmtu
        self.src_mac = src_mac


def test_check_plan_refuses_ethernet_without_mac() -> None:
    from layerping.transport.base import Layer

    tun = plan(ifname="tun0", src_mac=None, next_hop_mac=None, link_type=ARPHRD_NONE, has_link_header=False)
    with pytest.raises(UsageError, match="--layer ip"):
        factory.check_plan(tun, Layer.ETHERNET, _Config())  # type: ignore[arg-type]
    factory.check_plan(tun, Layer.IP, _Config())  # type: ignore[arg-type]


def test_check_plan_mtu_policy() -> None:
    from layerping.transport.base import Layer

    factory.check_plan(plan(), Layer.IP, _Config(1472))  # type: ignore[arg-type]
    factory.check_plan(plan(), Layer.IP, _Config(1473, "do"))  # type: ignore[arg-type]  # per-probe error
    for pmtu in (None, "want", "dont"):
        with pytest.raises(UsageError, match="does not fragment"):
            factory.check_plan(plan(), Layer.ETHERNET, _Config(1473, pmtu))  # type: ignore[arg-type]


def test_check_plan_src_mac_needs_ethernet() -> None:
    from layerping.transport.base import Layer

    with pytest.raises(UsageError, match="--src-mac needs --layer ethernet"):
        factory.check_plan(plan(), Layer.IP, _Config(src_mac=bytes(6)))  # type: ignore[arg-type]


def _fake_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    real_open = open

    def fake_open(path: str, *args: object, **kwargs: object) -> object:
        if str(path).startswith("/proc/sys/net/ipv4/"):
            key = str(path).removeprefix("/proc/sys/net/ipv4/")
            if key not in values:
                raise FileNotFoundError(path)
            file = tmp_path / key.replace("/", "_")
            file.write_text(values[key] + "\n")
            return real_open(file)
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", fake_open)


@pytest.mark.parametrize(
    "values,missing",
    [
        ({}, ["accept_local", "route_localnet"]),
        ({"conf/all/accept_local": "1"}, ["route_localnet"]),
        ({"conf/lo/accept_local": "1", "conf/all/route_localnet": "1"}, []),
        ({"conf/all/accept_local": "1", "conf/lo/route_localnet": "1"}, []),
    ],
)
def test_local_delivery_check_on_127(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, values: dict[str, str], missing: list[str]
) -> None:
    lo = plan(
        destination=IPv4Address("127.0.0.1"),
        ifname="lo",
        ifindex=1,
        source=IPv4Address("127.0.0.1"),
        src_mac=bytes(6),
        next_hop=IPv4Address("127.0.0.1"),
        gateway=None,
        next_hop_mac=bytes(6),
        link_type=ARPHRD_LOOPBACK,
        mtu=65536,
        route_type=2,
    )
    _fake_proc(tmp_path, monkeypatch, values)
    if not missing:
        factory.check_local_delivery(lo)
        return
    with pytest.raises(UsageError) as caught:
        factory.check_local_delivery(lo)
    text = str(caught.value)
    for name in ("accept_local", "route_localnet"):
        assert (f"net.ipv4.conf.lo.{name}=1" in text) is (name in missing)
    assert "\n" not in text


def test_local_delivery_check_ignores_remote_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_proc(tmp_path, monkeypatch, {})
    factory.check_local_delivery(plan())


def test_arp_bounds_follow_the_interface_sysctls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_proc(tmp_path, monkeypatch, {"neigh/c0/mcast_solicit": "2", "neigh/c0/retrans_time_ms": "250"})
    assert factory.arp_bounds("c0", None, None) == (2, 0.25)
    assert factory.arp_bounds("c0", 5, 0.1) == (5, 0.1)
    assert factory.arp_bounds("missing0", None, None) == (3, 1.0)
    assert factory.arp_bounds("c0", 10_000, 3600.0) == (10, 10.0)  # bounded whatever the sysctl says


def test_loopback_towards_another_host_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lo_remote = plan(
        ifname="lo", ifindex=1, src_mac=bytes(6), next_hop_mac=bytes(6), link_type=ARPHRD_LOOPBACK
    )
    _fake_proc(tmp_path, monkeypatch, {"conf/all/accept_local": "1", "conf/all/route_localnet": "1"})
    with pytest.raises(UsageError, match="not an address of this host"):
        factory.check_local_delivery(lo_remote)


class _OneFrameSocket:
    """Hands ``recvmsg`` one frame with a SO_TIMESTAMPNS stamp, then has nothing more."""

    def __init__(self, frame: bytes, pkttype: int = 0) -> None:
        import socket
        import struct

        stamp = (socket.SOL_SOCKET, 35, struct.pack("@qq", 1, 2))
        self.pending = [(frame, [stamp], 0, ("c0", 0x0800, pkttype, 1, bytes(6)))]

    def recvmsg(self, bufsize: int, ancbufsize: int) -> object:
        if not self.pending:
            raise BlockingIOError
        return self.pending.pop()


def _unframe(frame: bytes, offset: int, pkttype: int = 0) -> object:
    """Run the receive path's reduction on ``frame`` with a stand-in socket: recv() as it runs."""
    from layerping.inet.v4 import Ipv4Unframer
    from layerping.transport.packet import PacketTransport
    from layerping.transport.packet_socket import LocalErrors

    transport = PacketTransport.__new__(PacketTransport)
    transport.ifindex = 2
    transport._unframer = Ipv4Unframer()
    transport.writer = writer()
    transport._ethertype = 0x0800
    transport._local = LocalErrors()
    transport._resolver = None
    transport._just_read = False
    transport._ring = None
    transport._link_header_len = offset
    transport.sock = _OneFrameSocket(frame, pkttype)  # type: ignore[assignment]
    try:
        return transport.recv()
    finally:
        transport._local.close()


def test_unframe_reduces_a_reply_and_flags_a_bad_ip_checksum() -> None:
    from layerping.transport.base import Inbound

    reply = Echo.reply(0x1234, 7, bytes(56)).build()
    packet = writer(first_identification=5).packet(reply, DESTINATION)
    ethernet = bytes(12) + b"\x08\x00"
    for offset, frame in (
        (0, packet),
        (14, ethernet + packet),
        (14, ethernet + packet + bytes(30)),
    ):  # padded
        inbound = _unframe(frame, offset)
        assert isinstance(inbound, Inbound)
        assert inbound.icmp == reply and inbound.raw == frame
        assert (inbound.src, inbound.dst, inbound.ttl, inbound.rx_ns) == (
            SOURCE,
            DESTINATION,
            64,
            1_000_000_002,
        )
        assert inbound.ip_checksum_ok is True
    bad = bytearray(packet)
    bad[11] ^= 0x01  # header checksum off by one bit
    inbound = _unframe(bytes(bad), 0)
    assert isinstance(inbound, Inbound) and inbound.ip_checksum_ok is False and inbound.icmp == reply


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p[:30],  # shorter than Total Length says
        lambda p: p[:10],  # not even a header
        lambda p: bytes([0x65]) + p[1:],  # version 6
        lambda p: bytes([0x44]) + p[1:],  # IHL 4
        lambda p: p[:6] + b"\x20\x00" + p[8:],  # More Fragments: a first fragment
        lambda p: p[:6] + b"\x00\x10" + p[8:],  # a later fragment
        lambda p: p[:9] + b"\x11" + p[10:],  # UDP
    ],
)
def test_unframe_skips_what_is_not_a_whole_icmp_datagram(mutate: object) -> None:
    packet = writer().packet(Echo.reply(1, 1, bytes(56)).build(), DESTINATION)
    assert _unframe(packet, 0) is not None
    assert _unframe(mutate(packet), 0) is None  # type: ignore[operator]


def test_recv_skips_our_own_outgoing_copies() -> None:
    from layerping._linux import PACKET_OUTGOING

    packet = writer().packet(Echo.reply(1, 1, bytes(56)).build(), DESTINATION)
    assert _unframe(packet, 0, pkttype=PACKET_OUTGOING) is None


def test_link_header_is_written_in_front_of_the_same_packet() -> None:
    link_header = bytes.fromhex("020000000002 020000000001 0800")
    framed = writer(first_identification=7, pmtu="do").packet(ECHO, DESTINATION, link_header)
    plain = writer(first_identification=7, pmtu="do").packet(ECHO, DESTINATION)
    assert framed == link_header + plain
    assert ones_complement_sum(framed[14:34]) == 0xFFFF


def test_close_concurrently_calls_every_closer_once_and_overlaps_them() -> None:
    import threading
    import time

    from layerping.transport.packet_socket import close_concurrently

    calls: list[int] = []
    started = threading.Barrier(3, timeout=5)

    def closer(number: int) -> None:
        calls.append(number)
        started.wait()  # returns only when all three run at once: closers overlap
        time.sleep(0.01)

    close_concurrently([lambda n=n: closer(n) for n in range(3)])  # type: ignore[misc]
    assert sorted(calls) == [0, 1, 2]
    close_concurrently([])  # nothing to close is fine
    single: list[int] = []
    close_concurrently([lambda: single.append(1)])
    assert single == [1]


class _FakeResolver:
    def __init__(self) -> None:
        self.closed = 0
        self.frames: list[tuple[int, bool, bytes]] = []
        self._r, self._w = os.pipe()

    def fileno(self) -> int:
        return self._r

    def send_request(self, target_ip: IPv4Address) -> None:
        pass

    def handle_readable(self) -> dict[IPv4Address, bytes]:
        return {}

    def close(self) -> None:
        if not self.closed:
            os.close(self._r)
            os.close(self._w)
        self.closed += 1


@pytest.mark.parametrize("answered", [True, False])
def test_factory_opens_one_socket_first_and_closes_nothing_before_the_run(
    monkeypatch: pytest.MonkeyPatch, answered: bool
) -> None:
    """Closing a packet socket costs an RCU grace period: none is opened only to be closed.

    The transport's socket is opened before ARP (so a missing privilege is reported first); the
    resolver stays open, whether or not it got an answer, and both close with the transport."""
    import socket

    from layerping.api import PingConfig, Target
    from layerping.discovery import plan as plan_module
    from layerping.transport.base import Layer

    order: list[str] = []
    opened: list[socket.socket] = []
    resolver = _FakeResolver()

    def fake_open_link_socket(*args: object) -> socket.socket:
        order.append("socket")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # stands in for the packet socket
        opened.append(sock)
        return sock

    def fake_resolve(*args: object) -> tuple[bytes | None, _FakeResolver, list[tuple[int, bool, bytes]]]:
        order.append("arp")
        return (bytes.fromhex("020000000002") if answered else None), resolver, []

    unresolved = plan(next_hop_mac=None, neighbour_state=None)
    monkeypatch.setattr(plan_module, "plan_path", lambda *a, **k: unresolved)
    monkeypatch.setattr(factory, "open_link_socket", fake_open_link_socket)
    monkeypatch.setattr(factory, "resolve_next_hop", fake_resolve)
    config = PingConfig(destination=str(DESTINATION), layer=Layer.ETHERNET)
    target = Target(name=str(DESTINATION), address=DESTINATION, is_numeric=True)
    transport, source = factory.open_link_transport(config, target, 0x1234, SendOptions(ttl=64))
    assert order == ["socket", "arp"] and source == SOURCE
    assert transport.sock is opened[0]  # type: ignore[attr-defined]
    assert resolver.closed == 0 and opened[0].fileno() >= 0
    transport.close()
    assert resolver.closed == 1 and opened[0].fileno() == -1
