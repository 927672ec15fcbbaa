"""Seeing the frames: a pcap tee around any Transport, and our own probes as the kernel sent them.

:class:`TeeTransport` wraps a :class:`~layerping.transport.base.Transport` and records every frame
sent and received, both for ``-v``/``-X`` (``last_seen``, :meth:`TeeTransport.seen`) and, with
``--pcap``, into a pcap file, one flushed record per frame so a run stopped with Ctrl-C leaves a
file every reader accepts. Record timestamps are the ones the RTTs are computed from: ``tx_ns``
as :meth:`send` returned it and ``Inbound.rx_ns`` (the kernel's SO_TIMESTAMPNS).

What is a frame at each layer (``Transport.pcap_linktype`` says how the file is framed):

* ``--layer ethernet``: exactly the frame we wrote, and the frame received.
* ``--layer ip``: the packet we wrote behind the link header the kernel adds for it (the
  transport's ``sent_link_header``), and what the transport received.
* ``--layer icmp``: the kernel writes the IPv4 header, so the packet that left is read back from
  the wire with :class:`OutgoingCapture` (an ``AF_PACKET`` socket seeing ``PACKET_OUTGOING``
  copies; needs CAP_NET_RAW). Without that permission, or when the copy does not show up within
  ``OUTGOING_WAIT_S``, ``-v`` says the kernel built the header, and the pcap file gets a header
  *rebuilt* from what we know (addresses, TTL, TOS, DF; IP identification 0). Replies on an ICMP
  datagram socket come without their IPv4 header either: rebuilt the same way, for the file only.

Locally generated errors (``Inbound.local_error``: our own host unreachable after a failed ARP)
never were on a wire, and errors an ICMP datagram socket reports through ``IP_RECVERR`` are
reports, not packets (only their type, code and sender are known): neither is written to the
file, and ``-v`` shows the latter as one line saying so.
"""

from __future__ import annotations

import os
import select
import socket
import stat
import sys
import time
from ipaddress import IPv4Address
from typing import BinaryIO, Final

from layerping import _linux
from layerping._value import Value
from layerping.errors import TransportError
from layerping.transport import bpf
from layerping.transport.base import Address, Inbound, Layer, Transport
from layerping.wire import icmpv4, ipv4, pcap
from layerping.wire.checksum import internet_checksum

#: How long ``send`` waits for the copy of a probe the kernel just sent (normally already queued).
OUTGOING_WAIT_S: Final = 0.01
_MAX_READS: Final = 256  # outgoing copies examined per probe, at most
_RECV_BUFFER: Final = 0xFFFF + 64
_ICMP_ECHO_REQUEST: Final = 8
_SEQ_OFFSET: Final = 6  # ICMP echo: type, code, checksum, identifier, then the sequence number
_ID_OFFSET: Final = 4
_UNRESOLVED: Final = "not sent: the next hop did not answer ARP"


def outgoing_echo_filter() -> list[bpf.Instruction]:
    """BPF for an ``AF_PACKET``/``SOCK_DGRAM`` socket: outgoing first fragments of ICMP echo requests.

    ``sll_pkttype`` and ``skb->protocol`` (skb fields, read through ``SKF_AD_PKTTYPE`` and
    ``SKF_AD_PROTOCOL``) must be ``PACKET_OUTGOING`` and IPv4; then IPv4 protocol 1, fragment
    offset 0, ICMP type 8 (RFC 791 §3.1, RFC 792).
    """
    a = bpf.BpfAssembler()
    a.stmt(bpf.BPF_LD | bpf.BPF_W | bpf.BPF_ABS, bpf.SKF_AD_OFF + bpf.SKF_AD_PKTTYPE)
    a.jump(bpf.BPF_JMP | bpf.BPF_JEQ | bpf.BPF_K, _linux.PACKET_OUTGOING, 0, "reject")
    a.stmt(bpf.BPF_LD | bpf.BPF_H | bpf.BPF_ABS, bpf.SKF_AD_OFF + bpf.SKF_AD_PROTOCOL)
    a.jump(bpf.BPF_JMP | bpf.BPF_JEQ | bpf.BPF_K, _linux.ETH_P_IP, 0, "reject")
    a.stmt(bpf.BPF_LD | bpf.BPF_B | bpf.BPF_ABS, 9)
    a.jump(bpf.BPF_JMP | bpf.BPF_JEQ | bpf.BPF_K, ipv4.IPPROTO_ICMP, 0, "reject")
    a.stmt(bpf.BPF_LD | bpf.BPF_H | bpf.BPF_ABS, 6)
    a.jump(bpf.BPF_JMP | bpf.BPF_JSET | bpf.BPF_K, 0x1FFF, "reject", 0)
    a.stmt(bpf.BPF_LDX | bpf.BPF_B | bpf.BPF_MSH, 0)
    a.stmt(bpf.BPF_LD | bpf.BPF_B | bpf.BPF_IND, 0)
    a.jump(bpf.BPF_JMP | bpf.BPF_JEQ | bpf.BPF_K, _ICMP_ECHO_REQUEST, "accept", "reject")
    a.label("accept")
    a.stmt(bpf.BPF_RET | bpf.BPF_K, bpf.ACCEPT)
    a.label("reject")
    a.stmt(bpf.BPF_RET | bpf.BPF_K, bpf.REJECT)
    return a.assemble()


class OutgoingCapture:
    """Our echo requests as they left, IPv4 header included (``--layer icmp``, CAP_NET_RAW).

    An ``AF_PACKET``/``SOCK_DGRAM`` socket for ``ETH_P_ALL`` on every interface sees a copy of
    every frame the host sends, marked ``PACKET_OUTGOING`` (packet(7); the kernel hands outgoing
    copies only to ``ETH_P_ALL`` sockets, dev_queue_xmit_nit); SOCK_DGRAM removes the link header.
    The filter keeps only IPv4 echo requests, and :meth:`take` picks ours by sequence number and
    payload (the identifier and checksum may be the kernel's).
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    def open(cls) -> OutgoingCapture | None:
        """The capture, or None when packet sockets are not allowed (no CAP_NET_RAW)."""
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC,
                                 socket.htons(_linux.ETH_P_ALL))
        except PermissionError:
            return None
        try:
            bpf.attach_filter(sock, outgoing_echo_filter())
            sock.setblocking(False)
            # The socket saw every frame until the filter was attached: drop those.
            for _ in range(_MAX_READS):
                sock.recv(_RECV_BUFFER)
        except BlockingIOError:
            pass
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    def take(self, icmp: bytes, wait_s: float = OUTGOING_WAIT_S) -> bytes | None:
        """The IPv4 packet (or first fragment) that carried ``icmp`` out; None if not seen in time."""
        deadline = time.monotonic() + wait_s
        for _ in range(_MAX_READS):
            try:
                data = self.sock.recv(_RECV_BUFFER)
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                select.select([self.sock], [], [], remaining)
                continue
            if _carries(data, icmp):
                return data
        return None

    def close(self) -> None:
        self.sock.close()


def _carries(packet: bytes, icmp: bytes) -> bool:
    """Does the IPv4 ``packet`` carry our echo request ``icmp`` (or its first fragment)?"""
    if len(packet) < ipv4.HEADER_LEN:
        return False
    header_length = (packet[0] & 0x0F) * 4
    sent = packet[header_length:]
    if len(sent) < icmpv4.HEADER_LEN or sent[0] != _ICMP_ECHO_REQUEST:
        return False
    # Sequence number and payload must match; a first fragment carries a prefix of them.
    return icmp[_SEQ_OFFSET:].startswith(sent[_SEQ_OFFSET:])


class Seen(Value):
    """One frame as ``-v``/``-X`` show it.

    ``linktype`` is ``pcap.LINKTYPE_ETHERNET`` or ``pcap.LINKTYPE_RAW``, or None when ``data`` is
    an ICMP message whose IPv4 header we could not see (then ``source``/``destination`` are what
    we know of its addresses). ``note`` says plainly what the kernel wrote that is not shown.
    """

    data: bytes
    linktype: int | None
    source: Address | None = None
    destination: Address | None = None
    note: str | None = None


class HeaderGuess(Value):
    """What we know of the IPv4 header the kernel writes at layer icmp (for the pcap file only)."""

    source: IPv4Address
    ttl: int = 64
    tos: int = 0
    dont_fragment: bool = True

    def packet(self, icmp: bytes, source: Address, destination: Address, ttl: int | None) -> bytes:
        if not isinstance(source, IPv4Address) or not isinstance(destination, IPv4Address):
            raise TransportError("--pcap at --layer icmp: only the IPv4 header can be written for the kernel")
        header = ipv4.Ipv4Header(
            tos=self.tos,
            identification=0,
            flags=ipv4.FLAG_DF if self.dont_fragment else 0,
            fragment_offset=0,
            ttl=self.ttl if ttl is None else ttl,
            protocol=ipv4.IPPROTO_ICMP,
            source=source,
            destination=destination,
        )
        return ipv4.Ipv4Packet(header, icmp).build()


class TeeTransport:
    """A Transport that passes everything through and keeps (and optionally writes) every frame."""

    def __init__(
        self,
        inner: Transport,
        *,
        pcap_stream: BinaryIO | None = None,
        outgoing: OutgoingCapture | None = None,
        guess: HeaderGuess | None = None,
    ) -> None:
        self.inner = inner
        self.layer: Layer = inner.layer
        self.kernel_owns_id = inner.kernel_owns_id
        self.pcap_linktype = inner.pcap_linktype
        self.outgoing = outgoing
        self.guess = guess
        self.last_sent = b""
        self.last_seen: Seen | None = None
        self._last_received: tuple[Inbound, bytes] | None = None
        self.writer: pcap.PcapWriter | None = None
        #: Why the pcap file stopped growing (a write failed), or None.
        self.pcap_failure: str | None = None
        self._pcap_stream = pcap_stream
        self._pcap_end = 0  # where the last whole record ends
        self._pcap_records = 0
        if pcap_stream is not None:
            try:
                self.writer = pcap.PcapWriter(pcap_stream, self.pcap_linktype)
                self._pcap_end = pcap.FILE_HEADER_LEN
            except OSError as exc:
                self._stop_capture(exc)
        # Our own ARP (layers ip and ethernet): the inner transport's growing log of frames.
        self._arp_frames: list[tuple[int, bool, bytes]] = inner.arp_frames
        self._arp_taken = 0
        #: ARP frames not yet shown by ``-v``: (timestamp ns, "Out"/"In ", frame).
        self.arp_pending: list[tuple[int, str, Seen]] = []
        self._log_arp()

    # -- Transport ---------------------------------------------------------------------------------
    def fileno(self) -> int:
        return self.inner.fileno()

    def _log_arp(self) -> None:
        """Write and queue for display the ARP frames logged since the last look."""
        frames = self._arp_frames
        while self._arp_taken < len(frames):
            ts_ns, outgoing, frame = frames[self._arp_taken]
            self._arp_taken += 1
            if self.writer is not None and self.pcap_linktype == pcap.LINKTYPE_ETHERNET:
                self._write(ts_ns, frame)
            direction = "Out" if outgoing else "In "
            self.arp_pending.append((ts_ns, direction, Seen(frame, pcap.LINKTYPE_ETHERNET)))

    def take_arp(self) -> list[tuple[int, str, Seen]]:
        """The ARP frames not shown yet (``-v`` shows them before the probe they served)."""
        pending, self.arp_pending = self.arp_pending, []
        return pending

    # What -v, --pcap and batch I/O read of a transport (transport/base.py): the inner one's.
    @property
    def sock(self) -> socket.socket | None:
        return self.inner.sock

    @property
    def receives_ip_header(self) -> bool:
        return self.inner.receives_ip_header

    @property
    def arp_frames(self) -> list[tuple[int, bool, bytes]]:
        return self._arp_frames

    @property
    def unresolved(self) -> bool:
        return self.inner.unresolved

    @property
    def sent_link_header(self) -> bytes:
        return self.inner.sent_link_header

    def received_link_header(self) -> bytes:
        return self.inner.received_link_header()

    def local_identifier(self) -> int | None:
        return self.inner.local_identifier()

    def send(self, icmp: bytes, dst: Address) -> int:
        tx_ns = self.inner.send(icmp, dst)
        self._log_arp()
        self.last_sent = self.inner.last_sent
        seen, for_file = self._sent(icmp, dst)
        self.last_seen = seen
        if for_file is not None and self.writer is not None:
            self._write(tx_ns, for_file)
        return tx_ns

    def recv(self) -> Inbound | None:
        self._log_arp()
        inbound = self.inner.recv()
        if inbound is None:
            return None
        # The link header the kernel removed (layer ip) is known only until the next recv.
        link_header = self.inner.received_link_header()
        self._last_received = (inbound, link_header + inbound.raw)
        if self.writer is not None and not inbound.local_error:
            frame = self._received_for_file(inbound)
            if frame is not None:
                self._write(inbound.rx_ns, frame)
        return inbound

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            if self.outgoing is not None:
                self.outgoing.close()
            if self.writer is not None:
                self.writer.close()

    # -- what was sent -----------------------------------------------------------------------------
    def _sent(self, icmp: bytes, dst: Address) -> tuple[Seen, bytes | None]:
        """The frame as -v shows it, and as the pcap file records it (None: not written)."""
        sent = self.last_sent
        if self.layer is Layer.ETHERNET:
            if self.inner.unresolved:
                return Seen(sent, pcap.LINKTYPE_ETHERNET, note=_UNRESOLVED), None
            return Seen(sent, pcap.LINKTYPE_ETHERNET), sent
        if self.layer is Layer.IP:
            if self.inner.unresolved:
                # Nothing left: the next hop never answered ARP (the transport reports the probe
                # as Destination Host Unreachable, as the kernel would).
                return Seen(sent, pcap.LINKTYPE_RAW, note=_UNRESOLVED), None
            # The kernel puts the link header in front of our packet: the file gets it too.
            link_header = self.inner.sent_link_header
            if self.pcap_linktype == pcap.LINKTYPE_ETHERNET and not link_header:
                raise TransportError("--pcap: the transport did not say which link header the kernel wrote")
            return Seen(sent, pcap.LINKTYPE_RAW), link_header + sent
        # Layer icmp: the kernel wrote the IPv4 header (and the identifier, on a datagram socket).
        on_wire = self._as_kernel_sends(sent)
        packet = self.outgoing.take(sent) if self.outgoing is not None else None
        guess = self.guess
        if packet is not None:
            return Seen(packet, pcap.LINKTYPE_RAW), packet
        if self.outgoing is None:
            why = (
                "ICMP datagram socket" if self.kernel_owns_id else "no packet socket to read it back"
            ) + ": not visible without CAP_NET_RAW"
        else:
            why = f"its copy was not seen leaving within {OUTGOING_WAIT_S * 1000:g} ms"
        source = guess.source if guess is not None else None
        seen = Seen(on_wire, None, source, dst, f"IPv4 header written by the kernel ({why})")
        if guess is None:
            return seen, None
        return seen, guess.packet(on_wire, guess.source, dst, None)

    def _as_kernel_sends(self, icmp: bytes) -> bytes:
        """The echo request as the kernel sends it: on a datagram socket with its own identifier."""
        if not self.kernel_owns_id or len(icmp) < icmpv4.HEADER_LEN:
            return icmp
        identifier = self.inner.local_identifier()
        if identifier is None:
            return icmp
        message = bytearray(icmp)
        message[_ID_OFFSET : _ID_OFFSET + 2] = identifier.to_bytes(2, "big")
        checksum = slice(icmpv4.CHECKSUM_OFFSET, icmpv4.CHECKSUM_OFFSET + 2)
        message[checksum] = b"\0\0"
        message[checksum] = internet_checksum(message).to_bytes(2, "big")
        return bytes(message)

    # -- what was received -------------------------------------------------------------------------
    def seen(self, inbound: Inbound) -> Seen:
        """A received message as -v shows it."""
        raw = inbound.raw
        if self.layer is Layer.ICMP and len(raw) == len(inbound.icmp):
            source = self.guess.source if self.guess is not None else None
            if inbound.from_error_queue:
                # The message was rebuilt from the error report: only its type and code are real.
                kind = f"type {inbound.icmp[0]}, code {inbound.icmp[1]}" if len(inbound.icmp) >= 2 else "?"
                note = (f"ICMP error from {inbound.src} ({kind}) reported by the kernel through IP_RECVERR; "
                        "the packet itself is not visible")
                return Seen(b"", None, inbound.src, inbound.dst or source, note)
            ttl = f"ttl {inbound.ttl} from IP_TTL" if inbound.ttl is not None else "no TTL"
            note = f"IPv4 header not visible on an ICMP datagram socket ({ttl})"
            return Seen(inbound.icmp, None, inbound.src, inbound.dst or source, note)
        if self.layer is Layer.ICMP:
            return Seen(raw, pcap.LINKTYPE_RAW)
        if inbound.local_error:
            return Seen(raw, pcap.LINKTYPE_RAW, note="generated here: the next hop did not answer ARP")
        return Seen(self._frame_of(inbound), self.pcap_linktype)

    def _frame_of(self, inbound: Inbound) -> bytes:
        """``inbound.raw`` with the link header the kernel removed, when it removed one."""
        last = self._last_received
        if last is not None and last[0] is inbound:
            return last[1]
        return inbound.raw

    def _received_for_file(self, inbound: Inbound) -> bytes | None:
        raw = inbound.raw
        if inbound.from_error_queue:
            return None  # an error report, not a packet: its quote would be made up
        if self.layer is Layer.ICMP and len(raw) == len(inbound.icmp):
            guess = self.guess
            if guess is None:
                return None
            return guess.packet(inbound.icmp, inbound.src, inbound.dst or guess.source, inbound.ttl)
        return self._frame_of(inbound)

    def _write(self, ts_ns: int, frame: bytes) -> None:
        writer = self.writer
        assert writer is not None
        try:
            writer.write(ts_ns, frame)
        except OSError as exc:
            self._stop_capture(exc)
            return
        self._pcap_end += pcap.RECORD_HEADER_LEN + min(len(frame), writer.snaplen)
        self._pcap_records += 1

    def _stop_capture(self, exc: OSError) -> None:
        """A write failed (disk full, /dev/full, I/O error): say so in one line, cut the file back
        to its last whole record, and write no more; the ping goes on (tcpdump stops instead,
        but a ping's statistics are worth more than its capture)."""
        stream = self._pcap_stream
        assert stream is not None
        self.writer = None
        self._pcap_stream = None
        name = stream.name
        kept = f"{self._pcap_records} whole records kept" if self._pcap_end else "nothing written"
        self.pcap_failure = f"cannot write {name}: {exc.strerror}; capture stopped ({kept}), the ping goes on"
        sys.stderr.write(f"layerping: {self.pcap_failure}\n")
        # What the failed write left in the buffer must not reach the file later: close through
        # a duplicate descriptor (close tries one last flush), then cut at the last whole record.
        try:
            duplicate = os.dup(stream.fileno())
        except (OSError, ValueError):
            duplicate = -1
        try:
            stream.close()
        except OSError:
            pass
        if duplicate >= 0:
            try:
                if stat.S_ISREG(os.fstat(duplicate).st_mode):
                    os.ftruncate(duplicate, self._pcap_end)
            except OSError:
                pass
            finally:
                os.close(duplicate)
