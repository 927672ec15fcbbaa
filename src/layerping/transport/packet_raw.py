"""``--layer ethernet``: we write the whole Ethernet II frame (``AF_PACKET``/``SOCK_RAW``).

The frame is destination MAC (the next hop's), source MAC (our interface's, or ``--src-mac``),
EtherType 0x0800, then our IPv4 packet (:class:`~layerping.transport.packet_dgram.Ipv4HeaderWriter`).
The socket is bound to the interface and ``ETH_P_IP``, so ``send`` needs no address and the
kernel queues the bytes to the driver as they are (packet(7): "SOCK_RAW packets are passed to
and from the device driver without any changes in the packet data"). No padding is added to
the 60-byte minimum: the kernel's own stack does not pad either, the NIC driver does.

The loopback device takes the same 14-byte header with zero MACs (drivers/net/loopback.c runs
``eth_type_trans`` on it). A device without a hardware address (a tun device in IFF_TUN mode,
ARPHRD_NONE, or a point-to-point link) has no link header to write: opening is refused with a
one-line :class:`~layerping.errors.UsageError` that points to ``--layer ip``.

Receiving, checksums, timestamps, fragmentation and the unresolved-neighbour behaviour are those
of ``--layer ip`` (see :mod:`layerping.transport.packet_dgram`); only the 14-byte offset of the
IPv4 header differs, and the BPF program also checks the EtherType.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from layerping.errors import UsageError
from layerping.transport.base import Layer
from layerping.transport.packet_dgram import PacketDgramTransport
from layerping.wire.ethernet import HEADER_LEN, ZERO_MAC, EthernetFrame, EtherType
from layerping.wire.linktype import LINKTYPE_ETHERNET

if TYPE_CHECKING:
    pass


def no_hardware_address(ifname: str) -> UsageError:
    """The one-line refusal for ``--layer ethernet`` on a link without MAC addresses."""
    return UsageError(
        f"--layer ethernet needs an interface with a hardware address, and {ifname} has none",
        f"use --layer ip on {ifname} (the kernel then adds whatever link header it needs)",
    )


class PacketRawTransport(PacketDgramTransport):
    """``--layer ethernet``: Ethernet II frames of our own over ``AF_PACKET``/``SOCK_RAW``."""

    layer: Layer = Layer.ETHERNET
    pcap_linktype: int = LINKTYPE_ETHERNET  # Inbound.raw and last_sent are whole Ethernet frames
    _socket_kind = socket.SOCK_RAW
    _link_header_len = HEADER_LEN
    _send_on_bound_address = True  # bound to (ifname, ETH_P_IP): the sockaddr_ll comes from bind

    def _check_link(self) -> None:
        if not self.plan.has_link_header or self.plan.src_mac is None:
            raise no_hardware_address(self.plan.ifname)
        self.src_mac: bytes = self.plan.src_mac  # our half of every frame's link header

    def _set_next_hop_mac(self, next_hop_mac: bytes | None) -> None:
        super()._set_next_hop_mac(next_hop_mac)
        # Destination MAC, source MAC, EtherType IPv4 (IEEE 802.3 clause 3.2.6): the same for
        # every frame of the run, so it is built once.
        self.link_header = EthernetFrame(
            next_hop_mac if next_hop_mac is not None else ZERO_MAC, self.src_mac, EtherType.IPV4, b""
        ).build()
