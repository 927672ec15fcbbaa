"""``-v`` and ``-X``: every probe and every reply shown layer by layer, before the iputils line.

Each packet is one block written at once (so lines stay whole at any interval), headed by the
kernel timestamp the RTT uses and the direction, then the ``tcpdump -n -v -e`` decode
(:mod:`layerping.output.tcpdump`), then with ``-X`` the ``tcpdump -X`` dump of the same bytes::

    14:12:57.223198 Out (tos 0x0, ttl 64, id 16872, offset 0, flags [DF], proto ICMP (1), length 84)
        192.0.2.2 > 198.51.100.2: ICMP echo request, id 21110, seq 1, length 64
    14:12:57.223232 In  d2:46:bc:52:c4:f8 > f2:41:40:ac:d5:53, ethertype IPv4 (0x0800), length 98: (...)
        198.51.100.2 > 192.0.2.2: ICMP echo reply, id 21110, seq 1, length 64
    64 bytes from 198.51.100.2: icmp_seq=1 ttl=63 time=0.154 ms

Where the kernel wrote a header we could not see, a line says so instead of inventing it. The
dump covers every byte we have of the frame (the link header too, like ``tcpdump -XX``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address
from typing import Protocol, TextIO

from layerping.engine.session import ErrorEvent, Event, ProbeEvent, ReplyEvent
from layerping.output import hexdump as hex_view
from layerping.output import tcpdump
from layerping.transport.base import Address, Inbound
from layerping.wire.linktype import LINKTYPE_ETHERNET


class SeenFrame(Protocol):
    """What :class:`layerping.transport.tee.Seen` offers (output does not import transport)."""

    @property
    def data(self) -> bytes: ...
    @property
    def linktype(self) -> int | None: ...
    @property
    def source(self) -> Address | None: ...
    @property
    def destination(self) -> Address | None: ...
    @property
    def note(self) -> str | None: ...


class FrameSource(Protocol):
    """The tee: the frame of the probe just sent, and how a received message looked."""

    @property
    def last_seen(self) -> SeenFrame | None: ...

    def take_arp(self) -> Sequence[tuple[int, str, SeenFrame]]:
        """Our own ARP frames not shown yet, (timestamp ns, "Out"/"In ", frame), in order:
        -v shows them before the probe they served."""
        ...

    def seen(self, inbound: Inbound) -> SeenFrame: ...


def timestamp(ns: int) -> str:
    """``HH:MM:SS.ffffff`` in local time, as tcpdump stamps a packet."""
    seconds, rest_ns = divmod(ns, 1_000_000_000)
    return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{rest_ns // 1000:06d}"


def render(seen: SeenFrame, *, decode: bool, hexdump: bool) -> list[str]:
    """The lines of one frame: the decode (or first what was not visible), then the dump.

    Without ``decode`` the first line only gives the size, as a heading for the dump.
    """
    lines: list[str] = []
    if seen.note:
        lines.append(seen.note)
    if decode and seen.data:
        if seen.linktype is None:
            source, destination = seen.source, seen.destination
            decoded = tcpdump.decode_icmp(
                seen.data,
                source if isinstance(source, IPv4Address) else None,
                destination if isinstance(destination, IPv4Address) else None,
            )
        elif seen.linktype == LINKTYPE_ETHERNET:
            decoded = tcpdump.decode_ethernet(seen.data)
        else:
            decoded = tcpdump.decode_ip(seen.data)
        decoded_lines = list(decoded.lines)
        if lines and decoded_lines and not decoded_lines[0].startswith(" "):
            decoded_lines[0] = "    " + decoded_lines[0]  # under the note, as part of the block
        lines.extend(decoded_lines)
        if decoded.stopped:
            lines.append(f"    [{decoded.stopped}]")
    elif not lines:
        lines.append(f"{len(seen.data)} bytes" if decode else f"{len(seen.data)} bytes:")
    if hexdump:
        lines.extend(hex_view.hexdump(seen.data))
    return lines


class VerboseOutput:
    """An event sink that shows each packet, then hands the event to the iputils-style sink."""

    def __init__(
        self,
        frames: FrameSource,
        then: Callable[[Event], None],
        *,
        decode: bool = True,
        hexdump: bool = False,
        out: TextIO | None = None,
    ) -> None:
        self.frames = frames
        self.then = then
        self.decode = decode
        self.hexdump = hexdump
        self.out = sys.stdout if out is None else out

    def __call__(self, event: Event) -> None:
        for ns, direction, arp_seen in self.frames.take_arp():  # our own ARP, before the probe it served
            self._block(ns, direction, arp_seen)
        if isinstance(event, ProbeEvent):
            seen = self.frames.last_seen
            if seen is not None:
                self._block(event.tx_ns, "Out", seen)
        elif isinstance(event, ReplyEvent | ErrorEvent):
            self._block(event.inbound.rx_ns, "In ", self.frames.seen(event.inbound))
        self.then(event)

    def _block(self, ns: int, direction: str, seen: SeenFrame) -> None:
        lines = render(seen, decode=self.decode, hexdump=self.hexdump)
        if not lines:
            return
        head = f"{timestamp(ns)} {direction} "
        self.out.write(head + "\n".join(lines) + "\n")
        self.out.flush()
