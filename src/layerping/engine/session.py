"""The probe engine for one destination, sans-IO.

The session decides *when* to send which probe and *what* a received message means. It never
touches a socket or a clock: the runner passes ``now_ns`` (CLOCK_MONOTONIC) and the transport's
timestamps (CLOCK_REALTIME) in, and acts on what the session returns. That makes it testable on a
fake clock with scripted packets (smoltcp drives its stack the same way, with ``poll(timestamp)``).

Matching rules (iputils ``is_ours`` and ``rcvd_tbl``):
* an echo reply must carry our identifier, except where the kernel owns it (ICMP datagram
  sockets), and our 8-byte per-run cookie at the start of the payload when the payload is long
  enough to hold it: random identifiers collide between parallel runs, cookies practically never;
* its sequence number must belong to a probe we sent; a second reply for the same sequence number
  is a duplicate;
* an ICMP error counts when the datagram it quotes is one of our probes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING

from layerping._value import Record, Value
from layerping.engine.probe import COOKIE_LEN, build_payload, echo_message
from layerping.engine.stats import Statistics
from layerping.transport.base import Address, Inbound
from layerping.wire.checksum import internet_checksum, ones_complement_sum

if TYPE_CHECKING:
    from layerping.inet.family import IcmpRules

__all__ = ["COOKIE_LEN", "build_payload"]  # re-exported: what callers and tests know them by

SEQ_MODULO = 1 << 16  # ICMP sequence numbers are 16 bits (RFC 792) and wrap
FLOOD_MIN_INTERVAL_NS = 10_000_000  # iputils MININTERVAL: flood sends at least every 10 ms
DEFAULT_LINGER_NS = 10_000_000_000  # iputils MAXWAIT: 10 s for an answer when none came yet
_PEEK = struct.Struct("!BxxxHH")  # type, identifier, sequence of an echo message

IcmpErrorMessage = object
"""The parsed ICMP error (the family's wire value): output asks the family for its words."""


# What the session knows of each sequence number: plain ints, as the per-packet path compares
# them (an enum member lookup costs more than the comparison, and defining an IntEnum 0.15 ms
# of every start).
_UNSENT, _OUTSTANDING, _ANSWERED, _EXPIRED, _ERRORED = range(5)


class SessionConfig(Value):
    """What one ping session does. Times in nanoseconds; None means "no limit"."""

    identifier: int
    cookie: bytes
    count: int | None = None
    interval_ns: int = 1_000_000_000
    timeout_ns: int | None = None  # -W: how long to wait for each answer
    deadline_ns: int | None = None  # -w: stop after this long, whatever happened
    payload_size: int = 56
    pattern: bytes = b""
    preload: int = 1
    flood: bool = False
    kernel_owns_id: bool = False
    keep_samples: bool = False


# Events and probes are made once per packet: mutable records (layerping._value), because a frozen one
# costs five times as much to construct (1.3 µs against 0.25 µs for ten fields, measured here).
class Probe(Record):
    """One echo request to send now."""

    seq: int  # 16-bit wire sequence number
    index: int  # how many probes came before it (does not wrap)
    icmp: bytes


# --- events the session reports ---------------------------------------------------------------


class ReplyEvent(Record):
    """An echo reply to one of our probes (also a duplicate, corrupted or late one)."""

    seq: int
    src: Address
    icmp_len: int  # ICMP header + payload, what iputils prints as "N bytes"
    ttl: int | None
    rtt_ns: int | None
    duplicate: bool
    corrupted: bool  # bad ICMP checksum: counted as corrupted, never as received
    late: bool  # answered after its -W timeout had passed: not counted
    wrong_data: tuple[int, int, int] | None  # (payload byte index, expected, got) as iputils reports
    inbound: Inbound


class ErrorEvent(Record):
    """An ICMP error that quotes one of our probes."""

    seq: int
    src: Address
    icmp_type: int
    icmp_code: int
    message: IcmpErrorMessage
    inbound: Inbound


class LocalErrorEvent(Record):
    """A probe the kernel refused to send (e.g. message too long, no route)."""

    seq: int
    text: str


class TimeoutEvent(Record):
    """A probe whose -W timeout passed without an answer."""

    seq: int


class Session:
    """State machine for pinging one destination."""

    def __init__(self, config: SessionConfig, destination: Address, start_ns: int, rules: IcmpRules) -> None:
        """``destination`` is opaque here (compared with what errors quote); ``rules`` are the
        family's ICMP rules (``layerping.inet``)."""
        self.config = config
        self.rules = rules
        self._echo_reply = rules.echo_reply
        self._echo_request = rules.echo_request
        self._error_types = rules.error_types
        self.destination = destination
        self.start_ns = start_ns
        self.stats = Statistics(keep_samples=config.keep_samples)
        self.payload = build_payload(config.cookie, config.payload_size, config.pattern)
        self._cookie_len = min(COOKIE_LEN, config.payload_size)
        self._cookie_prefix = config.cookie[: self._cookie_len]
        self._identifier = config.identifier
        self._deadline_ns = config.deadline_ns
        self._probe_timeout = config.timeout_ns if config.timeout_ns is not None else DEFAULT_LINGER_NS
        self._kernel_owns_id = config.kernel_owns_id
        self._state = bytearray(SEQ_MODULO)
        self._tx_ns: dict[int, int] = {}  # seq -> CLOCK_REALTIME send time, for RTTs
        self._sent_mono_ns: dict[int, int] = {}  # seq -> CLOCK_MONOTONIC send time, for timeouts
        self._sent_index: dict[int, int] = {}  # seq -> probe index, while outstanding
        self._index = 0  # probes handed out so far
        self._preload = max(config.preload, 1)
        self._next_slot = 1  # grid slot of the next probe after the preload burst
        self._newest_answered_index = -1
        self._last_send_ns: int | None = None
        self._last_reply_ns: int | None = None
        self._stopped = False
        self._end_ns: int | None = None
        # Template: the echo request with seq 0; each probe patches seq and checksum.
        self._template = bytearray(echo_message(rules.echo_request, config.identifier, 0, self.payload))
        self._template_sum = _partial_sum(self._template)

    # -- scheduling ------------------------------------------------------------------------------
    @property
    def more_to_send(self) -> bool:
        if self._stopped:
            return False
        count = self.config.count
        if count is None:
            return True
        if self.config.deadline_ns is not None:
            # With -w, -c counts replies, not probes (ping(8)): keep sending until enough came.
            return self.stats.received < count
        return self._index < count

    def _send_due_ns(self) -> int:
        cfg = self.config
        if self._index < self._preload:
            return self.start_ns
        if cfg.flood and cfg.interval_ns == 0:
            assert self._last_send_ns is not None
            # iputils: only probes sent after the newest answer count as in flight; with fewer
            # than -l of them the next goes at once, else at least every 10 ms.
            if self._index - 1 - self._newest_answered_index < self._preload:
                return self._last_send_ns
            return self._last_send_ns + FLOOD_MIN_INTERVAL_NS
        # Due times sit on a grid counted from the start, so intervals never drift.
        return self.start_ns + self._next_slot * cfg.interval_ns

    def _linger_ns(self) -> int:
        """How long to wait after the last probe (iputils ``schedule_exit``)."""
        if self.config.timeout_ns is not None:
            return self.config.timeout_ns
        if self.stats.received:
            return max(2 * self.stats.rtt_max_ns, self.config.interval_ns)
        return DEFAULT_LINGER_NS

    def _probe_timeout_ns(self) -> int:
        return self._probe_timeout

    def next_deadline(self) -> int | None:
        """When the runner must call :meth:`due` / :meth:`expire` next (monotonic ns)."""
        if self.done:
            return None
        # Called once per loop turn, so no lists: the earliest of three optional times.
        earliest = self._end_time_ns()
        if self.more_to_send:
            send_ns = self._send_due_ns()
            if earliest is None or send_ns < earliest:
                earliest = send_ns
        if self._sent_mono_ns:
            timeout_ns = next(iter(self._sent_mono_ns.values())) + self._probe_timeout_ns()
            if earliest is None or timeout_ns < earliest:
                earliest = timeout_ns
        return earliest

    def _end_time_ns(self) -> int | None:
        deadline_ns = self.config.deadline_ns
        end = None if deadline_ns is None else self.start_ns + deadline_ns
        if self._last_send_ns is not None and not self.more_to_send:
            linger_end = self._last_send_ns + self._linger_ns()
            if end is None or linger_end < end:
                end = linger_end
        return end

    def due(self, now_ns: int) -> Probe | None:
        """The probe to send now, if one is due."""
        if self._end_ns is not None or not self.more_to_send or now_ns < self._send_due_ns():
            return None
        deadline = self.config.deadline_ns
        if deadline is not None and now_ns - self.start_ns >= deadline:
            return None  # nothing goes out at or after the -w deadline
        interval = self.config.interval_ns
        if self._index >= self._preload and interval > 0:
            slot = self._next_slot
            late_ns = now_ns - (self.start_ns + slot * interval)
            if late_ns >= interval:
                # A stall (suspend, a slow terminal) missed whole slots: skip them rather than
                # burst to catch up, and stay on the same grid (iputils caps catch-up likewise).
                slot += late_ns // interval
            self._next_slot = slot + 1
        # iputils numbers the first probe 1 (``ntransmitted + 1``); 65535 wraps to 0.
        seq = (self._index + 1) % SEQ_MODULO
        index = self._index
        self._index += 1
        self._last_send_ns = now_ns
        icmp = self._patch(seq)
        return Probe(seq, index, icmp)

    def _patch(self, seq: int) -> bytes:
        # Only the sequence number and checksum change between probes: add the seq word to the
        # template's precomputed sum instead of summing the whole payload again (RFC 1624).
        total = self._template_sum + seq
        total = (total & 0xFFFF) + (total >> 16)
        checksum = ~total & 0xFFFF
        buf = self._template
        buf[6] = seq >> 8
        buf[7] = seq & 0xFF
        buf[2] = checksum >> 8
        buf[3] = checksum & 0xFF
        return bytes(buf)

    def on_sent(self, probe: Probe, tx_ns: int, now_ns: int) -> ProbeEvent:
        """Record that ``probe`` left at ``tx_ns`` (CLOCK_REALTIME, same clock as rx_ns)."""
        self.stats.transmitted += 1
        seq = probe.seq
        # Reusing a wrapped sequence number forgets whatever the old one was.
        self._tx_ns.pop(seq, None)
        self._sent_mono_ns.pop(seq, None)
        self._state[seq] = _OUTSTANDING
        self._tx_ns[seq] = tx_ns
        self._sent_mono_ns[seq] = now_ns
        self._sent_index[seq] = probe.index
        return ProbeEvent(seq, probe.index, tx_ns, probe.icmp)

    def is_outstanding(self, seq: int) -> bool:
        return self._state[seq % SEQ_MODULO] == _OUTSTANDING

    def on_send_failed(self, probe: Probe, text: str) -> LocalErrorEvent:
        """The kernel refused the probe: counted as transmitted and as an error (iputils)."""
        self.stats.transmitted += 1
        self.stats.errors += 1
        self._state[probe.seq] = _ERRORED
        return LocalErrorEvent(seq=probe.seq, text=text)

    def stop(self, now_ns: int) -> None:
        """Interrupted (Ctrl-C): send nothing more and finish now."""
        self._stopped = True
        self._end_ns = now_ns

    # -- receiving -------------------------------------------------------------------------------
    def on_inbound(self, inbound: Inbound, now_ns: int) -> Event | None:
        """Interpret one received ICMP message; None when it is not ours."""
        icmp = inbound.icmp
        if len(icmp) < 8:
            return None
        icmp_type, identifier, seq = _PEEK.unpack_from(icmp)
        if icmp_type == self._echo_reply:
            if identifier != self._identifier and not self._kernel_owns_id:
                return None
            return self._on_reply(inbound, seq, now_ns)
        if icmp_type in self._error_types:
            return self._on_error(inbound, now_ns)
        return None

    def _on_reply(self, inbound: Inbound, seq: int, now_ns: int) -> ReplyEvent | None:
        icmp = inbound.icmp
        # A bad IP header checksum (layers ip/ethernet check it) corrupts the reply too. The
        # receiver's test of RFC 1071 §1: the message sums to 0xffff.
        corrupted = inbound.ip_checksum_ok is False or ones_complement_sum(icmp) != 0xFFFF
        # Our cookie must be at the start of the payload (when the payload can carry it).
        if icmp[8 : 8 + self._cookie_len] != self._cookie_prefix and not corrupted:
            return None
        state = self._state[seq]
        if state == _UNSENT:
            return None
        timeout_ns = self.config.timeout_ns
        if state == _OUTSTANDING and timeout_ns is not None:
            sent_ns = self._sent_mono_ns[seq]
            if now_ns - sent_ns >= timeout_ns:
                # Its -W passed even if expire() has not run yet: late, whatever the call order.
                self._expire_seq(seq)
                state = _EXPIRED
        tx_ns = self._tx_ns.get(seq)
        rtt_ns: int | None = None
        if tx_ns is not None:
            # Never negative: the realtime clock may step between send and receive.
            rtt_ns = max(inbound.rx_ns - tx_ns, 0)
        stats = self.stats
        wrong_data = None
        duplicate = False
        late = False
        if corrupted:
            stats.corrupted += 1
        elif state == _EXPIRED:
            late = True
        else:
            if rtt_ns is not None:
                stats.add_rtt(rtt_ns)
            if state == _ANSWERED:
                duplicate = True
                stats.duplicates += 1
            else:
                stats.received += 1
                self._state[seq] = _ANSWERED
                self._sent_mono_ns.pop(seq, None)
                index = self._sent_index.pop(seq, -1)
                if index > self._newest_answered_index:
                    self._newest_answered_index = index
                self._last_reply_ns = now_ns
            if icmp[8:] != self.payload:
                wrong_data = _first_difference(icmp[8:], self.payload)
        return ReplyEvent(
            seq, inbound.src, len(icmp), inbound.ttl, rtt_ns, duplicate, corrupted, late, wrong_data, inbound
        )

    def _on_error(self, inbound: Inbound, now_ns: int) -> ErrorEvent | None:
        quote = self.rules.parse_error(inbound.icmp)
        if quote is None or quote.destination != self.destination:
            return None
        quoted = quote.icmp
        if len(quoted) < 8:
            return None
        quoted_type, identifier, seq = _PEEK.unpack_from(quoted)
        if quoted_type != self._echo_request:
            return None
        if not self.config.kernel_owns_id and identifier != self.config.identifier:
            return None
        if self._state[seq] == _UNSENT:
            return None
        icmp_type, icmp_code = inbound.icmp[0], inbound.icmp[1]
        message = quote.message
        if icmp_type in self.rules.advice_types:
            # A redirect (or source quench) is advice, not a failure: the probe went on (RFC 792).
            # Report, don't count (iputils: error_pkt excludes both).
            return ErrorEvent(seq, inbound.src, icmp_type, icmp_code, message, inbound)
        self.stats.errors += 1
        if self._state[seq] == _OUTSTANDING:
            self._state[seq] = _ERRORED
            self._tx_ns.pop(seq, None)
            self._sent_mono_ns.pop(seq, None)
            self._sent_index.pop(seq, None)
        return ErrorEvent(seq, inbound.src, icmp_type, icmp_code, message, inbound)

    # -- time passing ----------------------------------------------------------------------------
    def expire(self, now_ns: int) -> Sequence[TimeoutEvent]:
        """Probes whose -W timeout passed; also ends the session at its end time."""
        sent = self._sent_mono_ns
        timeout = self._probe_timeout
        if self._deadline_ns is None and self.more_to_send:
            # Nothing can end the session yet (the common case in a flood): only timeouts.
            if not sent or now_ns - next(iter(sent.values())) < timeout:
                return ()
        events: list[TimeoutEvent] = []
        while sent:
            seq, sent_ns = next(iter(sent.items()))
            if now_ns - sent_ns < timeout:
                break
            self._expire_seq(seq)
            events.append(TimeoutEvent(seq))
        end = self._end_time_ns()
        if end is not None and now_ns >= end and self._end_ns is None:
            self._end_ns = now_ns
        return events

    def _expire_seq(self, seq: int) -> None:
        del self._sent_mono_ns[seq]
        self._sent_index.pop(seq, None)
        self._state[seq] = _EXPIRED

    @property
    def done(self) -> bool:
        if self._end_ns is not None:
            return True
        cfg = self.config
        stats = self.stats
        if cfg.deadline_ns is not None and stats.errors:
            # iputils main_loop: "if (rts->deadline && rts->nerrors) break;"
            return True
        if cfg.count is not None and stats.received + stats.errors >= cfg.count:
            # iputils main_loop: "if (rts->npackets && rts->nreceived + rts->nerrors >= rts->npackets)"
            return True
        if self.more_to_send:
            return False
        if cfg.count is not None and self._index > 0 and not self._sent_mono_ns:
            # Everything sent is answered, errored or expired (iputils: nreceived + nerrors >= npackets).
            return True
        return False

    def finish(self, now_ns: int) -> None:
        if self._end_ns is None:
            self._end_ns = now_ns

    @property
    def elapsed_ns(self) -> int:
        """The "time" of the summary: start to the last probe sent, as iputils measures it (only
        ``pinger()`` moves its ``cur_time``)."""
        last = self._last_send_ns if self._last_send_ns is not None else self.start_ns
        return max(last - self.start_ns, 0)

    @property
    def outstanding(self) -> int:
        return len(self._sent_mono_ns)

    def exit_code(self) -> int:
        """ping(8): 0 when replies came (enough of them with -w and -c), 1 otherwise."""
        cfg = self.config
        if self.stats.received == 0:
            return 1
        if cfg.deadline_ns is not None and cfg.count is not None and self.stats.received < cfg.count:
            return 1
        return 0


def _partial_sum(template: bytearray) -> int:
    """Ones'-complement sum of the template with checksum and seq fields zeroed."""
    work = bytearray(template)
    work[2:4] = b"\x00\x00"
    work[6:8] = b"\x00\x00"
    return ~internet_checksum(work) & 0xFFFF


def _first_difference(got: bytes, expected: bytes) -> tuple[int, int, int] | None:
    for i in range(min(len(got), len(expected))):
        if got[i] != expected[i]:
            return (i, expected[i], got[i])  # iputils numbers payload bytes
    return None


class ProbeEvent(Record):
    """A probe left: what was sent and when (CLOCK_REALTIME ns)."""

    seq: int
    index: int
    tx_ns: int
    icmp: bytes


Event = ProbeEvent | ReplyEvent | ErrorEvent | LocalErrorEvent | TimeoutEvent
