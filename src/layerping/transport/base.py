"""The one interface every ``--layer`` implements, and what it hands the engine.

The engine never knows which layer it drives: it gives a transport the ICMP message it
wants sent and gets back :class:`Inbound` values, each already reduced to the ICMP bytes
plus the metadata that matters for a ping (source, TTL, kernel receive timestamp).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Protocol

from layerping._value import Record, Value
from layerping.errors import TransportError


class Layer(enum.Enum):
    """Which protocol layer layerping writes itself."""

    ICMP = "icmp"  # we write ICMP; the kernel writes IPv4 and the link header
    IP = "ip"  # we write IPv4 + ICMP; the kernel writes the link header (AF_PACKET/SOCK_DGRAM)
    ETHERNET = "ethernet"  # we write the whole frame (AF_PACKET/SOCK_RAW)


class SendFailed(TransportError):
    """The kernel refused to send one probe; ``text`` is the iputils-style reason.

    This is an event for the engine (counted as an error), not a reason to stop the run.
    """

    def __init__(self, err: int, text: str) -> None:
        super().__init__(text)
        self.errno = err
        self.text = text


class SendOptions(Value):
    """Per-session IP options a transport applies to every probe it sends.

    At layer icmp they become socket options; at layers ip and ethernet we write them
    into our own IPv4 header.
    """

    ttl: int = 64
    tos: int = 0
    # None: kernel default (route's PMTU policy). "do" sets DF, "dont" clears it,
    # "want" sets DF but lets the kernel fragment locally (ip(7) IP_MTU_DISCOVER).
    pmtu: str | None = None
    allow_broadcast: bool = False


class Inbound(Record):
    """One received ICMP message, whatever layer it came in on.

    ``icmp`` is the ICMP message only (no IP header). ``raw`` is the whole packet or
    frame as the socket delivered it, for ``-v`` and pcap. ``rx_ns`` is the kernel's
    receive timestamp (CLOCK_REALTIME, ns). ``icmp_from_error_queue`` marks messages
    reconstructed from an ``IP_RECVERR`` report rather than received as a packet.

    Made once per received packet, so it is a mutable record: frozen ones cost five
    times as much to construct. Treat it as read-only.
    """

    icmp: bytes
    src: IPv4Address
    dst: IPv4Address | None
    ttl: int | None
    rx_ns: int
    ifindex: int | None = None
    raw: bytes = b""
    # IPv4 header checksum status at layers that see the header: None = not checked.
    ip_checksum_ok: bool | None = None
    # An ICMP error the kernel reported through the socket error queue (IP_RECVERR):
    # ``local`` means our own host generated it (e.g. failed ARP).
    from_error_queue: bool = False
    local_error: bool = False


class Transport(Protocol):
    """One implementation per layer: icmp_socket, packet_dgram, packet_raw, fake."""

    layer: Layer
    #: True where the kernel owns the ICMP identifier (unprivileged ICMP datagram socket)
    #: and replies must be matched on sequence number alone (iputils ``is_ours``).
    kernel_owns_id: bool
    #: Exactly what the last :meth:`send` handed to the kernel, for ``-v`` and ``--pcap``: the
    #: ICMP message at layer icmp, the IPv4 packet at layer ip, the Ethernet frame at layer ethernet.
    last_sent: bytes
    #: The pcap link type (``wire.pcap.LINKTYPE_*``) a capture of this layer is written with.
    pcap_linktype: int

    def fileno(self) -> int:
        """A descriptor that becomes readable when :meth:`recv` may return something."""
        ...

    def send(self, icmp: bytes, dst: IPv4Address) -> int:
        """Send one ICMP message to ``dst``; return tx_ns on the clock of ``Inbound.rx_ns``."""
        ...

    def recv(self) -> Inbound | None:
        """Non-blocking: the next ICMPv4 message for us, or None when nothing more is queued.

        Packets that are not for us are skipped inside, so None always means "drained".
        """
        ...

    def close(self) -> None: ...


def drain(transport: Transport, handle: Callable[[Inbound], object], limit: int) -> int:
    """Hand every message ``transport`` has received to ``handle``, at most ``limit`` of them
    (``recv`` skips what is not ours, so a busy link cannot keep this going); return how many."""
    count = 0
    recv = transport.recv
    for _ in range(limit):
        inbound = recv()
        if inbound is None:
            break
        handle(inbound)
        count += 1
    return count
