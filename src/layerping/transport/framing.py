"""How a packet-socket transport frames what it writes and unframes what it reads.

Layers ip and ethernet are one transport (:class:`~layerping.transport.packet.PacketTransport`)
given one of two framings, not two classes:

* :data:`NO_LINK_HEADER` (``--layer ip``): ``AF_PACKET``/``SOCK_DGRAM``; we write the IP packet
  and the kernel writes the link header from the ``sockaddr_ll`` we send to (its ``sll_addr``
  is the next hop's MAC), and removes it on receive. ``-v`` and ``--pcap`` rebuild it.
* :data:`ETHERNET` (``--layer ethernet``): ``AF_PACKET``/``SOCK_RAW``; we write the whole
  Ethernet II frame (IEEE 802.3 clause 3.2.6), and read whole frames.

The batch path (transport/batch.py) frames with the same object, so both paths agree.
"""

from __future__ import annotations

import socket
from typing import Final

from layerping import _linux
from layerping.errors import UsageError
from layerping.transport.base import Layer
from layerping.wire.linktype import LINKTYPE_ETHERNET, LINKTYPE_RAW

ETHERNET_HEADER_LEN: Final = 14
_ZERO_MAC: Final = bytes(6)
_BROADCAST_MAC: Final = b"\xff" * 6


def no_hardware_address(ifname: str) -> UsageError:
    """The one-line refusal for ``--layer ethernet`` on a link without MAC addresses."""
    return UsageError(
        f"--layer ethernet needs an interface with a hardware address, and {ifname} has none",
        f"use --layer ip on {ifname} (the kernel then adds whatever link header it needs)",
    )


class Framing:
    """One way of putting our IP packets on a packet socket (see the module docstring)."""

    __slots__ = ("layer", "link_header_len", "send_on_bound_address", "socket_kind", "writes_link_header")

    def __init__(
        self, layer: Layer, socket_kind: int, link_header_len: int, *, send_on_bound_address: bool
    ) -> None:
        self.layer = layer
        self.socket_kind = socket_kind
        #: Where the IP header starts in what we write and what the socket gives us.
        self.link_header_len = link_header_len
        self.writes_link_header = link_header_len > 0
        #: Send with send(2) on the bound sockaddr_ll, not sendto: Python's sendto looks the
        #: interface name up (SIOCGIFINDEX) on every call. Only a raw socket can: at SOCK_DGRAM
        #: the destination MAC of the kernel's link header travels in the sendto address.
        self.send_on_bound_address = send_on_bound_address

    def __repr__(self) -> str:
        return f"Framing({self.layer.value})"

    def check_link(self, ifname: str, has_link_header: bool, src_mac: bytes | None) -> None:
        """Refuse a link this framing cannot write (ethernet: one without MAC addresses)."""
        if self.writes_link_header and (not has_link_header or src_mac is None):
            raise no_hardware_address(ifname)

    def pcap_linktype(self, has_link_header: bool) -> int:
        """How ``--pcap`` records this layer: Ethernet wherever a link header exists (at layer ip
        the kernel writes it, and -v/--pcap rebuild it), else raw IP."""
        return LINKTYPE_ETHERNET if self.writes_link_header or has_link_header else LINKTYPE_RAW

    def link_header(self, next_hop_mac: bytes | None, src_mac: bytes | None, ethertype: int) -> bytes:
        """What we write in front of each IP packet: the Ethernet header (destination MAC, source
        MAC, EtherType), or nothing where the kernel writes it."""
        if not self.writes_link_header:
            return b""
        return (next_hop_mac or _ZERO_MAC) + (src_mac or _ZERO_MAC) + ethertype.to_bytes(2, "big")

    def kernel_link_header(
        self, has_link_header: bool, next_hop_mac: bytes | None, src_mac: bytes | None, ethertype: int
    ) -> bytes:
        """The link header the kernel writes in front of our packet (``header_ops->create`` with
        ``sll_addr`` as destination): only at layer ip, on a link with one, to a known next hop."""
        if self.writes_link_header or not has_link_header or next_hop_mac is None:
            return b""
        return next_hop_mac + (src_mac or _ZERO_MAC) + ethertype.to_bytes(2, "big")

    def removed_link_header(
        self,
        has_link_header: bool,
        address: tuple[str, int, int, int, bytes] | None,
        src_mac: bytes | None,
        ethertype: int,
    ) -> bytes:
        """The link header the kernel removed from a received packet (layer ip), rebuilt from its
        sockaddr_ll (packet(7)): ``sll_addr`` is the sender's MAC, ``sll_pkttype`` says where it
        was addressed (PACKET_HOST: our MAC; PACKET_BROADCAST: all ones; else zeros)."""
        if self.writes_link_header or not has_link_header or address is None:
            return b""
        pkttype, sender = address[2], address[4][:6].ljust(6, b"\0")
        if pkttype == _linux.PACKET_HOST:
            destination = src_mac or _ZERO_MAC
        else:
            destination = _BROADCAST_MAC if pkttype == _linux.PACKET_BROADCAST else _ZERO_MAC
        return destination + sender + ethertype.to_bytes(2, "big")


NO_LINK_HEADER: Final = Framing(Layer.IP, socket.SOCK_DGRAM, 0, send_on_bound_address=False)
ETHERNET: Final = Framing(Layer.ETHERNET, socket.SOCK_RAW, ETHERNET_HEADER_LEN, send_on_bound_address=True)


def framing_for(layer: Layer) -> Framing:
    """The framing of a link layer (``ip`` or ``ethernet``)."""
    if layer is Layer.ETHERNET:
        return ETHERNET
    if layer is Layer.IP:
        return NO_LINK_HEADER
    raise ValueError(f"no packet-socket framing for layer {layer.value}")
