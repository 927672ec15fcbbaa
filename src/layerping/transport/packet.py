"""Layers ip and ethernet: one packet-socket transport, given a framing (transport/framing.py).

At ``--layer ip`` we write the IP header and the kernel writes the link header; at ``--layer
ethernet`` we write the whole Ethernet II frame. The IP header comes from the family's one
writer (``inet/v4.py`` ``Ipv4HeaderWriter``), received datagrams go through the family's
unframer, and the packet socket is opened by :mod:`.packet_socket`.

The ``--layer ip`` socket:

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

import select
import socket
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol

from layerping import _linux
from layerping.errors import LayerpingError
from layerping.inet.v4 import IPV4
from layerping.transport.base import Address, Inbound, Layer, SendOptions
from layerping.transport.framing import NO_LINK_HEADER, Framing
from layerping.transport.packet_socket import LocalErrors, close_concurrently, open_link_socket, send_failed

if TYPE_CHECKING:
    from ipaddress import IPv4Address

    from layerping.discovery.plan import PathPlan
    from layerping.inet.family import Family, HeaderWriter
    from layerping.transport.ring import RxRing

    class NeighbourResolver(Protocol):
        """What the transport needs of :class:`layerping.discovery.arp.ArpResolver` (kept
        abstract so the transport layer does not import discovery). Only type checkers see
        it: defining a Protocol class costs 0.05 to 0.1 ms of every start at the link layers."""

        def fileno(self) -> int: ...

        def send_request(self, target_ip: IPv4Address) -> None: ...

        def handle_readable(self) -> dict[IPv4Address, bytes]: ...

        def close(self) -> None: ...


_TIMESPEC: Final = struct.Struct("@qq")
_TIMESPEC_LEN: Final = _TIMESPEC.size
_ANCILLARY_SPACE: Final = socket.CMSG_SPACE(_TIMESPEC.size)
_SOL_SOCKET: Final = int(socket.SOL_SOCKET)
_MSG_TRUNC: Final = int(socket.MSG_TRUNC)  # a plain int: IntFlag's __and__ costs a µs per packet
_PACKET_OUTGOING: Final = _linux.PACKET_OUTGOING
_SCM_TIMESTAMPNS: Final = _linux.SCM_TIMESTAMPNS
#: Largest IP datagram (Total Length is 16 bits) plus a link header, with room to spare.
RECV_BUFFER: Final = 0xFFFF + 64
_MAX_PACKETS_PER_RECV: Final = 64  # recv() skips at most this many foreign packets per call
#: Receive ring of fast runs: about as much memory as FAST_RECEIVE_BUFFER, in whole frames.
_RING_BYTES: Final = 4 << 20
_RING_MIN_FRAMES: Final = 16
_RING_MAX_FRAMES: Final = 4096

#: While the next hop is unresolved, ask again at most this often (the kernel's retrans_time).
REQUEST_INTERVAL_NS: Final = 1_000_000_000


class PacketTransport:
    """Layers ip and ethernet: our IP header (and, framed so, our Ethernet header) over one
    ``AF_PACKET`` socket (packet(7)); ``framing`` says which (transport/framing.py).

    ``next_hop_mac`` is the destination of the link header the kernel writes: the next hop's
    MAC on Ethernet, zeros on loopback, None on links without hardware addresses. On an
    Ethernet link ``None`` means ARP failed: every probe then produces a local Destination
    Host Unreachable instead of going out. With a ``resolver`` the transport keeps asking
    (one ARP request per probe, at most one per second, as the kernel re-resolves a FAILED
    neighbour when a new packet needs it) and sends normally from the first answer on.
    """

    kernel_owns_id = False
    receives_ip_header = True

    def __init__(
        self,
        plan: PathPlan,
        identifier: int,
        options: SendOptions,
        *,
        framing: Framing = NO_LINK_HEADER,
        family: Family = IPV4,
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
        self.framing = framing
        self.family = family
        self.layer: Layer = framing.layer
        self.ifname = plan.ifname
        self.ifindex = plan.ifindex
        self.source = plan.source
        framing.check_link(plan.ifname, plan.has_link_header, plan.src_mac)
        #: The one IP header writer of this run (the batch path writes with it too).
        self.writer: HeaderWriter = family.header_writer(
            plan.source, options, plan.mtu, dont_fragment=dont_fragment
        )
        self._unframer = family.unframer()
        self._ethertype = family.ethertype
        self._link_header_len = framing.link_header_len
        #: What precedes the IP header in what we write: the Ethernet header at layer ethernet.
        self.link_header = b""
        self.next_hop_mac: bytes | None = None
        self._address_tuple: tuple[str, int, int, int, bytes] | tuple[str, int] = (
            plan.ifname,
            family.ethertype,
        )
        self.unresolved = False
        self._set_next_hop_mac(next_hop_mac)
        self._resolver = resolver if self.unresolved else None
        #: Resolvers done with: closed with the socket in :meth:`close`, never in the middle of a run.
        self._retired: list[NeighbourResolver] = []
        if resolver is not None and self._resolver is None:
            self._retired.append(resolver)  # nothing left to resolve
        self._last_request_ns: int | None = None
        self._local = LocalErrors()
        self._epoll = select.epoll(3, select.EPOLL_CLOEXEC)
        self._just_read = False
        self._ring: RxRing | None = None
        self._empty_ring_reads = 0
        self.sock: socket.socket | None = sock
        try:
            if self.sock is None:
                self.sock = open_link_socket(plan, identifier, framing, receive_buffer, family)
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
        #: The packet or frame the last :meth:`send` wrote (for -v and --pcap); while the next
        #: hop is unresolved, the one it would have written.
        self.last_sent = b""
        #: ARP frames our resolver sent and accepted for this path, (CLOCK_REALTIME ns, outgoing,
        #: frame): set by the factory, shown by ``-v`` and written by ``--pcap``.
        self.arp_frames: list[tuple[int, bool, bytes]] = []
        #: How ``--pcap`` frames this layer: Ethernet on a link with an Ethernet header (at layer
        #: ip the kernel writes it from what we gave it, :attr:`sent_link_header`, and the one it
        #: removed on receive is rebuilt, :meth:`received_link_header`), else raw IP.
        self.pcap_linktype = framing.pcap_linktype(plan.has_link_header)
        #: sockaddr_ll of the packet :meth:`recv` returned last: (ifname, protocol, pkttype, hatype, addr).
        self.last_address: tuple[str, int, int, int, bytes] | None = None

    # -- opening ---------------------------------------------------------------------------------
    def _set_next_hop_mac(self, next_hop_mac: bytes | None) -> None:
        """Where frames go from now on; None on a link with hardware addresses = unresolved."""
        self.next_hop_mac = next_hop_mac
        self._sent_link_header: bytes | None = None  # built again when first asked for
        self.unresolved = self.plan.has_link_header and next_hop_mac is None
        if next_hop_mac is None:
            self._address_tuple = (self.plan.ifname, self._ethertype)  # sll_halen 0 (tun, ppp)
        else:
            self._address_tuple = (self.plan.ifname, self._ethertype, 0, 0, next_hop_mac)
        # Destination MAC, source MAC, EtherType (IEEE 802.3 clause 3.2.6) at layer ethernet: the
        # same for every frame of the run, so it is built once.
        self.link_header = self.framing.link_header(next_hop_mac, self.plan.src_mac, self._ethertype)

    @property
    def sent_link_header(self) -> bytes:
        """The Ethernet header the kernel writes in front of what :meth:`send` gives it: empty
        where it writes none (a raw socket, a link without hardware addresses, no next hop)."""
        header = self._sent_link_header
        if header is None:
            header = self._sent_link_header = self._build_sent_link_header()
        return header

    def _build_sent_link_header(self) -> bytes:
        # Only -v and --pcap ask (once per probe: hence the cache).
        plan = self.plan
        return self.framing.kernel_link_header(
            plan.has_link_header, self.next_hop_mac, plan.src_mac, self._ethertype
        )

    # -- Transport -------------------------------------------------------------------------------
    def fileno(self) -> int:
        return self._epoll.fileno()

    def local_identifier(self) -> int | None:
        return self.identifier

    def frame(self, packet: bytes) -> bytes:
        """What goes to the socket for an IPv4 ``packet``: :attr:`link_header` and the packet."""
        return self.link_header + packet

    def send(self, icmp: bytes, dst: Address) -> int:
        if self.unresolved:
            return self._send_unresolved(icmp, dst)
        data = self.writer.packet(icmp, dst, self.link_header)
        self.last_sent = data
        sock = self.sock
        assert sock is not None
        tx_ns = time.time_ns()
        try:
            if self.framing.send_on_bound_address:
                sock.send(data)
            else:
                sock.sendto(data, self._address_tuple)
        except OSError as exc:
            raise send_failed(exc, self.ifname, self.writer.mtu) from None
        return tx_ns

    def _send_unresolved(self, icmp: bytes, dst: Address) -> int:
        """No next-hop MAC yet: read ARP answers; still none, report Host Unreachable locally."""
        self._poll_resolver()
        if not self.unresolved:
            return self.send(icmp, dst)
        packet = self.writer.packet(icmp, dst)
        self.last_sent = self.frame(packet)
        self._ask_again()
        tx_ns = time.time_ns()
        self._local.push(self.family.host_unreachable(packet, self.source, tx_ns))
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
        header_end = offset + self.writer.header_len
        inbound_of = self._unframer.inbound
        ifindex = self.ifindex
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
            inbound = inbound_of(raw, offset, rx_ns or time.time_ns(), ifindex)
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
        shortest = link_header_len + self.writer.header_len
        inbound_of = self._unframer.inbound
        ifindex = self.ifindex
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
            inbound = inbound_of(raw, link_header_len, seconds * 1_000_000_000 + nanoseconds, ifindex)
            if inbound is not None:
                self.last_address = (self.ifname, self._ethertype, pkttype, 0, sender)
                return inbound
        return None

    def received_link_header(self) -> bytes:
        """The Ethernet header the kernel removed from the packet :meth:`recv` returned last
        (layer ip; see :meth:`Framing.removed_link_header`); empty where no header was removed."""
        plan = self.plan
        return self.framing.removed_link_header(
            plan.has_link_header, self.last_address, plan.src_mac, self._ethertype
        )

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
