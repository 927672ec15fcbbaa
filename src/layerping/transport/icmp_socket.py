"""``--layer icmp``: we write the ICMP message, the kernel writes the IPv4 header.

Two kinds of socket, as iputils uses them:

* ``AF_INET``/``SOCK_RAW``/``IPPROTO_ICMP`` needs CAP_NET_RAW. We choose the identifier, and a
  BPF filter keeps other processes' replies (and every unrelated ICMP message) in the kernel.
  Received data starts with the IPv4 header, which gives us the TTL.
* ``AF_INET``/``SOCK_DGRAM``/``IPPROTO_ICMP`` ("ping socket", icmp(7)) works unprivileged when
  the group is inside ``net.ipv4.ping_group_range``. The kernel owns the identifier (it is the
  socket's port) and delivers only replies for it; the TTL comes from an ``IP_TTL`` cmsg
  (``IP_RECVTTL``) and ICMP errors only through the error queue (``IP_RECVERR``).

Receive timestamps come from ``SO_TIMESTAMPNS`` (CLOCK_REALTIME, stamped when the packet
reached the kernel); send timestamps from ``time.time_ns()`` taken right before ``sendto``.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import time
from ipaddress import IPv4Address

from layerping import _linux
from layerping.errors import ICMP_PERMISSION_HINT, NoSuchInterface, PermissionDenied, UsageError
from layerping.transport import bpf
from layerping.transport.base import Address, Inbound, Layer, SendFailed, SendOptions
from layerping.wire.icmpv4 import DestinationUnreachable, ParameterProblem, Redirect, TimeExceeded
from layerping.wire.ipv4 import IPPROTO_ICMP, Ipv4Header
from layerping.wire.linktype import LINKTYPE_RAW

_TIMESPEC = struct.Struct("@qq")
# struct sock_extended_err (include/uapi/linux/errqueue.h) followed by the offender's sockaddr_in.
_SOCK_EXTENDED_ERR = struct.Struct("@IBBBxII")
_SOCKADDR_IN = struct.Struct("@H2x4s")  # sa_family (host order), port, address
_INT = struct.Struct("@i")
_ANCILLARY_SPACE = (
    socket.CMSG_SPACE(_TIMESPEC.size) + socket.CMSG_SPACE(4) + socket.CMSG_SPACE(_SOCK_EXTENDED_ERR.size + 16)
)
RECV_BUFFER = 65536 + 60

PERMISSION_HINT = ICMP_PERMISSION_HINT

_PMTU_OPTIONS = {
    "do": _linux.IP_PMTUDISC_DO,
    "dont": _linux.IP_PMTUDISC_DONT,
    "want": _linux.IP_PMTUDISC_WANT,
    "probe": _linux.IP_PMTUDISC_PROBE,
}


def bind_to_device(sock: socket.socket, interface: str) -> None:
    """SO_BINDTODEVICE (socket(7)): send and receive only through ``interface`` (ping -I)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, _linux.SO_BINDTODEVICE, interface.encode() + b"\0")
    except OSError as exc:
        if exc.errno == errno.ENODEV:
            raise NoSuchInterface(
                f"interface {interface!r} does not exist", "see `ip link` for the interfaces"
            ) from None
        if exc.errno == errno.EPERM:  # before Linux 5.7 binding needed CAP_NET_RAW
            raise PermissionDenied(
                "icmp", f"binding to interface {interface!r} needs CAP_NET_RAW", PERMISSION_HINT
            ) from None
        raise


def bind_source(sock: socket.socket, source: IPv4Address) -> None:
    """Send from ``source`` (ping -I address); it must be an address of this host."""
    try:
        sock.bind((str(source), 0))
    except OSError as exc:
        raise UsageError(
            f"cannot use source address {source}: {exc.strerror}",
            "give an address of this host (see `ip addr`)",
        ) from None


def open_icmp_socket(unprivileged: bool = False) -> tuple[socket.socket, bool]:
    """Open a raw ICMP socket, or the ICMP datagram socket when raw is refused or forced.

    Returns (socket, is_datagram). Raises PermissionDenied when neither is allowed.
    """
    if not unprivileged:
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, IPPROTO_ICMP), False
        except PermissionError:
            pass
    try:
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, IPPROTO_ICMP), True
    except PermissionError:
        low, high = _ping_group_range()
        raise PermissionDenied(
            "icmp",
            f"no permission for a raw ICMP socket, and group {os.getgid()} is outside "
            f"net.ipv4.ping_group_range ({low} {high})",
            PERMISSION_HINT,
        ) from None


def _ping_group_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ping_group_range") as f:
            low, high = f.read().split()
            return int(low), int(high)
    except (OSError, ValueError):
        return (1, 0)


class IcmpSocketTransport:
    """The kernel writes IPv4 for us; we send and receive ICMP messages."""

    layer = Layer.ICMP
    #: What ``--pcap`` holds at this layer: IPv4 packets (the kernel writes their header).
    pcap_linktype = LINKTYPE_RAW

    def __init__(
        self,
        identifier: int,
        options: SendOptions,
        *,
        unprivileged: bool = False,
        interface: str | None = None,
        source: IPv4Address | None = None,
        receive_buffer: int | None = None,
    ) -> None:
        sock, is_dgram = open_icmp_socket(unprivileged)
        self.sock = sock
        self.is_datagram = is_dgram
        self.receives_ip_header = not is_dgram  # a raw socket hands us the IPv4 header
        self.arp_frames: list[tuple[int, bool, bytes]] = []
        self.kernel_owns_id = is_dgram
        self.identifier = identifier
        self._sockaddrs: dict[Address, tuple[str, int]] = {}
        self._last_dst: Address | None = None
        self._last_sockaddr: tuple[str, int] = ("", 0)
        self._from_error_queue: list[Inbound] = []
        self._just_read = False
        self.last_sent = b""  # the ICMP message last handed to the kernel (for -v and --pcap)
        try:
            self._configure(options, interface, source, receive_buffer)
        except BaseException:
            sock.close()
            raise
        sock.setblocking(False)
        self._poller = select.poll()
        self._poller.register(sock.fileno(), select.POLLIN)  # POLLERR is always reported

    def _configure(
        self,
        options: SendOptions,
        interface: str | None,
        source: IPv4Address | None,
        receive_buffer: int | None,
    ) -> None:
        sock = self.sock
        sock.setsockopt(socket.SOL_SOCKET, _linux.SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.IPPROTO_IP, _linux.IP_RECVERR, 1)
        if self.is_datagram:
            sock.setsockopt(socket.IPPROTO_IP, _linux.IP_RECVTTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, options.ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, options.ttl)
        if options.tos:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, options.tos)
        if options.pmtu is not None:
            sock.setsockopt(socket.IPPROTO_IP, _linux.IP_MTU_DISCOVER, _PMTU_OPTIONS[options.pmtu])
        if options.allow_broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if receive_buffer:
            try:
                sock.setsockopt(socket.SOL_SOCKET, _linux.SO_RCVBUFFORCE, receive_buffer)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        if interface is not None:
            bind_to_device(sock, interface)
        if source is not None:
            bind_source(sock, source)
        if not self.is_datagram:
            # Only echo replies with our identifier, and errors quoting our probes, get through.
            bpf.attach_filter(sock, bpf.icmp_filter(self.identifier))

    # Link-layer matters (transport/base.py declares them for -v and --pcap): none at this layer.
    unresolved = False
    sent_link_header = b""

    def received_link_header(self) -> bytes:
        return b""

    def fileno(self) -> int:
        return self.sock.fileno()

    def local_identifier(self) -> int | None:
        """The identifier the kernel put on our probes (datagram sockets: the local port)."""
        if self.is_datagram:
            port: int = self.sock.getsockname()[1]
            return port
        return self.identifier

    def send(self, icmp: bytes, dst: Address) -> int:
        if dst is self._last_dst:  # one destination, probe after probe: skip hashing it
            sockaddr = self._last_sockaddr
        else:
            known = self._sockaddrs.get(dst)
            if known is None:
                known = self._sockaddrs[dst] = (str(dst), 0)
            sockaddr = known
            self._last_dst, self._last_sockaddr = dst, sockaddr
        tx_ns = time.time_ns()
        try:
            self.sock.sendto(icmp, sockaddr)
        except OSError as exc:
            raise self._send_error(exc) from None
        self.last_sent = icmp
        return tx_ns

    def _send_error(self, exc: OSError) -> SendFailed:
        err = exc.errno or 0
        if err == errno.EMSGSIZE:
            mtu = self._drain_local_mtu()
            text = "local error: message too long" + (f", mtu={mtu}" if mtu else "")
            return SendFailed(err, text)
        if err == errno.EACCES:
            return SendFailed(
                err, "sendmsg: Permission denied (broadcast needs -b; else check firewall rules)"
            )
        return SendFailed(err, f"sendmsg: {os.strerror(err)}")

    def _drain_local_mtu(self) -> int | None:
        mtu = None
        for _ in range(16):
            try:
                _, ancdata, _, _ = self.sock.recvmsg(RECV_BUFFER, _ANCILLARY_SPACE, socket.MSG_ERRQUEUE)
            except OSError:
                break
            for level, kind, data in ancdata:
                if level == socket.IPPROTO_IP and kind == _linux.IP_RECVERR and len(data) >= 16:
                    ee_errno, _origin, _t, _c, info, _d = _SOCK_EXTENDED_ERR.unpack_from(data)
                    if ee_errno == errno.EMSGSIZE:
                        mtu = info
        return mtu

    def recv(self) -> Inbound | None:
        if self._from_error_queue:
            return self._from_error_queue.pop(0)
        if self._just_read:
            # The caller drains until None: after a packet, ask poll(2) whether more waits (or an
            # error, POLLERR) before trying recvmsg, whose EAGAIN exception costs 4x as much.
            self._just_read = False
            if not self._poller.poll(0):
                return None
        for _ in range(64):  # bounded: skip what isn't ours without spinning forever
            try:
                data, ancdata, _flags, address = self.sock.recvmsg(RECV_BUFFER, _ANCILLARY_SPACE)
            except BlockingIOError:
                return None
            except OSError:
                # Every report queued with IP_RECVERR also sets the socket error, which the next
                # receive returns once: then drain the whole error queue (ip(7) IP_RECVERR), so
                # an unread report can never keep poll() signalling EPOLLERR.
                self._drain_error_queue()
                if self._from_error_queue:
                    return self._from_error_queue.pop(0)
                continue
            rx_ns, ttl = _ancillary(ancdata)
            self._just_read = True
            if self.is_datagram:
                src = _address(address[0])
                return Inbound(icmp=data, src=src, dst=None, ttl=ttl, rx_ns=rx_ns, raw=data)
            # Hot path: the kernel already validated this IPv4 header, so read the three fields
            # we need (RFC 791: IHL, TTL, addresses) without building an Ipv4Header.
            if len(data) < 20:
                continue
            header_length = (data[0] & 0x0F) * 4
            if header_length < 20 or len(data) < header_length:
                continue
            # Positional: this runs once per reply (fields: icmp, src, dst, ttl, rx_ns, ifindex, raw).
            return Inbound(
                data[header_length:], _address(data[12:16]), _address(data[16:20]), data[8], rx_ns, None, data
            )
        return None

    def _drain_error_queue(self) -> None:
        """Read every IP_RECVERR report; keep ICMP errors, rebuilt as the messages they were."""
        for _ in range(1024):
            try:
                data, ancdata, _flags, address = self.sock.recvmsg(
                    RECV_BUFFER, _ANCILLARY_SPACE, socket.MSG_ERRQUEUE
                )
            except OSError:
                return
            inbound = self._error_to_inbound(data, ancdata, address)
            if inbound is not None:
                self._from_error_queue.append(inbound)

    def _error_to_inbound(
        self, data: bytes, ancdata: list[tuple[int, int, bytes]], address: tuple[str, int]
    ) -> Inbound | None:
        rx_ns = time.time_ns()
        extended: tuple[int, int, int, int, int] | None = None
        offender: IPv4Address | None = None
        for level, kind, cdata in ancdata:
            if level == socket.SOL_SOCKET and kind == _linux.SCM_TIMESTAMPNS and len(cdata) >= 16:
                sec, nsec = _TIMESPEC.unpack_from(cdata)
                rx_ns = sec * 1_000_000_000 + nsec
            elif level == socket.IPPROTO_IP and kind == _linux.IP_RECVERR and len(cdata) >= 16:
                ee_errno, origin, ee_type, ee_code, info, _ee_data = _SOCK_EXTENDED_ERR.unpack_from(cdata)
                extended = (ee_errno, origin, ee_type, ee_code, info)
                # SO_EE_OFFENDER: the sockaddr_in right after the struct names who sent the error.
                if len(cdata) >= _SOCK_EXTENDED_ERR.size + _SOCKADDR_IN.size:
                    family, raw_addr = _SOCKADDR_IN.unpack_from(cdata, _SOCK_EXTENDED_ERR.size)
                    if family == socket.AF_INET:
                        offender = IPv4Address(raw_addr)
        if extended is None:
            return None
        _ee_errno, origin, ee_type, ee_code, info = extended
        if origin != _linux.SO_EE_ORIGIN_ICMP or offender is None:
            return None  # local errors surface synchronously from sendto
        if not self.is_datagram:
            return None  # raw sockets receive the same error as a packet: don't count it twice
        # Rebuild the ICMP error so the engine matches it like any other: it quotes our probe
        # (the error queue hands back the ICMP message we sent) towards the original destination.
        destination = IPv4Address(address[0]) if address else offender
        quoted = Ipv4Header(
            tos=0,
            identification=0,
            flags=0,
            fragment_offset=0,
            ttl=0,
            protocol=IPPROTO_ICMP,
            source=IPv4Address(0),
            destination=destination,
            total_length=20 + len(data),
        )
        quoted_payload = bytes(data[:8]).ljust(8, b"\0")
        message: DestinationUnreachable | TimeExceeded | Redirect | ParameterProblem
        if ee_type == 3:
            message = DestinationUnreachable(ee_code, quoted, quoted_payload, next_hop_mtu=info & 0xFFFF)
        elif ee_type == 11:
            message = TimeExceeded(ee_code, quoted, quoted_payload)
        elif ee_type == 5:
            message = Redirect(ee_code, IPv4Address(info), quoted, quoted_payload)
        elif ee_type == 12:
            message = ParameterProblem(ee_code, (info >> 24) & 0xFF, quoted, quoted_payload)
        else:
            return None
        icmp = message.build()
        return Inbound(
            icmp=icmp, src=offender, dst=None, ttl=None, rx_ns=rx_ns, raw=icmp, from_error_queue=True
        )

    def close(self) -> None:
        self.sock.close()


_ADDRESS_CACHE: dict[bytes | str, IPv4Address] = {}


def _address(key: bytes | str) -> IPv4Address:
    """IPv4Address for 4 wire bytes or a dotted quad, cached: building one costs more than a
    whole echo parse. Bounded, since a sweep sees many sources."""
    address = _ADDRESS_CACHE.get(key)
    if address is None:
        if len(_ADDRESS_CACHE) > 4096:
            _ADDRESS_CACHE.clear()
        address = _ADDRESS_CACHE[key] = IPv4Address(key)
    return address


_SOL_SOCKET = int(socket.SOL_SOCKET)
_SOL_IP = int(socket.IPPROTO_IP)


def _ancillary(ancdata: list[tuple[int, int, bytes]]) -> tuple[int, int | None]:
    """Kernel receive time (SO_TIMESTAMPNS) and TTL (IP_RECVTTL) from a message's cmsgs."""
    rx_ns = 0
    ttl: int | None = None
    for level, kind, data in ancdata:
        if level == _SOL_SOCKET and kind == _linux.SCM_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = _TIMESPEC.unpack_from(data)
            rx_ns = sec * 1_000_000_000 + nsec
        elif level == _SOL_IP and kind == _linux.IP_TTL and len(data) >= 4:
            ttl = _INT.unpack_from(data)[0]
    if rx_ns == 0:
        rx_ns = time.time_ns()
    return rx_ns, ttl
