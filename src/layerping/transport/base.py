"""The one interface every ``--layer`` implements, and what it hands the engine.

The engine never knows which layer it drives: it gives a transport the ICMP message it
wants sent and gets back :class:`Inbound` values, each already reduced to the ICMP bytes
plus the metadata that matters for a ping (source, TTL, kernel receive timestamp).
"""

from __future__ import annotations

import enum
import socket
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import Protocol

from layerping._value import Record, Value
from layerping.errors import TransportError

Address = IPv4Address | IPv6Address
"""An IP address, of whichever family: opaque to the engine, which only compares them (the
family object of :mod:`layerping.inet` parses, formats and converts them)."""


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
    src: Address
    dst: Address | None
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
    """One implementation per layer: icmp_socket (layer icmp), packet (layers ip and ethernet,
    one transport given a framing); the test doubles of tests/support/ and the ``-v``/``--pcap``
    tee (transport/tee.py) wrap or imitate them.

    Besides sending and receiving it declares what ``-v``, ``--pcap`` and the batch I/O of
    transport/batch.py read of a transport, so that none of them probes for attributes.
    """

    layer: Layer
    #: True where the kernel owns the ICMP identifier (unprivileged ICMP datagram socket)
    #: and replies must be matched on sequence number alone (iputils ``is_ours``).
    kernel_owns_id: bool
    #: Exactly what the last :meth:`send` handed to the kernel, for ``-v`` and ``--pcap``: the
    #: ICMP message at layer icmp, the IPv4 packet at layer ip, the Ethernet frame at layer ethernet.
    last_sent: bytes
    #: The pcap link type (``wire.pcap.LINKTYPE_*``) a capture of this layer is written with.
    pcap_linktype: int
    #: The socket batch I/O may move batches on (``sendmmsg``/``recvmmsg``); None where there is
    #: none (test doubles).
    @property
    def sock(self) -> socket.socket | None: ...

    #: True where what :attr:`sock` receives starts with the IP header (raw and packet sockets),
    #: False where it is the ICMP message alone (the ICMP datagram socket).
    @property
    def receives_ip_header(self) -> bool: ...

    #: Our own neighbour resolution frames, (CLOCK_REALTIME ns, outgoing, Ethernet frame), for
    #: ``-v`` and ``--pcap``: a list that grows while an unanswered resolver asks; empty at
    #: layer icmp.
    @property
    def arp_frames(self) -> list[tuple[int, bool, bytes]]: ...

    #: The next hop never answered: probes are answered locally with the Destination Host
    #: Unreachable the kernel would generate (link layers only; always False at layer icmp).
    @property
    def unresolved(self) -> bool: ...

    #: The link header the kernel writes in front of what :meth:`send` gives it (layer ip on a
    #: link with one); empty where it writes none or we write it ourselves.
    @property
    def sent_link_header(self) -> bytes: ...


    def fileno(self) -> int:
        """A descriptor that becomes readable when :meth:`recv` may return something."""
        ...

    def received_link_header(self) -> bytes:
        """The link header the kernel removed from what :meth:`recv` returned last (layer ip
        on a link with one, rebuilt from its sockaddr_ll); empty elsewhere."""
        ...

    def local_identifier(self) -> int | None:
        """The ICMP identifier on the wire when the kernel owns it (the datagram socket's port);
        else our own, or None when unknown."""
        ...

    def send(self, icmp: bytes, dst: Address) -> int:
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
