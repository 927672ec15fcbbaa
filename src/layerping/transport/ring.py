"""A packet socket's receive ring (``PACKET_RX_RING``, ``TPACKET_V2``; packet(7), and
Documentation/networking/packet_mmap.rst in the kernel tree).

Why: a reply read with ``recvmsg`` costs a system call, a buffer the size of the largest
datagram, and (in CPython, for ``AF_PACKET``) one more ``ioctl(SIOCGIFNAME)`` to name the
interface in the returned address; the caller also asks ``poll`` whether another packet waits.
With a ring the kernel copies every frame that passes the socket's BPF program into memory
shared with us, with its timestamp and ``sockaddr_ll`` in a header: reading one is a few
``unpack_from`` calls and no system call at all. That is what lets ``--layer ip`` and
``--layer ethernet`` answer as fast as the kernel's own ICMP socket (bench/layers.py).

Layout of one frame (``struct tpacket2_hdr``, then ``struct sockaddr_ll``, then the data at
``tp_mac``; the network header at ``tp_net``)::

    u32 tp_status   u32 tp_len   u32 tp_snaplen   u16 tp_mac   u16 tp_net
    u32 tp_sec      u32 tp_nsec  u16 tp_vlan_tci  u16 tp_vlan_tpid  u8 pad[4]
    sockaddr_ll: u16 family, be16 protocol, i32 ifindex, u16 hatype, u8 pkttype, u8 halen,
                 u8 addr[8]

A frame belongs to us while ``tp_status`` has ``TP_STATUS_USER``; writing ``TP_STATUS_KERNEL``
(0) hands it back. Frames are used in order, so one index says where the next one will be.
``tp_sec``/``tp_nsec`` are the receive timestamp on CLOCK_REALTIME (the skb's, which
``SO_TIMESTAMPNS`` on the socket asks the kernel to take at arrival), as for ``recvmsg``.
"""

from __future__ import annotations

import socket
import struct
import sys
from typing import TYPE_CHECKING, Final

from layerping import _linux

if TYPE_CHECKING:
    import mmap

TPACKET_V2: Final = 1  # enum tpacket_versions (linux/if_packet.h)
TP_STATUS_KERNEL: Final = 0
TP_STATUS_USER: Final = 1

#: What a reader needs of a frame, in one ``unpack_from`` at its start (native byte order, as the
#: kernel writes them): tp_status, tp_len, tp_snaplen, tp_mac, tp_net, tp_sec, tp_nsec of the
#: tpacket2_hdr; then, past its VLAN fields and padding, from the ``sockaddr_ll`` at
#: TPACKET_ALIGN(sizeof(struct tpacket2_hdr)) = 32, sll_pkttype and the first 6 bytes of sll_addr
#: (family, protocol, ifindex and hatype skipped; sll_halen too: our links have 6-byte MACs).
FRAME_FIELDS: Final = struct.Struct("=IIIHHII8x10xBx6s")
#: The byte of tp_status that holds TP_STATUS_USER (bit 0), so one byte tells whose a frame is.
STATUS_LOW_BYTE: Final = 0 if sys.byteorder == "little" else 3
#: Written over tp_status to hand a frame back (TP_STATUS_KERNEL in all four bytes).
KERNEL_OWNED: Final = bytes(4)
_TPACKET_REQ: Final = struct.Struct("=IIII")  # block size, block count, frame size, frame count

#: Where the kernel puts the data in a frame (net/packet/af_packet.c, tpacket_rcv): the network
#: header at TPACKET_ALIGN(TPACKET2_HDRLEN + max(16, link header)), the link header before it.
_DATA_ROOM: Final = 80 + 16  # the network header's offset, and room for a VLAN tag or two


def frame_size_for(mtu: int) -> int:
    """A frame that holds the header, the link header and a datagram of ``mtu`` bytes: a power
    of two from 2048, so that whole frames fill every page-sized block."""
    size = 2048
    while size < _DATA_ROOM + 14 + mtu:
        size *= 2
    return size


def parse_frame(buffer: mmap.mmap | bytes | bytearray, offset: int) -> (
    tuple[int, int, int, int, int, int, int, bytes] | None
):  # fmt: skip
    """The frame at ``offset`` if it is ours (``TP_STATUS_USER``), else None.

    Returns (status, tp_len, tp_snaplen, tp_mac, tp_net, receive time in ns, sll_pkttype,
    sender's MAC). The reference reader of this layout, checked by the unit tests against the
    kernel's structs; the transport's per-reply loop does the same inline, with the same struct.
    """
    status, length, snaplen, mac, net, seconds, nanoseconds, pkttype, sender = FRAME_FIELDS.unpack_from(
        buffer, offset
    )
    if not status & TP_STATUS_USER:
        return None
    return status, length, snaplen, mac, net, seconds * 1_000_000_000 + nanoseconds, pkttype, sender


class RxRing:
    """The receive ring of one packet socket, read in order: frame ``offsets[index]`` is next.

    A reader that writes :func:`parse_frame` out takes the frame layout from the ring's class
    attributes, so that it need not import this module before a fast run makes a ring.
    """

    FRAME_FIELDS: Final = FRAME_FIELDS
    STATUS_LOW_BYTE: Final = STATUS_LOW_BYTE
    TP_STATUS_USER: Final = TP_STATUS_USER
    KERNEL_OWNED: Final = KERNEL_OWNED

    def __init__(self, sock: socket.socket, frame_size: int, frame_count: int) -> None:
        import mmap  # only fast runs at the link layers get here

        page = mmap.PAGESIZE
        block_size = max(page, frame_size)
        frames_per_block = block_size // frame_size
        block_count = max(1, -(-frame_count // frames_per_block))
        self.frame_size = frame_size
        self.frame_count = block_count * frames_per_block
        sock.setsockopt(_linux.SOL_PACKET, _linux.PACKET_VERSION, TPACKET_V2)
        request = _TPACKET_REQ.pack(block_size, block_count, frame_size, self.frame_count)
        sock.setsockopt(_linux.SOL_PACKET, _linux.PACKET_RX_RING, request)
        self.map = mmap.mmap(
            sock.fileno(), block_size * block_count, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE
        )
        #: Frame i starts at offsets[i]; frames never straddle blocks.
        self.offsets = [
            block * block_size + k * frame_size
            for block in range(block_count)
            for k in range(frames_per_block)
        ]
        self.index = 0

    def close(self) -> None:
        self.map.close()
