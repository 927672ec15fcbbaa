"""Transports for tests: no socket is needed to send, and every answer is scripted.

The role of smoltcp's ``Loopback`` and ``FaultInjector`` devices. :class:`ScriptedTransport`
answers each probe the way its script says for that sequence number (answer, drop, duplicate,
reorder, corrupt, ICMP error, late, foreign identifier or cookie, refuse to send), building every
reply with the wire classes from the request it was actually given. :class:`PcapReplayTransport`
replays the inbound ICMP messages of a capture.

Time. A transport takes a clock with ``monotonic_ns()`` (when a message may be received) and
``realtime_ns()`` (the ``tx_ns``/``rx_ns`` stamps, CLOCK_REALTIME like SO_TIMESTAMPNS). With a
:class:`FakeClock` nothing happens until the test advances the clock, so a session test is
deterministic and never sleeps; :meth:`ScriptedTransport.next_arrival_ns` says when to advance
it to. With the default :class:`SystemClock` the transport works under the real ``Runner``: a
helper thread makes :meth:`fileno` readable when a scripted answer falls due.

Receive stamps are exact: ``rx_ns = tx_ns + rtt_ns`` (plus any step of the fake wall clock in
between), as if the kernel had stamped the packet the moment it arrived, so an RTT printed from a
scripted answer is the RTT in the script, also on the real clock.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from ipaddress import IPv4Address
from typing import BinaryIO, Protocol

from layerping._value import Value, replace
from layerping.errors import WireError
from layerping.transport.base import Inbound, Layer, SendFailed
from layerping.wire import ethernet, ipv4, pcap
from layerping.wire.icmpv4 import (
    QUOTED_PAYLOAD_MIN,
    DestinationUnreachable,
    Echo,
    IcmpType,
    ParameterProblem,
    Redirect,
    SourceQuench,
    TimeExceeded,
    TimeExceededCode,
    UnreachableCode,
    peek_echo,
)
from layerping.wire.ipv4 import IPPROTO_ICMP, Ipv4Header, Ipv4Packet

#: Where the fake host sits: the source of our probes and destination of the answers.
DEFAULT_SOURCE = IPv4Address("192.0.2.100")
DEFAULT_RTT_NS = 123_000
#: What Linux puts in place of our identifier on an ICMP datagram socket (the socket's "port").
DEFAULT_KERNEL_IDENTIFIER = 0x4C50
_COOKIE_LEN = 8  # the session's per-run cookie at the start of the payload
_LINUX_SLL_HEADER_LEN = 16  # LINKTYPE_LINUX_SLL: packet type, ARPHRD, addr len, addr(8), protocol
_LINUX_SLL_PROTOCOL_OFFSET = 14


# --- clocks ------------------------------------------------------------------------------------


class Clock(Protocol):
    """The two clocks a transport reads: CLOCK_MONOTONIC and CLOCK_REALTIME, in ns."""

    def monotonic_ns(self) -> int: ...

    def realtime_ns(self) -> int: ...


class SystemClock:
    """The real clocks (what the Runner uses by default)."""

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def realtime_ns(self) -> int:
        return time.time_ns()

    def __call__(self) -> int:
        return time.monotonic_ns()


class FakeClock:
    """Clocks that move only when told to. Pass the instance itself as a Runner-style ``clock``.

    Both clocks advance together; :meth:`step_realtime` moves the wall clock alone, as NTP or
    ``date -s`` would (the monotonic clock never goes back).
    """

    def __init__(
        self, monotonic_ns: int = 1_000_000_000_000, realtime_ns: int = 1_700_000_000_000_000_000
    ) -> None:
        self._monotonic_ns = monotonic_ns
        self.realtime_offset_ns = realtime_ns - monotonic_ns

    def monotonic_ns(self) -> int:
        return self._monotonic_ns

    def realtime_ns(self) -> int:
        return self._monotonic_ns + self.realtime_offset_ns

    def __call__(self) -> int:
        return self._monotonic_ns

    def advance(self, ns: int) -> None:
        if ns < 0:
            raise ValueError(f"a monotonic clock does not go back ({ns} ns)")
        self._monotonic_ns += ns

    def advance_to(self, monotonic_ns: int) -> None:
        """Move to ``monotonic_ns``; a time in the past leaves the clock where it is."""
        self._monotonic_ns = max(self._monotonic_ns, monotonic_ns)

    def step_realtime(self, ns: int) -> None:
        """Step the wall clock alone by ``ns`` (negative: back in time)."""
        self.realtime_offset_ns += ns


# --- the script --------------------------------------------------------------------------------


class Reply(Value):
    """Answer with an echo reply built from the request.

    ``copies`` > 1 sends duplicates, ``copy_gap_ns`` apart. ``after_seq`` holds the reply back
    until the reply to that sequence number has been delivered (reordering). ``corrupt`` spoils
    the ICMP checksum. ``foreign_identifier`` answers with another identifier (ours xor 0x8000) or
    ``identifier`` with a given one; ``foreign_cookie`` inverts our cookie (a parallel run's
    reply); ``payload`` replaces the whole payload (wrong data).
    """

    rtt_ns: int = DEFAULT_RTT_NS
    ttl: int | None = 63
    src: IPv4Address | None = None  # default: the probe's destination
    copies: int = 1
    copy_gap_ns: int = 0
    after_seq: int | None = None
    corrupt: bool = False
    foreign_identifier: bool = False
    identifier: int | None = None
    foreign_cookie: bool = False
    payload: bytes | None = None


class Drop(Value):
    """The probe or its answer is lost."""


class IcmpError(Value):
    """Answer with an ICMP error from ``router``, quoting the probe's IPv4 header + its first bytes.

    ``quote_len`` is how many bytes of the probe's ICMP message are quoted (RFC 792: at least 8).
    ``quote_identifier``/``quote_destination`` falsify the quote (an error about someone else's
    datagram, which must be ignored).
    """

    icmp_type: int
    code: int
    router: IPv4Address
    rtt_ns: int = DEFAULT_RTT_NS
    ttl: int | None = 254
    gateway: IPv4Address | None = None  # Redirect: the better next hop
    next_hop_mtu: int = 0  # Destination Unreachable code 4 (RFC 1191)
    pointer: int = 0  # Parameter Problem
    quote_len: int = QUOTED_PAYLOAD_MIN
    quote_identifier: int | None = None
    quote_destination: IPv4Address | None = None


class Refuse(Value):
    """``send`` raises :class:`SendFailed`, as the kernel refuses e.g. an unroutable probe."""

    err: int = errno.ENETUNREACH
    text: str = "sendmsg: Network is unreachable"


Action = Reply | Drop | IcmpError | Refuse
Actions = Action | Sequence[Action]
#: What a probe the script says nothing about gets: an echo reply.
DEFAULT_ACTION = Reply()
Script = Mapping[int, Actions] | Callable[[int, int], Actions]
"""Per sequence number: ``{seq: actions}``, or ``f(seq, send_index) -> actions``."""


def duplicate(copies: int = 2, rtt_ns: int = DEFAULT_RTT_NS, copy_gap_ns: int = 1_000) -> Reply:
    """The answer arrives ``copies`` times (the first counts, the others are duplicates)."""
    return Reply(rtt_ns, copies=copies, copy_gap_ns=copy_gap_ns)


def reorder(after_seq: int, rtt_ns: int = DEFAULT_RTT_NS) -> Reply:
    """Delivered right after the reply to ``after_seq``, not before."""
    return Reply(rtt_ns, after_seq=after_seq)


def corrupt(rtt_ns: int = DEFAULT_RTT_NS) -> Reply:
    """The answer arrives with a bad ICMP checksum."""
    return Reply(rtt_ns, corrupt=True)


def late(timeout_ns: int, by_ns: int = 1_000_000) -> Reply:
    """Answered ``by_ns`` after a ``-W`` of ``timeout_ns``."""
    return Reply(timeout_ns + by_ns)


def unreachable(
    router: IPv4Address, code: int = UnreachableCode.HOST, rtt_ns: int = DEFAULT_RTT_NS
) -> IcmpError:
    """Destination Unreachable (net: code 0, host: code 1) from ``router``."""
    return IcmpError(IcmpType.DEST_UNREACHABLE, code, router, rtt_ns)


def time_exceeded(router: IPv4Address, rtt_ns: int = DEFAULT_RTT_NS) -> IcmpError:
    """Time Exceeded in transit from ``router``."""
    return IcmpError(IcmpType.TIME_EXCEEDED, TimeExceededCode.TTL_EXCEEDED, router, rtt_ns)


def source_quench(router: IPv4Address, rtt_ns: int = DEFAULT_RTT_NS) -> IcmpError:
    """Source Quench (RFC 792; deprecated by RFC 6633) from ``router``."""
    return IcmpError(IcmpType.SOURCE_QUENCH, 0, router, rtt_ns)


def redirect(
    router: IPv4Address, gateway: IPv4Address, code: int = 1, rtt_ns: int = DEFAULT_RTT_NS
) -> IcmpError:
    """Redirect (host by default) from ``router`` naming ``gateway`` as the better next hop."""
    return IcmpError(IcmpType.REDIRECT, code, router, rtt_ns, gateway=gateway)


# --- what the transport records ----------------------------------------------------------------


class SentProbe(Value):
    """One call to ``send``: what went out (after the kernel's identifier rewrite) and when."""

    index: int
    seq: int
    identifier: int
    icmp: bytes
    dst: IPv4Address
    tx_ns: int
    monotonic_ns: int
    refused: bool = False


@dataclass(order=True)
class _Pending:
    """A scheduled message: receivable from ``due_ns`` (CLOCK_MONOTONIC) on."""

    due_ns: int
    order: int
    inbound: Inbound = dataclass_field(compare=False)
    seq: int | None = dataclass_field(compare=False, default=None)  # the probe a reply answers
    offset_ns: int = dataclass_field(compare=False, default=0)  # fake wall-clock offset when rx_ns was set


class _Waker:
    """A helper thread that makes the transport's descriptor readable when an answer falls due."""

    def __init__(self, clock: Clock, wake: Callable[[], None]) -> None:
        self._clock = clock
        self._wake = wake
        self._cond = threading.Condition()
        self._times: list[int] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="fake-transport-waker", daemon=True)
        self._thread.start()

    def at(self, due_ns: int) -> None:
        with self._cond:
            heapq.heappush(self._times, due_ns)
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                if not self._times:
                    self._cond.wait()
                    continue
                delay_ns = self._times[0] - self._clock.monotonic_ns()
                if delay_ns > 0:
                    self._cond.wait(delay_ns / 1e9)
                    continue
                heapq.heappop(self._times)
                self._wake()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)


class _Pipe:
    """A socketpair whose read end is the transport's fileno(): readable = something may be due."""

    def __init__(self) -> None:
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)

    def wake(self) -> None:
        try:
            self.writer.send(b"\0")
        except OSError:
            pass  # full (so already readable) or closed

    def drain(self) -> None:
        try:
            while self.reader.recv(4096):
                pass
        except OSError:
            pass  # drained (BlockingIOError) or closed

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


class _NoSocket:
    """What the Transport protocol declares for -v, --pcap and batch I/O, for a transport with no
    socket and no link layer of its own (transport/base.py)."""

    sock: socket.socket | None = None
    receives_ip_header = True
    unresolved = False
    sent_link_header = b""

    @property
    def arp_frames(self) -> list[tuple[int, bool, bytes]]:
        return []

    def received_link_header(self) -> bytes:
        return b""

    def local_identifier(self) -> int | None:
        return None  # not known to the tee: -v shows the probe as the session wrote it


class ScriptedTransport(_NoSocket):
    """A Transport whose network is a script: ``script[seq]`` decides how each probe is answered.

    Sequence numbers without an entry get ``default`` (an answer after ``DEFAULT_RTT_NS``). A
    script entry applies to every probe carrying that sequence number (after a wrap too); use a
    callable ``script(seq, send_index)`` to tell them apart.

    ``kernel_owns_id`` mimics an ICMP datagram socket: the identifier of every request is
    rewritten to ``kernel_identifier`` before it "leaves", so replies carry that identifier and
    not the session's. ``send_cost_ns`` advances a :class:`FakeClock` by that much inside each
    ``send`` (a slow system call, i.e. a late runner).
    """

    def __init__(
        self,
        script: Script | None = None,
        *,
        default: Actions = DEFAULT_ACTION,
        clock: Clock | None = None,
        source: IPv4Address = DEFAULT_SOURCE,
        layer: Layer = Layer.ICMP,
        kernel_owns_id: bool = False,
        kernel_identifier: int = DEFAULT_KERNEL_IDENTIFIER,
        probe_ttl: int = 64,
        send_cost_ns: int = 0,
    ) -> None:
        self.layer = layer
        self.kernel_owns_id = kernel_owns_id
        self.kernel_identifier = kernel_identifier
        self.pcap_linktype = pcap.LINKTYPE_RAW  # inbound raw: IPv4 packets, as a raw ICMP socket gives
        self.last_sent = b""
        self.script: Script = {} if script is None else script
        self.default = default
        self.clock: Clock = SystemClock() if clock is None else clock
        self.source = source
        self.probe_ttl = probe_ttl
        self.send_cost_ns = send_cost_ns
        self.sent: list[SentProbe] = []
        self.delivered: list[Inbound] = []
        self.closed = False
        self._queue: list[_Pending] = []
        self._held: dict[int, list[_Pending]] = {}  # after_seq -> replies waiting for it
        self._order = itertools.count()
        self._ip_ident = itertools.count(0x1000)
        self._pipe = _Pipe()
        self._fake = isinstance(self.clock, FakeClock)
        self._waker = None if self._fake else _Waker(self.clock, self._pipe.wake)

    # -- Transport ------------------------------------------------------------------------------
    def fileno(self) -> int:
        return self._pipe.reader.fileno()

    def send(self, icmp: bytes, dst: IPv4Address) -> int:
        if self.closed:
            raise SendFailed(errno.EBADF, "sendmsg: Bad file descriptor")
        clock = self.clock
        tx_ns = clock.realtime_ns()
        mono_ns = clock.monotonic_ns()
        if self.send_cost_ns and isinstance(clock, FakeClock):
            clock.advance(self.send_cost_ns)
        request = Echo.parse(icmp)
        handed = icmp
        if self.kernel_owns_id:
            request = replace(request, identifier=self.kernel_identifier, checksum=None)
            icmp = request.build()
        index = len(self.sent)
        actions = self._actions(request.sequence, index)
        refusal = next((a for a in actions if isinstance(a, Refuse)), None)
        self.sent.append(
            SentProbe(
                index, request.sequence, request.identifier, icmp, dst, tx_ns, mono_ns, refusal is not None
            )
        )
        if refusal is not None:
            raise SendFailed(refusal.err, refusal.text)
        self.last_sent = handed
        offset_ns = self._realtime_offset()
        for action in actions:
            if isinstance(action, Reply):
                self._schedule_reply(action, request, dst, tx_ns, mono_ns, offset_ns)
            elif isinstance(action, IcmpError):
                self._schedule_error(action, request, icmp, dst, tx_ns, mono_ns, offset_ns)
        return tx_ns

    def recv(self) -> Inbound | None:
        self._pipe.drain()
        now_ns = self.clock.monotonic_ns()
        queue = self._queue
        if not queue or queue[0].due_ns > now_ns:
            return None
        pending = heapq.heappop(queue)
        inbound = pending.inbound
        step_ns = self._realtime_offset() - pending.offset_ns
        if step_ns:
            # The fake wall clock was stepped in flight: the kernel would stamp the new time.
            inbound = replace(inbound, rx_ns=inbound.rx_ns + step_ns)
        if pending.seq is not None:
            for held in self._held.pop(pending.seq, []):
                held.due_ns = pending.due_ns
                held.order = next(self._order)
                held.inbound = replace(held.inbound, rx_ns=inbound.rx_ns)
                held.offset_ns = self._realtime_offset()
                self._push(held)
        if queue and queue[0].due_ns <= now_ns:
            self._pipe.wake()  # more is due: stay readable
        self.delivered.append(inbound)
        return inbound

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._waker is not None:
            self._waker.close()
        self._pipe.close()

    def __enter__(self) -> ScriptedTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- for tests ------------------------------------------------------------------------------
    def wake(self) -> None:
        """Make :meth:`fileno` readable now (thread-safe): a watchdog's way to unblock a Runner."""
        self._pipe.wake()

    def next_arrival_ns(self) -> int | None:
        """When (CLOCK_MONOTONIC) the next scripted message becomes receivable, or None."""
        return self._queue[0].due_ns if self._queue else None

    @property
    def pending(self) -> int:
        """Messages scheduled and not yet received (held reorderings included)."""
        return len(self._queue) + sum(len(v) for v in self._held.values())

    def inject(
        self,
        icmp: bytes,
        src: IPv4Address,
        *,
        after_ns: int = 0,
        ttl: int | None = 64,
        dst: IPv4Address | None = None,
    ) -> None:
        """Deliver an arbitrary ICMP message ``after_ns`` from now (someone else's traffic)."""
        clock = self.clock
        rx_ns = clock.realtime_ns() + after_ns
        local = self.source if dst is None else dst
        inbound = self._inbound(icmp, src, local, ttl, rx_ns)
        self._push(
            _Pending(
                clock.monotonic_ns() + after_ns, next(self._order), inbound, None, self._realtime_offset()
            )
        )

    # -- building answers -----------------------------------------------------------------------
    def _actions(self, seq: int, index: int) -> tuple[Action, ...]:
        script = self.script
        chosen: Actions
        if callable(script):
            chosen = script(seq, index)
        else:
            chosen = script.get(seq, self.default)
        if isinstance(chosen, Reply | Drop | IcmpError | Refuse):
            return (chosen,)
        return tuple(chosen)

    def _realtime_offset(self) -> int:
        return self.clock.realtime_offset_ns if isinstance(self.clock, FakeClock) else 0

    def _inbound(
        self, icmp: bytes, src: IPv4Address, dst: IPv4Address, ttl: int | None, rx_ns: int
    ) -> Inbound:
        header = Ipv4Header(
            tos=0,
            identification=next(self._ip_ident) & 0xFFFF,
            flags=0,
            fragment_offset=0,
            ttl=64 if ttl is None else ttl,
            protocol=IPPROTO_ICMP,
            source=src,
            destination=dst,
        )
        raw = Ipv4Packet(header, icmp).build()
        return Inbound(icmp=icmp, src=src, dst=dst, ttl=ttl, rx_ns=rx_ns, raw=raw, ip_checksum_ok=True)

    def _schedule_reply(
        self, action: Reply, request: Echo, dst: IPv4Address, tx_ns: int, mono_ns: int, offset_ns: int
    ) -> None:
        identifier = request.identifier
        if action.identifier is not None:
            identifier = action.identifier
        elif action.foreign_identifier:
            identifier ^= 0x8000
        payload = request.payload if action.payload is None else action.payload
        if action.foreign_cookie:
            payload = bytes(b ^ 0xFF for b in payload[:_COOKIE_LEN]) + payload[_COOKIE_LEN:]
        reply = Echo.reply(identifier, request.sequence, payload)
        icmp = reply.build()
        if action.corrupt:
            # XOR with 0x0f0f never turns one ones'-complement zero (0x0000/0xffff) into the other.
            bad = int.from_bytes(icmp[2:4], "big") ^ 0x0F0F
            icmp = icmp[:2] + bad.to_bytes(2, "big") + icmp[4:]
        src = dst if action.src is None else action.src
        for copy in range(max(action.copies, 1)):
            delay_ns = action.rtt_ns + copy * action.copy_gap_ns
            inbound = self._inbound(icmp, src, self.source, action.ttl, tx_ns + delay_ns)
            pending = _Pending(mono_ns + delay_ns, next(self._order), inbound, request.sequence, offset_ns)
            if action.after_seq is not None:
                self._held.setdefault(action.after_seq, []).append(pending)
            else:
                self._push(pending)

    def _schedule_error(
        self,
        action: IcmpError,
        request: Echo,
        icmp: bytes,
        dst: IPv4Address,
        tx_ns: int,
        mono_ns: int,
        offset_ns: int,
    ) -> None:
        quoted_icmp = bytearray(icmp[: max(action.quote_len, QUOTED_PAYLOAD_MIN)])
        if action.quote_identifier is not None:
            quoted_icmp[4:6] = action.quote_identifier.to_bytes(2, "big")
        # The router quotes the header as it received it: one hop on, TTL 1 for Time Exceeded.
        hop_ttl = 1 if action.icmp_type == IcmpType.TIME_EXCEEDED else max(self.probe_ttl - 1, 1)
        quoted = Ipv4Header(
            tos=0,
            identification=next(self._ip_ident) & 0xFFFF,
            flags=ipv4.FLAG_DF,
            fragment_offset=0,
            ttl=hop_ttl,
            protocol=IPPROTO_ICMP,
            source=self.source,
            destination=dst if action.quote_destination is None else action.quote_destination,
            total_length=ipv4.HEADER_LEN + len(icmp),
        )
        payload = bytes(quoted_icmp)
        message: DestinationUnreachable | SourceQuench | TimeExceeded | Redirect | ParameterProblem
        if action.icmp_type == IcmpType.DEST_UNREACHABLE:
            message = DestinationUnreachable(action.code, quoted, payload, next_hop_mtu=action.next_hop_mtu)
        elif action.icmp_type == IcmpType.SOURCE_QUENCH:
            message = SourceQuench(action.code, quoted, payload)
        elif action.icmp_type == IcmpType.TIME_EXCEEDED:
            message = TimeExceeded(action.code, quoted, payload)
        elif action.icmp_type == IcmpType.REDIRECT:
            gateway = action.gateway if action.gateway is not None else action.router
            message = Redirect(action.code, gateway, quoted, payload)
        elif action.icmp_type == IcmpType.PARAMETER_PROBLEM:
            message = ParameterProblem(action.code, action.pointer, quoted, payload)
        else:
            raise ValueError(f"not an ICMP error type: {action.icmp_type}")
        inbound = self._inbound(
            message.build(), action.router, self.source, action.ttl, tx_ns + action.rtt_ns
        )
        self._push(_Pending(mono_ns + action.rtt_ns, next(self._order), inbound, None, offset_ns))

    def _push(self, pending: _Pending) -> None:
        heapq.heappush(self._queue, pending)
        if self._waker is not None:
            if pending.due_ns <= self.clock.monotonic_ns():
                self._pipe.wake()
            else:
                self._waker.at(pending.due_ns)


# --- pcap replay -------------------------------------------------------------------------------


class _Captured(Value):
    """One ICMP message of the capture, with how many echo requests preceded it."""

    inbound: Inbound
    requests_before: int


def _ipv4_of(record: pcap.PcapRecord, linktype: int) -> bytes | None:
    """The IPv4 packet inside a captured frame, or None when the frame carries something else."""
    data = record.data
    if linktype == pcap.LINKTYPE_RAW:
        return data if data[:1] and data[0] >> 4 == ipv4.VERSION else None
    if linktype == pcap.LINKTYPE_ETHERNET:
        try:
            frame = ethernet.EthernetFrame.parse(data)
        except WireError:
            return None
        return frame.payload if frame.ethertype == ethernet.EtherType.IPV4 else None
    if linktype == pcap.LINKTYPE_LINUX_SLL:
        if len(data) < _LINUX_SLL_HEADER_LEN:
            return None
        protocol = int.from_bytes(data[_LINUX_SLL_PROTOCOL_OFFSET:_LINUX_SLL_HEADER_LEN], "big")
        return data[_LINUX_SLL_HEADER_LEN:] if protocol == ethernet.EtherType.IPV4 else None
    return None


class PcapReplayTransport(_NoSocket):
    """A Transport that replays the inbound ICMP messages of a pcap capture.

    Inbound means: addressed to ``local`` when given, else every ICMP message that is not an echo
    request. The capture's echo requests pace the replay: a message is released once as many
    probes have been sent as the capture shows requests before it, so a reply never arrives
    before its probe. ``send`` returns the capture's timestamp of the matching request when there
    is one, so the RTTs come out as captured (``rx_ns`` is the record's timestamp).
    Frames that are not IPv4/ICMP or do not parse are counted in ``skipped``.

    Sessions replaying someone else's capture must use its identifier and cookie (the first 8
    payload bytes of its requests), or set ``kernel_owns_id``.
    """

    def __init__(
        self,
        capture: pcap.PcapFile | BinaryIO | str | os.PathLike[str],
        *,
        local: IPv4Address | None = None,
        clock: Clock | None = None,
        kernel_owns_id: bool = False,
    ) -> None:
        if isinstance(capture, pcap.PcapFile):
            parsed = capture
        elif isinstance(capture, str | os.PathLike):
            with open(capture, "rb") as stream:
                parsed = pcap.read_pcap(stream)
        else:
            parsed = pcap.read_pcap(capture)
        self.layer = Layer.ETHERNET if parsed.linktype == pcap.LINKTYPE_ETHERNET else Layer.IP
        self.pcap_linktype = parsed.linktype
        self.last_sent = b""
        self.kernel_owns_id = kernel_owns_id
        self.clock: Clock = SystemClock() if clock is None else clock
        self.local = local
        self.skipped = 0
        self.sent: list[SentProbe] = []
        self.closed = False
        self._request_ts: list[int] = []
        self._messages: list[_Captured] = []
        self._load(parsed)
        self._next = 0
        self._pipe = _Pipe()
        self._update_readable()

    def _load(self, parsed: pcap.PcapFile) -> None:
        for record in parsed.records:
            raw_ip = _ipv4_of(record, parsed.linktype)
            if raw_ip is None:
                self.skipped += 1
                continue
            try:
                packet = Ipv4Packet.parse(raw_ip)
            except WireError:
                self.skipped += 1
                continue
            header = packet.header
            if header.protocol != IPPROTO_ICMP or header.fragment_offset or len(packet.payload) < 8:
                self.skipped += 1
                continue
            icmp = packet.payload
            peek = peek_echo(icmp)
            is_request = peek is not None and peek[0] == IcmpType.ECHO_REQUEST
            inbound_to_us = header.destination == self.local if self.local is not None else not is_request
            if is_request and not inbound_to_us:
                self._request_ts.append(record.ts_ns)
                continue
            if not inbound_to_us:
                self.skipped += 1
                continue
            checksum_ok = header.expected_checksum(len(packet.payload)) == header.checksum
            inbound = Inbound(
                icmp=icmp,
                src=header.source,
                dst=header.destination,
                ttl=header.ttl,
                rx_ns=record.ts_ns,
                raw=record.data,
                ip_checksum_ok=checksum_ok,
            )
            self._messages.append(_Captured(inbound, len(self._request_ts)))

    @property
    def remaining(self) -> int:
        """Captured inbound messages not yet received."""
        return len(self._messages) - self._next

    def fileno(self) -> int:
        return self._pipe.reader.fileno()

    def send(self, icmp: bytes, dst: IPv4Address) -> int:
        if self.closed:
            raise SendFailed(errno.EBADF, "sendmsg: Bad file descriptor")
        index = len(self.sent)
        mono_ns = self.clock.monotonic_ns()
        tx_ns = self._request_ts[index] if index < len(self._request_ts) else self.clock.realtime_ns()
        request = Echo.parse(icmp)
        self.sent.append(SentProbe(index, request.sequence, request.identifier, icmp, dst, tx_ns, mono_ns))
        self.last_sent = icmp
        self._update_readable()
        return tx_ns

    def recv(self) -> Inbound | None:
        self._pipe.drain()
        if self._next >= len(self._messages):
            return None
        message = self._messages[self._next]
        if message.requests_before > len(self.sent):
            return None
        self._next += 1
        self._update_readable()
        return message.inbound

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._pipe.close()

    def __enter__(self) -> PcapReplayTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _update_readable(self) -> None:
        if self._next < len(self._messages) and self._messages[self._next].requests_before <= len(self.sent):
            self._pipe.wake()
