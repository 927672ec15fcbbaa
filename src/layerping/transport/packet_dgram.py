"""``--layer ip``: we write the IPv4 header, the kernel writes the link header.

Sending uses an ``AF_PACKET``/``SOCK_DGRAM`` socket (packet(7)): ``sendto(packet, (ifname,
ETH_P_IP, 0, 0, next_hop_mac))`` is Python's ``struct sockaddr_ll`` (sll_ifindex from the name,
sll_protocol, sll_pkttype, sll_hatype, sll_addr). The kernel calls the device's
``header_ops->create`` with ``sll_addr`` as the destination: a 14-byte Ethernet header on
Ethernet and loopback, nothing at all on a tun device in IFF_TUN mode (ARPHRD_NONE), where
there is no hardware address and ``sll_halen`` is 0.

The same socket, bound to the interface and ``ETH_P_IP``, receives, with a
classic BPF program (:func:`layerping.transport.bpf.icmp_filter`) so only our echo replies and
ICMP errors quoting our probes are queued; ``PACKET_OUTGOING`` copies are refused twice (the
``PACKET_IGNORE_OUTGOING`` option where the kernel has it, and the filter). On loopback every
packet is seen once more as ``PACKET_HOST`` when it comes back in: only that copy counts, and
only replies pass the filter. Receive timestamps come from ``SO_TIMESTAMPNS`` (CLOCK_REALTIME,
stamped when the frame entered the stack), send timestamps from ``time.time_ns()`` right
before ``sendto``, so an RTT never mixes clocks.

Fragmentation: layerping does not fragment. The fragmentation procedure of RFC 791 §3.2 is
left out on purpose (RFC 8900 explains why fragments are best avoided, and reassembling replies
would mean buffering other hosts' fragments in Python). A probe larger than the interface MTU is
refused: with ``-M do`` (or
``probe``) as iputils reports it, ``local error: message too long, mtu=N`` for every probe;
without DF the factory refuses the run up front with one line (exit 2) and :meth:`send` raises
the same :class:`SendFailed` should a library caller get there anyway. Received IPv4 fragments
are ignored (the BPF program drops non-first fragments, :meth:`recv` drops first fragments),
so a reply the path fragmented is counted as lost, never as corrupted.

Neighbour not resolved: when ARP (RFC 826) got no answer before the run, every probe is
answered locally with the ICMP Destination Host Unreachable the kernel would have generated
(from our own source address, quoting our probe: RFC 792, RFC 1812 §4.3.2.3), delivered
through the same :meth:`fileno`/:meth:`recv` path. :meth:`fileno` is an epoll descriptor over
the receive socket and an eventfd, so it becomes readable for either (epoll(7): an epoll file
descriptor is itself pollable).
"""

from __future__ import annotations

import collections
import errno
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Final, Protocol

from layerping import _linux
from layerping.errors import (
    PACKET_PERMISSION_HINT,
    LayerpingError,
    PermissionDenied,
    TransportError,
    UsageError,
)
from layerping.transport import bpf
from layerping.transport.base import Inbound, Layer, SendFailed, SendOptions
from layerping.wire.checksum import ones_complement_sum
from layerping.wire.icmpv4 import DestinationUnreachable, UnreachableCode
from layerping.wire.ipv4 import FLAG_DF, IPPROTO_ICMP, Ipv4Header, Ipv4Packet
from layerping.wire.linktype import LINKTYPE_ETHERNET, LINKTYPE_RAW

if TYPE_CHECKING:
    from layerping.discovery.plan import PathPlan
    from layerping.transport.ring import RxRing

    class NeighbourResolver(Protocol):
        """What the transport needs of :class:`layerping.discovery.arp.ArpResolver` (kept
        abstract so the transport layer does not import discovery). Only type checkers see
        it: defining a Protocol class costs 0.05 to 0.1 ms of every start at the link layers."""

        def fileno(self) -> int: ...

        def send_request(self, target_ip: IPv4Address) -> None: ...

        def handle_readable(self) -> dict[IPv4Address, bytes]: ...

        def close(self) -> None: ...

#: version/IHL, TOS, total length, identification, flags/fragment offset, TTL, protocol,
#: header checksum, source, destination (RFC 791 §3.1). The probe header has no options.
_IP_HEADER: Final = struct.Struct("!BBHHHBBH4s4s")
IP_HEADER_LEN: Final = _IP_HEADER.size
#: What a received header is read for: version/IHL, Total Length, flags/offset, TTL, protocol,
#: source, destination (TOS, Identification and the checksum are skipped).
_RECEIVED_HEADER: Final = struct.Struct("!BxHxxHBBxx4s4s")
_TIMESPEC: Final = struct.Struct("@qq")
_TIMESPEC_LEN: Final = _TIMESPEC.size
_ANCILLARY_SPACE: Final = socket.CMSG_SPACE(_TIMESPEC.size)
_SOL_SOCKET: Final = int(socket.SOL_SOCKET)
_MSG_TRUNC: Final = int(socket.MSG_TRUNC)  # a plain int: IntFlag's __and__ costs a µs per packet
#: More Fragments and Fragment Offset in the flags/offset word (RFC 791 §3.1): any set = fragment.
_FRAGMENT_BITS: Final = 0x2000 | 0x1FFF
_PACKET_OUTGOING: Final = _linux.PACKET_OUTGOING
_SCM_TIMESTAMPNS: Final = _linux.SCM_TIMESTAMPNS
#: Largest IPv4 datagram (Total Length is 16 bits) plus a link header, with room to spare.
RECV_BUFFER: Final = 0xFFFF + 64
_MAX_PACKETS_PER_RECV: Final = 64  # recv() skips at most this many foreign packets per call
_MAX_SYNTHESIZED: Final = 4096  # bound on queued locally generated errors
#: Receive ring of fast runs: about as much memory as FAST_RECEIVE_BUFFER, in whole frames.
_RING_BYTES: Final = 4 << 20
_RING_MIN_FRAMES: Final = 16
_RING_MAX_FRAMES: Final = 4096

#: While the next hop is unresolved, ask again at most this often (the kernel's retrans_time).
REQUEST_INTERVAL_NS: Final = 1_000_000_000


PERMISSION_HINT: Final = PACKET_PERMISSION_HINT


def pmtu_sets_df(pmtu: str | None) -> bool:
    """Whether our probes carry Don't Fragment, as the kernel decides for a raw socket.

    ``-M do``/``probe``/``want`` set DF (ip(7) ``IP_MTU_DISCOVER``); ``dont`` clears it.
    Without ``-M`` the kernel's default for raw sockets is ``IP_PMTUDISC_WANT`` (DF set)
    unless ``net.ipv4.ip_no_pmtu_disc`` is non-zero (ip-sysctl.rst), and so is ours.
    """
    if pmtu is not None:
        return pmtu != "dont"
    try:
        with open("/proc/sys/net/ipv4/ip_no_pmtu_disc") as f:
            return int(f.read().strip() or "0") == 0
    except (OSError, ValueError):
        return True


def forbids_fragmentation(pmtu: str | None) -> bool:
    """``-M do``/``probe``: the kernel would refuse an oversized probe with EMSGSIZE (ip(7)).

    With ``want``, ``dont`` or no ``-M`` the kernel would fragment it; layerping refuses instead.
    """
    return pmtu in ("do", "probe")


def too_long_text(mtu: int, strict_df: bool) -> str:
    """The one-line reason for a probe larger than the MTU (iputils' words under ``-M do``)."""
    if strict_df:
        return f"local error: message too long, mtu={mtu}"
    return f"local error: message too long, mtu={mtu} (layerping does not fragment)"


class Ipv4HeaderWriter:
    """Writes the IPv4 header of every probe (RFC 791 §3.1), as the kernel does for raw sockets.

    The constant fields come from an :class:`Ipv4Header` built once per destination; each
    packet only changes Identification and Total Length, so the header checksum is that
    template's sum plus those two words, folded and complemented (RFC 1071 §1, RFC 1624).
    Identification counts up from a random start, a different value per datagram as RFC 791
    asks and RFC 6864 §4.2 allows for atomic datagrams.
    """

    def __init__(
        self,
        source: IPv4Address,
        options: SendOptions,
        mtu: int,
        *,
        dont_fragment: bool | None = None,
        first_identification: int | None = None,
    ) -> None:
        self.source = source
        self.ttl = options.ttl
        self.tos = options.tos
        self.mtu = mtu
        self.dont_fragment = pmtu_sets_df(options.pmtu) if dont_fragment is None else dont_fragment
        self.flags = FLAG_DF if self.dont_fragment else 0
        if first_identification is None:
            first_identification = int.from_bytes(os.urandom(2), "big")
        self._next_identification = first_identification & 0xFFFF
        self._too_long = too_long_text(mtu, forbids_fragmentation(options.pmtu))
        self._templates: dict[IPv4Address, tuple[int, bytes]] = {}
        # The bytes no probe changes: version 4 with IHL 5 words (no options) and TOS; flags with
        # a zero fragment offset, TTL and protocol (RFC 791 §3.1).
        self._version_tos = bytes((0x45, self.tos))
        self._flags_ttl_protocol = struct.pack("!HBB", self.flags << 13, self.ttl, IPPROTO_ICMP)
        # The last destination and its template: ``is`` beats hashing an IPv4Address per probe.
        self._last: tuple[IPv4Address | None, int, bytes] = (None, 0, b"")

    def template(self, destination: IPv4Address) -> Ipv4Header:
        """The header of a probe to ``destination`` with Identification and lengths left 0."""
        return Ipv4Header(
            tos=self.tos,
            identification=0,
            flags=self.flags,
            fragment_offset=0,
            ttl=self.ttl,
            protocol=IPPROTO_ICMP,
            source=self.source,
            destination=destination,
            total_length=0,
            checksum=0,
        )

    def _constant(self, destination: IPv4Address) -> tuple[int, bytes]:
        """The sum of the template header for ``destination``, and its source+destination bytes."""
        cached = self._templates.get(destination)
        if cached is None:
            cached = (
                ones_complement_sum(self.template(destination).build()),
                self.source.packed + destination.packed,
            )
            self._templates[destination] = cached
        return cached

    def packet(self, icmp: bytes, destination: IPv4Address, link_header: bytes = b"") -> bytes:
        """``link_header``, our IPv4 header and ``icmp``; raises :class:`SendFailed` beyond the MTU.

        One ``pack`` writes the link header and the IPv4 header together: this runs for every
        probe, and each concatenation or call costs as much as the header's arithmetic.
        """
        total_length = IP_HEADER_LEN + len(icmp)
        if total_length > self.mtu:
            raise SendFailed(errno.EMSGSIZE, self._too_long)
        identification = self._next_identification
        self._next_identification = (identification + 1) & 0xFFFF
        last_destination, constant_sum, addresses = self._last
        if destination is not last_destination:
            constant_sum, addresses = self._constant(destination)
            self._last = (destination, constant_sum, addresses)
        # The header checksum (RFC 791 §3.1) from the template's sum and the two changing words:
        # for a sum s > 0 the end-around-carry fold is (s - 1) % 0xffff + 1 (RFC 1624), and the
        # field is its complement.
        checksum = 0xFFFE - (constant_sum + total_length + identification - 1) % 0xFFFF
        layout = _FRAMED_HEADERS.get(len(link_header)) or _framed_header(len(link_header))
        return (
            layout.pack(
                link_header,
                self._version_tos,
                total_length,
                identification,
                self._flags_ttl_protocol,
                checksum,
                addresses,
            )
            + icmp
        )


#: A link header of N bytes, then the IPv4 header as Ipv4HeaderWriter.packet fills it: version/IHL
#: and TOS, Total Length, Identification, flags/offset with TTL and protocol, checksum, addresses.
_FRAMED_HEADERS: Final[dict[int, struct.Struct]] = {}


def _framed_header(link_header_len: int) -> struct.Struct:
    layout = _FRAMED_HEADERS[link_header_len] = struct.Struct(f"!{link_header_len}s2sHH4sH8s")
    return layout


def open_packet_socket(kind: int, layer: str) -> socket.socket:
    """An unbound ``AF_PACKET`` socket of ``kind`` (protocol 0: it receives nothing yet)."""
    try:
        return socket.socket(socket.AF_PACKET, kind | socket.SOCK_CLOEXEC, 0)
    except PermissionError:
        raise PermissionDenied(
            layer, f"no permission for a packet socket (--layer {layer})", PERMISSION_HINT
        ) from None


def close_concurrently(closers: Iterable[Callable[[], None]]) -> None:
    """Call every ``close`` at once, each on a thread of its own but the first.

    Closing a packet socket waits for an RCU grace period (``synchronize_net()`` in
    ``packet_release``, net/packet/af_packet.c): 8 to 24 ms per socket measured on this kind of
    machine, while a raw or UDP socket closes in microseconds. Closed one after another, a run
    with a resolver and a transport would wait twice; closed together the waits overlap
    (``socket.close`` releases the GIL).
    """
    pending = list(closers)
    if len(pending) > 1:
        threads = [threading.Thread(target=close, daemon=True) for close in pending[1:]]
        for thread in threads:
            thread.start()
        pending[0]()
        for thread in threads:
            thread.join()
    elif pending:
        pending[0]()


def open_link_socket(
    plan: PathPlan, identifier: int, kind: int, layer: str, receive_buffer: int | None
) -> socket.socket:
    """A packet socket that queues only our replies and the ICMP errors quoting our probes.

    Filter first, then bind: a packet socket with protocol 0 receives nothing, so no foreign
    packet can be queued before the BPF program is in place (packet(7)).
    """
    sock = open_packet_socket(kind, layer)
    try:
        link_header_len = 14 if kind == socket.SOCK_RAW and plan.has_link_header else 0
        sock.setsockopt(socket.SOL_SOCKET, _linux.SO_TIMESTAMPNS, 1)
        try:
            # Linux 4.20+: never queue PACKET_OUTGOING copies (the filter rejects them too).
            sock.setsockopt(_linux.SOL_PACKET, _linux.PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            pass
        if receive_buffer:
            try:
                sock.setsockopt(socket.SOL_SOCKET, _linux.SO_RCVBUFFORCE, receive_buffer)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        program = bpf.icmp_filter(
            identifier,
            link_header_len=link_header_len,
            check_ethertype=link_header_len == 14,
            reject_outgoing=True,
        )
        bpf.attach_filter(sock, program)
        bind_packet_socket(sock, plan.ifname, layer)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def bind_packet_socket(sock: socket.socket, ifname: str, layer: str) -> None:
    """Bind to ``ifname`` for ETH_P_IP; a vanished interface becomes a one-line error."""
    try:
        sock.bind((ifname, _linux.ETH_P_IP))
    except OSError as exc:
        if exc.errno in (errno.ENODEV, errno.ENXIO):
            raise UsageError(
                f"interface {ifname!r} does not exist", "see `ip link` for the interfaces"
            ) from None
        if exc.errno == errno.ENETDOWN:
            raise UsageError(
                f"interface {ifname} is down", f"bring it up with `ip link set {ifname} up`"
            ) from None
        raise TransportError(
            f"cannot bind a packet socket to {ifname} (--layer {layer}): {exc.strerror}"
        ) from None


class _LocalErrors:
    """Locally generated ICMP errors waiting for :meth:`recv`, with an eventfd that says so."""

    def __init__(self) -> None:
        self.queue: collections.deque[Inbound] = collections.deque(maxlen=_MAX_SYNTHESIZED)
        self.eventfd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    def push(self, inbound: Inbound) -> None:
        self.queue.append(inbound)
        os.eventfd_write(self.eventfd, 1)

    def pop(self) -> Inbound | None:
        if self.queue:
            return self.queue.popleft()
        try:
            os.eventfd_read(self.eventfd)  # queue empty: stop being readable
        except BlockingIOError:
            pass
        return None

    def close(self) -> None:
        os.close(self.eventfd)


def host_unreachable(probe: bytes, source: IPv4Address, rx_ns: int) -> Inbound:
    """The ICMP Destination Host Unreachable our own host sends when ARP fails.

    RFC 1812 §4.3.2.3 and RFC 792: it quotes the probe's IPv4 header and the first 8 bytes
    after it, and comes from our source address; iputils prints it as ``From <source>
    icmp_seq=N Destination Host Unreachable``.
    """
    quoted = Ipv4Header.parse(probe)
    quoted_payload = probe[quoted.header_length : quoted.header_length + 8]
    icmp = DestinationUnreachable(UnreachableCode.HOST, quoted, quoted_payload).build()
    header = Ipv4Header(
        tos=0xC0,  # Internet Control, as Linux marks ICMP errors (RFC 1812 §4.3.2.5)
        identification=0,
        flags=0,
        fragment_offset=0,
        ttl=64,
        protocol=IPPROTO_ICMP,
        source=source,
        destination=source,
    )
    raw = Ipv4Packet(header, icmp).build()
    return Inbound(
        icmp=icmp,
        src=source,
        dst=source,
        ttl=None,
        rx_ns=rx_ns,
        raw=raw,
        ip_checksum_ok=True,
        local_error=True,
    )


class PacketDgramTransport:
    """``--layer ip``: our IPv4 header over ``AF_PACKET``/``SOCK_DGRAM`` (packet(7)).

    ``next_hop_mac`` is the destination of the link header the kernel writes: the next hop's
    MAC on Ethernet, zeros on loopback, None on links without hardware addresses. On an
    Ethernet link ``None`` means ARP failed: every probe then produces a local Destination
    Host Unreachable instead of going out. With a ``resolver`` the transport keeps asking
    (one ARP request per probe, at most one per second, as the kernel re-resolves a FAILED
    neighbour when a new packet needs it) and sends normally from the first answer on.
    """

    layer: Layer = Layer.IP
    kernel_owns_id = False
    #: How ``--pcap`` frames this layer: ``Inbound.raw`` and :attr:`last_sent` are IPv4 packets, but
    #: on a link with an Ethernet header (``plan.has_link_header``) the file is Ethernet: the
    #: kernel writes that header from what we gave it (:attr:`sent_link_header`), and the one it
    #: removed on receive is rebuilt from the sockaddr_ll (:meth:`received_link_header`).
    pcap_linktype: int = LINKTYPE_RAW
    #: What precedes the IPv4 header in what we write: nothing here (the kernel writes it).
    link_header: bytes = b""
    _socket_kind = socket.SOCK_DGRAM
    _link_header_len = 0
    #: Send with send(2) on the bound sockaddr_ll, not sendto: Python's sendto looks the
    #: interface name up (SIOCGIFINDEX) on every call. Only a raw socket can: at SOCK_DGRAM the
    #: destination MAC for the kernel's link header travels in the sendto address.
    _send_on_bound_address = False

    def __init__(
        self,
        plan: PathPlan,
        identifier: int,
        options: SendOptions,
        *,
        next_hop_mac: bytes | None = None,
        resolver: NeighbourResolver | None = None,
        receive_buffer: int | None = None,
        dont_fragment: bool | None = None,
        sock: socket.socket | None = None,
        rx_ring: bool = False,
    ) -> None:
        """``rx_ring`` receives through a ring shared with the kernel (:mod:`.ring`): for fast
        runs (``-f``, short intervals), since setting one up and tearing it down each costs an
        RCU grace period (``synchronize_net`` in ``packet_set_ring``: 8 to 25 ms here).

        ``sock``, when given, is the socket :func:`open_link_socket` opened for this plan and
        ``identifier`` (the factory opens it first, so a missing privilege is reported before
        ARP); the transport owns it from here on. A ``resolver`` that has already done its work
        is kept open until :meth:`close`, for the reason :func:`close_concurrently` gives."""
        self.plan = plan
        self.identifier = identifier
        self.ifname = plan.ifname
        self.ifindex = plan.ifindex
        self.source = plan.source
        self.writer = Ipv4HeaderWriter(plan.source, options, plan.mtu, dont_fragment=dont_fragment)
        self._check_link()
        self.next_hop_mac: bytes | None = None
        self._address_tuple: tuple[str, int, int, int, bytes] | tuple[str, int] = (
            plan.ifname,
            _linux.ETH_P_IP,
        )
        self.unresolved = False
        self._set_next_hop_mac(next_hop_mac)
        self._resolver = resolver if self.unresolved else None
        #: Resolvers done with: closed with the socket in :meth:`close`, never in the middle of a run.
        self._retired: list[NeighbourResolver] = []
        if resolver is not None and self._resolver is None:
            self._retired.append(resolver)  # nothing left to resolve
        self._last_request_ns: int | None = None
        self._local = _LocalErrors()
        self._epoll = select.epoll(3, select.EPOLL_CLOEXEC)
        self._just_read = False
        self._ring: RxRing | None = None
        self._empty_ring_reads = 0
        self.sock: socket.socket | None = sock
        try:
            if self.sock is None:
                self.sock = open_link_socket(
                    plan, identifier, self._socket_kind, self.layer.value, receive_buffer
                )
            if rx_ring:
                from layerping.transport.ring import RxRing, frame_size_for

                frame_size = frame_size_for(plan.mtu)
                frames = max(_RING_MIN_FRAMES, min(_RING_MAX_FRAMES, _RING_BYTES // frame_size))
                self._ring = RxRing(self.sock, frame_size, frames)
            self._epoll.register(self.sock.fileno(), select.EPOLLIN)
            self._epoll.register(self._local.eventfd, select.EPOLLIN)
            if self._resolver is not None:
                self._epoll.register(self._resolver.fileno(), select.EPOLLIN)
        except BaseException:
            self.close()
            raise
        self._addresses: dict[bytes, IPv4Address] = {}
        #: The packet or frame the last :meth:`send` wrote (for -v and --pcap); while the next
        #: hop is unresolved, the one it would have written.
        self.last_sent = b""
        #: ARP frames our resolver sent and accepted for this path, (CLOCK_REALTIME ns, outgoing,
        #: frame): set by the factory, shown by ``-v`` and written by ``--pcap``.
        self.arp_frames: list[tuple[int, bool, bytes]] = []
        if self._socket_kind == socket.SOCK_DGRAM and plan.has_link_header:
            self.pcap_linktype = LINKTYPE_ETHERNET
        #: sockaddr_ll of the packet :meth:`recv` returned last: (ifname, protocol, pkttype, hatype, addr).
        self.last_address: tuple[str, int, int, int, bytes] | None = None

    # -- opening ---------------------------------------------------------------------------------
    def _check_link(self) -> None:
        """Layer ip works on any link; the ethernet layer narrows this."""

    def _set_next_hop_mac(self, next_hop_mac: bytes | None) -> None:
        """Where frames go from now on; None on a link with hardware addresses = unresolved."""
        self.next_hop_mac = next_hop_mac
        self._sent_link_header: bytes | None = None  # built again when first asked for
        self.unresolved = self.plan.has_link_header and next_hop_mac is None
        if next_hop_mac is None:
            self._address_tuple = (self.plan.ifname, _linux.ETH_P_IP)  # sll_halen 0 (tun, ppp)
        else:
            self._address_tuple = (self.plan.ifname, _linux.ETH_P_IP, 0, 0, next_hop_mac)

    @property
    def sent_link_header(self) -> bytes:
        """The Ethernet header the kernel writes in front of what :meth:`send` gives it: empty
        where it writes none (a raw socket, a link without hardware addresses, no next hop)."""
        header = self._sent_link_header
        if header is None:
            header = self._sent_link_header = self._build_sent_link_header()
        return header

    def _build_sent_link_header(self) -> bytes:
        next_hop_mac = self.next_hop_mac
        if self._socket_kind != socket.SOCK_DGRAM or not self.plan.has_link_header or next_hop_mac is None:
            return b""
        # What the device's header_ops->create writes: sll_addr, the device's address, IPv4.
        # Only -v and --pcap ask (once per probe: hence the cache), so the Ethernet module is
        # imported here, not at every start.
        from layerping.wire.ethernet import ZERO_MAC, EtherType

        return next_hop_mac + (self.plan.src_mac or ZERO_MAC) + EtherType.IPV4.to_bytes(2, "big")

    # -- Transport -------------------------------------------------------------------------------
    def fileno(self) -> int:
        return self._epoll.fileno()

    def frame(self, packet: bytes) -> bytes:
        """What goes to the socket for an IPv4 ``packet``: :attr:`link_header` and the packet."""
        return self.link_header + packet

    def send(self, icmp: bytes, dst: IPv4Address) -> int:
        if self.unresolved:
            return self._send_unresolved(icmp, dst)
        data = self.writer.packet(icmp, dst, self.link_header)
        self.last_sent = data
        sock = self.sock
        assert sock is not None
        tx_ns = time.time_ns()
        try:
            if self._send_on_bound_address:
                sock.send(data)
            else:
                sock.sendto(data, self._address_tuple)
        except OSError as exc:
            raise send_failed(exc, self.ifname, self.writer.mtu) from None
        return tx_ns

    def _send_unresolved(self, icmp: bytes, dst: IPv4Address) -> int:
        """No next-hop MAC yet: read ARP answers; still none, report Host Unreachable locally."""
        self._poll_resolver()
        if not self.unresolved:
            return self.send(icmp, dst)
        packet = self.writer.packet(icmp, dst)
        self.last_sent = self.frame(packet)
        self._ask_again()
        tx_ns = time.time_ns()
        self._local.push(host_unreachable(packet, self.source, tx_ns))
        return tx_ns

    def _ask_again(self) -> None:
        """One more ARP request for the next hop, at most every REQUEST_INTERVAL_NS."""
        resolver = self._resolver
        if resolver is None:
            return
        now_ns = time.monotonic_ns()
        if self._last_request_ns is not None and now_ns - self._last_request_ns < REQUEST_INTERVAL_NS:
            return
        self._last_request_ns = now_ns
        try:
            resolver.send_request(self.plan.next_hop)
        except LayerpingError:
            pass  # the probe is reported unreachable either way

    def _poll_resolver(self) -> None:
        """Read ARP answers that arrived; switch to sending once the next hop answered."""
        resolver = self._resolver
        if resolver is None:
            return
        mac = resolver.handle_readable().get(self.plan.next_hop)
        if mac is None:
            return
        self._set_next_hop_mac(mac)
        self._resolver = None
        self._epoll.unregister(resolver.fileno())
        self._retired.append(resolver)

    def recv(self) -> Inbound | None:
        if self._local.queue:
            return self._local.pop()
        if self._resolver is not None:
            self._poll_resolver()
        sock = self.sock
        assert sock is not None
        if self._ring is not None:
            return self._recv_from_ring(self._ring, sock)
        if self._just_read:
            # The caller drains until None: after a packet, ask epoll whether more waits before
            # trying recvmsg, whose EAGAIN exception costs four times as much.
            self._just_read = False
            if not self._epoll.poll(0):
                return None
        offset = self._link_header_len
        header_end = offset + IP_HEADER_LEN
        for _ in range(_MAX_PACKETS_PER_RECV):
            try:
                raw, ancdata, flags, address = sock.recvmsg(RECV_BUFFER, _ANCILLARY_SPACE)
            except BlockingIOError:
                return None
            except OSError:
                # ENETDOWN is reported once when the interface goes down (packet(7)); probes
                # meanwhile are lost, and the socket receives again once it is back up.
                continue
            if address[2] == _PACKET_OUTGOING or flags & _MSG_TRUNC or len(raw) < header_end:
                continue
            rx_ns = 0
            if ancdata:  # only SCM_TIMESTAMPNS is enabled on this socket
                level, kind, data = ancdata[0]
                if level == _SOL_SOCKET and kind == _SCM_TIMESTAMPNS and len(data) >= _TIMESPEC_LEN:
                    seconds, nanoseconds = _TIMESPEC.unpack_from(data)
                    rx_ns = seconds * 1_000_000_000 + nanoseconds
            inbound = self._inbound(raw, offset, rx_ns or time.time_ns())
            if inbound is not None:
                self.last_address = address
                self._just_read = True
                return inbound
        return None

    def _recv_from_ring(self, ring: RxRing, sock: socket.socket) -> Inbound | None:
        """The next frame of the receive ring, without a system call (see :mod:`.ring`).

        :func:`.ring.parse_frame` written out: this is the fast path of ``-f`` at layers ip and
        ethernet, and every call costs a tenth of a µs. The status byte says whether a frame is
        ours; one ``unpack_from`` then reads its lengths, offsets, stamp and sender.
        """
        buffer = ring.map
        # ring.py is imported lazily: the frame layout comes from the ring, once per call.
        status_byte, ours, kernel_owned = ring.STATUS_LOW_BYTE, ring.TP_STATUS_USER, ring.KERNEL_OWNED
        unpack_frame = ring.FRAME_FIELDS.unpack_from
        link_header_len = self._link_header_len  # SOCK_RAW: the frame from its link header on
        shortest = link_header_len + IP_HEADER_LEN
        for _ in range(_MAX_PACKETS_PER_RECV):
            index = ring.index
            offset = ring.offsets[index]
            # One byte says whose the frame is: a flood reads an empty ring as often as a full one.
            if not buffer[offset + status_byte] & ours:  # the kernel's still
                self._empty_ring_reads += 1
                if self._empty_ring_reads > 1:
                    # Woken twice with nothing in the ring: a socket error (ENETDOWN when the
                    # interface goes down, packet(7)) keeps epoll reporting EPOLLERR until read.
                    self._empty_ring_reads = 0
                    sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                return None
            self._empty_ring_reads = 0
            fields = unpack_frame(buffer, offset)
            _status, length, snaplen, mac, net, seconds, nanoseconds, pkttype, sender = fields
            raw = buffer[offset + (mac if link_header_len else net) : offset + mac + snaplen]
            buffer[offset : offset + 4] = kernel_owned  # hand the frame back
            index += 1
            ring.index = 0 if index == ring.frame_count else index
            if pkttype == _PACKET_OUTGOING or snaplen < length or len(raw) < shortest:
                continue  # not ours, or cut short by the frame size
            inbound = self._inbound(raw, link_header_len, seconds * 1_000_000_000 + nanoseconds)
            if inbound is not None:
                self.last_address = (self.ifname, _linux.ETH_P_IP, pkttype, 0, sender)
                return inbound
        return None

    def _inbound(self, raw: bytes, offset: int, rx_ns: int) -> Inbound | None:
        """Reduce a received frame/packet to an :class:`Inbound`; None if it is no whole datagram.

        The IPv4 header starts at ``offset``. It is read with one ``unpack_from`` rather than an
        :class:`Ipv4Header` (this runs for every reply; the value class costs several µs), and
        its checksum is verified.
        """
        version_ihl, total_length, fragment_word, ttl, protocol, src, dst = _RECEIVED_HEADER.unpack_from(
            raw, offset
        )
        header_length = (version_ihl & 0x0F) << 2
        # Link padding may follow the datagram (Ethernet's 60-byte minimum); fewer bytes than
        # Total Length says is a truncated datagram; a fragment is not a whole ICMP message.
        if (
            version_ihl >> 4 != 4
            or header_length < IP_HEADER_LEN
            or total_length < header_length
            or len(raw) < offset + total_length
            or fragment_word & _FRAGMENT_BITS
            or protocol != IPPROTO_ICMP
        ):
            return None
        icmp_start = offset + header_length
        addresses = self._addresses
        # The header checksum is right when the ones'-complement sum of the header is 0xffff
        # (RFC 1071 §1); that sum is the header read as one integer modulo 0xffff
        # (wire/checksum.py explains why), and a header (version 4 is never all zeros) sums to
        # 0xffff exactly when that remainder is 0.
        return Inbound(
            raw[icmp_start : offset + total_length],
            addresses.get(src) or self._address(src),
            addresses.get(dst) or self._address(dst),
            ttl,
            rx_ns,
            self.ifindex,
            raw,
            int.from_bytes(raw[offset:icmp_start], "big") % 0xFFFF == 0,
        )

    def received_link_header(self) -> bytes:
        """The Ethernet header the kernel removed from the packet :meth:`recv` returned last.

        Rebuilt from its sockaddr_ll (packet(7)): ``sll_addr`` is the sender's MAC, ``sll_pkttype``
        says where it was addressed (PACKET_HOST: our MAC; PACKET_BROADCAST: all ones; anything
        else, which our filter does not let through, zeros). Empty where no header was removed.
        """
        address = self.last_address
        if self._socket_kind != socket.SOCK_DGRAM or not self.plan.has_link_header or address is None:
            return b""
        from layerping.wire.ethernet import BROADCAST_MAC, ZERO_MAC, EtherType  # see sent_link_header

        pkttype, sender = address[2], address[4][:6].ljust(6, b"\0")
        if pkttype == _linux.PACKET_HOST:
            destination = self.plan.src_mac or ZERO_MAC
        else:
            destination = BROADCAST_MAC if pkttype == _linux.PACKET_BROADCAST else ZERO_MAC
        return destination + sender + EtherType.IPV4.to_bytes(2, "big")

    def _address(self, packed: bytes) -> IPv4Address:
        address = self._addresses.get(packed)
        if address is None:
            if len(self._addresses) > 1024:
                self._addresses.clear()
            address = self._addresses[packed] = IPv4Address(packed)
        return address

    def close(self) -> None:
        closers: list[Callable[[], None]] = []
        if self.sock is not None:
            closers.append(self.sock.close)
        if self._resolver is not None:
            self._retired.append(self._resolver)
            self._resolver = None
        closers.extend(resolver.close for resolver in self._retired)
        self._retired.clear()
        close_concurrently(closers)
        if self._ring is not None:
            self._ring.close()
            self._ring = None
        self._epoll.close()
        self._local.close()


def send_failed(exc: OSError, ifname: str, mtu: int) -> SendFailed:
    """An iputils-style :class:`SendFailed` for a refused ``sendto`` on a packet socket."""
    err = exc.errno or 0
    if err == errno.EMSGSIZE:
        return SendFailed(err, f"local error: message too long, mtu={mtu}")
    if err == errno.ENETDOWN:
        return SendFailed(err, f"sendmsg: Network is down ({ifname})")
    return SendFailed(err, f"sendmsg: {os.strerror(err)}")
