"""Many targets at once, sans-IO: one sender and one receiver for all of them.

:class:`MultiSession` decides which target gets the next probe, writes the probes, matches
every reply and ICMP error back to its target in O(1), and reports per-target results. Like
:mod:`layerping.engine.session` it never touches a socket or a clock: the runner passes
``now_ns`` (CLOCK_MONOTONIC) and the transport's receive stamps (CLOCK_REALTIME) in.

State is compact and bounded, whatever the number of targets: targets are streamed into a ring
of ``window`` slots, parallel lists of per-target state, and reported in input order
(:mod:`layerping.engine.multi_ring`, the base class). Memory is ``O(window)`` plus the pending
timeouts (one small entry per probe sent within the last ``timeout_ns``).

Matching (the single-target rules, widened to many targets):

* the echo **sequence number is the slot**, so a reply finds its target with one index;
  on a raw socket the **identifier** is ours for the whole run (the kernel's BPF filter drops
  other identifiers), on an ICMP datagram socket the kernel owns it and we match on the
  sequence number alone, as iputils does;
* the payload starts with the per-run 8-byte **cookie**, then a 4-byte **probe serial** that
  names the probe (RFC 792 lets the payload be anything; the reply echoes it). A reply counts
  only when its source is the slot's target and its serial is the slot's outstanding probe;
  the serial the slot answered last is a duplicate, anything else (a late reply after a
  timeout, a reply for the slot's previous target) is ignored. Payloads shorter than 12 bytes
  cannot carry the serial: then the slot and source decide alone; replies with a bad ICMP
  checksum count as corrupted, never as received (skipped where the kernel checked already);
* ICMP errors are matched through the datagram they quote (RFC 792): the quoted destination
  must be the slot's target, and the quoted serial the outstanding one when Linux quoted that
  much (RFC 1812 §4.3.2.3 lets it quote up to 576 bytes).

Probes are written from one template: only the sequence number, serial and checksum change,
and the checksum is the template's precomputed ones'-complement sum plus those words (RFC 1071
§2(4), the incremental update of RFC 1624), so no probe is summed byte by byte. The caller
gives a buffer and a stride: :meth:`MultiSession.fill` writes probe ``k`` at
``offset + k * stride``, which lets a transport keep its own headers around the ICMP message
and send the whole batch with one system call. New targets (alive mode, ``-c 1``) get
consecutive slots and serials, so a batch of them is set up with slice assignments and its
header fields written as strided byte columns: no Python-level step per probe but its checksum.
Received batches of ICMP messages (the family's unframer has taken their IP headers off, in
one ``struct.iter_unpack`` per batch) go to :meth:`MultiSession.on_messages`, which matches a
reply without building an object for it; finished
targets are reported as runs, their :class:`TargetDone` built by ``map`` over slices (or,
with ``MultiConfig.done_runs``, left as columns in one :class:`TargetsDone`).

Pacing is a token bucket (zmap's rate limit, with a small burst): ``rate_pps`` bounds the
total probe rate over all targets.

Two modes, as fping has them:

* **alive** (``count=None``): one probe per target; a silent target is probed again up to
  ``retries`` times, each after ``timeout_ns``; the first reply ends the target;
* **count** (``count=N``): exactly N probes per target, ``interval_ns`` apart. A target has at
  most one probe outstanding: a probe's timeout is ``min(timeout_ns, interval_ns)`` except the
  last one's, which is ``timeout_ns`` (fping: "the timeout is adjusted to the period").
  ``retries`` does not apply.
"""

from __future__ import annotations

import collections
import itertools
import struct
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final

from layerping.engine.multi_events import (
    DEFAULT_RATE_PPS,
    MAX_BURST,
    MAX_WINDOW,
    IcmpErrorMessage,
    MultiConfig,
    MultiEvent,
    MultiTotals,
    TargetDone,
    TargetEvent,
    TargetIcmpError,
    TargetReply,
    TargetsDone,
    TargetSendError,
    TargetTimeout,
    default_burst,
    expand_runs,
)
from layerping.engine.multi_ring import ACTIVE, FINISHED, FREE, TargetRing
from layerping.engine.probe import COOKIE_LEN, build_payload, echo_message
from layerping.errors import UsageError
from layerping.transport.base import Inbound
from layerping.wire.checksum import ones_complement_sum
from layerping.wire.columns import write_columns

if TYPE_CHECKING:
    from layerping.inet.family import IcmpRules, Received

# Re-exported: what callers and tests know them by.
__all__ = [
    "COOKIE_LEN", "DEFAULT_RATE_PPS", "MAX_BURST", "MAX_WINDOW", "IcmpErrorMessage", "MultiConfig",
    "MultiEvent", "MultiSession", "MultiTotals", "TargetDone", "TargetEvent", "TargetIcmpError",
    "TargetReply", "TargetSendError", "TargetTimeout", "TargetsDone", "build_payload", "default_burst",
    "expand_runs",
]  # fmt: skip

SERIAL_LEN: Final = 4
TAGGED_PAYLOAD: Final = COOKIE_LEN + SERIAL_LEN  # smallest payload carrying cookie and serial
_SERIAL_MASK: Final = 0xFFFF_FFFF

# Echo request/reply with cookie and serial: type, code, checksum, identifier, sequence,
# cookie (as one 64-bit word), serial (RFC 792 Echo, our payload layout after the header).
_TAGGED: Final = struct.Struct("!BBHHHQI")
_HEADER: Final = struct.Struct("!BBHHH")
_QUOTED_TAG: Final = struct.Struct("!BxxxHHQI")  # type, identifier, sequence, cookie, serial
_QUOTED_HEAD: Final = struct.Struct("!BxxxHH")


class MultiSession(TargetRing):
    """Probe many targets; see the module docstring for the rules."""

    def __init__(self, config: MultiConfig, targets: Iterable[tuple[int, str | None]], start_ns: int,
                 rules: IcmpRules) -> None:  # fmt: skip
        """``targets`` are (address as an int, name) pairs; ``rules`` the family's ICMP rules."""
        window = config.window
        if window < 1 or window > MAX_WINDOW or window & (window - 1):
            raise UsageError(f"window must be a power of two up to {MAX_WINDOW}, not {window}")
        if len(config.cookie) != COOKIE_LEN:
            raise UsageError(f"the cookie must be {COOKIE_LEN} bytes")
        if config.count is not None and config.count < 1:
            raise UsageError(f"invalid count {config.count}", "give -c a whole number of 1 or more")
        if config.rate_pps <= 0:
            raise UsageError(f"invalid rate {config.rate_pps}", "give --rate a positive number of probes/s")
        super().__init__(config, targets)
        self.rules = rules
        self._echo_request = rules.echo_request
        self._echo_reply = rules.echo_reply
        self._error_types = rules.error_types
        self.start_ns = start_ns
        self._serial_next = 1
        self._last_ns = start_ns  # when the token bucket was last filled
        # Work queues. Each deque is in time order because every entry is "send time + a
        # constant" and sends happen in time order.
        self._ready: collections.deque[int] = collections.deque()  # retries, due now
        self._waits: collections.deque[tuple[int, int]] = collections.deque()  # (due_ns, slot)
        # Timeouts, one entry per fill(): (deadline_ns, [slot << 32 | serial, ...]). A batch's
        # probes share their deadline, so a probe costs one int here, not a tuple (at 100 000
        # probes/s and a 1 s timeout that is ~4 MB instead of ~15 MB).
        self._deadlines: collections.deque[tuple[int, Sequence[int]]] = collections.deque()
        self._deadlines_short: collections.deque[tuple[int, list[int]]] = collections.deque()
        self._batch: list[int] = []  # slots written by the last fill()
        self._batch_runs: list[tuple[int, int, int]] = []  # _admit's runs: (index in _batch, slot, end)
        self._batch_first_serial = 0
        # Timing.
        self._count = config.count
        self._first_left = config.retries if config.count is None else config.count
        self._timeout_ns = config.timeout_ns
        self._short_timeout_ns = min(config.timeout_ns, config.interval_ns)
        self._rate_per_ns = config.rate_pps / 1e9
        self._burst = float(config.burst if config.burst is not None else default_burst(config.rate_pps))
        self._tokens = self._burst
        # The probe template and its checksum base (checksum, sequence and serial zeroed).
        self.payload = build_payload(config.cookie, config.payload_size, config.pattern, SERIAL_LEN)
        self.template = echo_message(rules.echo_request, config.identifier, 0, self.payload)
        self._tagged = config.payload_size >= TAGGED_PAYLOAD
        self._cookie_len = min(COOKIE_LEN, config.payload_size)
        self._cookie = config.cookie[: self._cookie_len]
        self._cookie_word = int.from_bytes(config.cookie, "big")
        zeroed = bytearray(self.template)
        zeroed[2:4] = b"\0\0"
        self._base_sum = ones_complement_sum(zeroed)
        self._identifier = config.identifier
        self._kernel_owns_id = config.kernel_owns_id
        self._verify = config.verify_checksum
        self._reply_events = config.reply_events

    # -- scheduling -----------------------------------------------------------------------------
    def _can_admit(self) -> bool:
        return not self._exhausted and not self._stopped and self._admitted - self._head < self._window

    def next_deadline(self, now_ns: int) -> int | None:
        """When fill() or expire() has something to do next (monotonic ns); None when done."""
        if self.done:
            return None
        if self._stopped:
            return now_ns
        times: list[int] = []
        if self._ready or self._can_admit():
            times.append(self._token_time(now_ns))
        if self._waits:
            times.append(max(self._waits[0][0], self._token_time(now_ns)))
        if self._deadlines:
            times.append(self._deadlines[0][0])
        if self._deadlines_short:
            times.append(self._deadlines_short[0][0])
        return min(times) if times else None

    def _token_time(self, now_ns: int) -> int:
        tokens = min(self._burst, self._tokens + (now_ns - self._last_ns) * self._rate_per_ns)
        if tokens >= 1.0:
            return now_ns
        return now_ns + int((1.0 - tokens) / self._rate_per_ns) + 1

    # -- sending --------------------------------------------------------------------------------
    def fill(self, now_ns: int, limit: int, buf: bytearray | memoryview, offset: int, stride: int,
             destinations: list[int]) -> int:  # fmt: skip
        """Write up to ``limit`` due probes into ``buf``; return how many.

        Probe ``k`` goes to ``buf[offset + k*stride:]`` (``len(self.template)`` bytes; the
        caller has copied :attr:`template` there once, only the first 20 bytes change) and its
        destination address (int) is appended to ``destinations``. Call :meth:`commit` once
        they are sent. Probes are due retries first, then next probes of counted targets, then
        new targets; the token bucket bounds them.
        """
        if self._stopped:
            return 0
        elapsed = now_ns - self._last_ns
        if elapsed > 0:
            tokens = self._tokens + elapsed * self._rate_per_ns
            self._tokens = tokens if tokens < self._burst else self._burst
            self._last_ns = now_ns
        n = min(limit, int(self._tokens))
        if n <= 0:
            return 0
        ready = self._ready
        waits = self._waits
        serials = self._serial
        addrs = self._addr
        names = self._name
        state = self._state
        left = self._left
        sent = self._sent
        recv = self._recv
        rtt_sum = self._rtt_sum
        rtt_min = self._rtt_min
        rtt_max = self._rtt_max
        batch = self._batch
        batch.clear()
        self._batch_runs.clear()
        batch_append = batch.append
        destination_append = destinations.append
        count = self._count
        interval_ns = self.config.interval_ns
        deadline_long = now_ns + self._timeout_ns
        deadline_short = now_ns + self._short_timeout_ns
        long_keys: list[int] = []
        short_keys: list[int] = []
        deadlines_append = long_keys.append
        deadlines_short_append = short_keys.append
        base = self._base_sum
        identifier = self._identifier
        cookie = self._cookie_word
        serial = self._serial_next
        self._batch_first_serial = serial
        tagged = self._tagged
        pack = _TAGGED.pack_into if tagged else _HEADER.pack_into
        echo_request = self._echo_request
        next_target = self._next_target
        first_left = self._first_left
        keep_rtts = self._keep_rtts
        mask = self._mask
        room = 0 if self._exhausted else self._window - (self._admitted - self._head)
        admitted = self._admitted
        position = offset
        k = 0
        # New targets in alive mode (and -c 1) take the batch path after the loop (_admit).
        batched = tagged and (count is None or count == 1) and stride >= _TAGGED.size
        while k < n:
            if batched and not ready and not (waits and waits[0][0] <= now_ns):
                break
            if ready:
                slot = ready.popleft()
                address = addrs[slot]
            elif waits and waits[0][0] <= now_ns:
                slot = waits.popleft()[1]
                if serials[slot] >= 0:
                    self._time_out(slot)  # still unanswered at the next probe: it is lost
                address = addrs[slot]
            elif room > 0:
                try:
                    address, name = next_target()
                except StopIteration:
                    self._exhausted = True
                    break
                room -= 1
                slot = admitted & mask
                admitted += 1
                addrs[slot] = address
                names[slot] = name
                state[slot] = ACTIVE
                left[slot] = first_left
                sent[slot] = 0
                recv[slot] = 0
                rtt_sum[slot] = 0
                rtt_min[slot] = 0
                rtt_max[slot] = 0
                if keep_rtts:
                    self._rtts[slot] = []
            else:
                break
            serials[slot] = serial
            sent[slot] += 1
            if tagged:
                total = base + slot + (serial >> 16) + (serial & 0xFFFF)
                total = (total & 0xFFFF) + (total >> 16)
                total = (total & 0xFFFF) + (total >> 16)
                pack(buf, position, echo_request, 0, ~total & 0xFFFF, identifier, slot, cookie, serial)
            else:
                total = base + slot
                total = (total & 0xFFFF) + (total >> 16)
                pack(buf, position, echo_request, 0, ~total & 0xFFFF, identifier, slot)
            position += stride
            destination_append(address)
            batch_append(slot)
            if count is None:
                deadlines_append(slot << 32 | serial)
            else:
                remaining = left[slot] - 1
                left[slot] = remaining
                if remaining:
                    deadlines_short_append(slot << 32 | serial)
                    waits.append((now_ns + interval_ns, slot))
                else:
                    deadlines_append(slot << 32 | serial)
            serial = (serial + 1) & _SERIAL_MASK
            k += 1
        if long_keys:
            self._deadlines.append((deadline_long, long_keys))
        if short_keys:
            self._deadlines_short.append((deadline_short, short_keys))
        self._admitted = admitted
        self._serial_next = serial
        if batched and k < n and room > 0:
            k += self._admit(min(n - k, room), buf, position, stride, destinations, deadline_long)
        self._tokens -= k
        self.totals.transmitted += k
        return k

    def _admit(self, wanted: int, buf: bytearray | memoryview, position: int, stride: int,
               destinations: list[int], deadline_ns: int) -> int:  # fmt: skip
        """Take up to ``wanted`` new targets and write their first probes from ``position`` on.

        The batch path of :meth:`fill`, for alive mode and ``count=1`` with a tagged payload:
        new targets get consecutive slots and serials, so each run of them (cut where the ring
        or the serial wraps) is set up with slice assignments, its checksums are an arithmetic
        sequence (slot and serial both grow by one, and 2**16 is 1 modulo 0xffff: RFC 1071's
        end-around carry), and each changed field of the whole run is written as strided
        byte columns (no Python step per probe but the checksum's). The probes are the bytes
        :meth:`fill` writes one by one.
        """
        chunk = list(itertools.islice(self._targets, wanted))
        m = len(chunk)
        if m < wanted:
            self._exhausted = True
        if not m:
            return 0
        addresses, names = zip(*chunk, strict=True)
        destinations.extend(addresses)
        mask = self._mask
        first_left = self._first_left if self._count is None else 0
        base = self._base_sum - 1
        admitted = self._admitted
        serial = self._serial_next
        batch = self._batch
        view = memoryview(buf).cast("B") if isinstance(buf, bytearray) else buf
        header = _TAGGED.pack(self._echo_request, 0, 0, self._identifier, 0, self._cookie_word, 0)
        constant = [(index, header[index : index + 1]) for index in (0, 1, 4, 5, *range(8, 16))]
        i = 0
        while i < m:  # at most three runs: the ring and the serial wrap at most once each
            slot = (admitted + i) & mask
            run = min(m - i, mask + 1 - slot, _SERIAL_MASK + 1 - serial)
            end = slot + run
            self._addr[slot:end] = addresses[i : i + run]
            self._name[slot:end] = names[i : i + run]
            self._state[slot:end] = _ACTIVE_BYTE * run
            zeros = [0] * run
            self._left[slot:end] = [first_left] * run if first_left else zeros
            self._sent[slot:end] = [1] * run
            self._recv[slot:end] = zeros
            self._rtt_sum[slot:end] = zeros
            self._rtt_min[slot:end] = zeros
            self._rtt_max[slot:end] = zeros
            if self._keep_rtts:
                self._rtts[slot:end] = [[] for _ in range(run)]
            serials = range(serial, serial + run)
            self._serial[slot:end] = serials
            first = base + slot + serial
            checksums = [0xFFFE - value % 0xFFFF for value in range(first, first + 2 * run, 2)]
            stop = position + run * stride
            write_columns(view, position, stop, stride,
                          ((2, "H", checksums), (6, "H", range(slot, end)), (16, "I", serials)))  # fmt: skip
            # type, code, identifier, cookie: as fill() writes them
            for field_offset, constant_bytes in constant:
                view[position + field_offset : stop : stride] = constant_bytes * run
            self._batch_runs.append((len(batch), slot, end))
            batch.extend(range(slot, end))
            key = slot << 32 | serial
            self._deadlines.append((deadline_ns, range(key, key + run * _KEY_STEP, _KEY_STEP)))
            position += run * stride
            serial = (serial + run) & _SERIAL_MASK
            i += run
        self._admitted = admitted + m
        self._serial_next = serial
        return m

    def commit(self, tx_ns: int | Sequence[int], failures: dict[int, str] | None = None) -> None:
        """The probes of the last :meth:`fill` were handed to the kernel at ``tx_ns``.

        ``tx_ns`` is CLOCK_REALTIME, taken right before the send system call (one value for a
        batch, or one per probe). ``failures`` maps batch positions the kernel refused to the
        reason: those probes count as sent and as errors (iputils counts them the same way).
        """
        batch = self._batch
        tx = self._tx_ns
        if isinstance(tx_ns, int):
            loose = len(batch)
            for start, slot, end in self._batch_runs:  # what _admit wrote: runs of slots
                tx[slot:end] = [tx_ns] * (end - slot)
                loose = min(loose, start)
            for index in range(loose):
                tx[batch[index]] = tx_ns
        else:
            for slot, stamp in zip(batch, tx_ns, strict=True):
                tx[slot] = stamp
        if failures:
            for index, text in failures.items():
                self._refuse(batch[index], text)
        self._batch = []  # a new list: last_batch() handed this one out
        self._batch_runs.clear()

    def last_batch(self) -> tuple[list[int], int]:
        """The slots of the last :meth:`fill` (the caller's to keep: :meth:`commit` starts a new
        list) and the serial of its first probe.

        Probe ``k`` of the batch has serial ``first + k`` (modulo 2**32). A sender that reports
        refusals after :meth:`commit` (from another thread) passes them to :meth:`refused`.
        """
        return self._batch, self._batch_first_serial

    def refused(self, slot: int, serial: int, text: str) -> None:
        """The kernel refused probe ``serial`` to ``slot`` after :meth:`commit` was called."""
        if self._serial[slot] == serial & _SERIAL_MASK:
            self._refuse(slot, text)

    def _refuse(self, slot: int, text: str) -> None:
        self._rare_of(slot)[1] += 1
        self.totals.errors += 1
        self.events.append(TargetSendError(self._target_of(slot), self._addr[slot], self._name[slot],
                                           self._probe_of(slot), text))  # fmt: skip
        self._serial[slot] = -1
        self._resolved(slot, answered=False, retry=False)

    # -- receiving ------------------------------------------------------------------------------
    def on_icmp(self, data: bytes | bytearray | memoryview, offset: int, length: int, source: int,
                ttl: int | None, rx_ns: int) -> None:  # fmt: skip
        """One received ICMP message, ``data[offset:offset+length]``, from ``source`` (int)."""
        self.on_messages(data, [(offset, length, source, ttl, rx_ns)])

    def on_messages(self, data: bytes | bytearray | memoryview, messages: Iterable[Received]) -> None:
        """Received ICMP messages in ``data``, each ``(offset, length, source, ttl, rx_ns)``.

        The receive hot path: one call per batch a transport drained, everything the common
        case needs bound to locals once. Finished targets are reported by :meth:`drain_events`.
        """
        if not self._tagged:
            for offset, length, source, ttl, rx_ns in messages:
                serial = self._untagged(data, offset, length, source)
                if serial >= 0:
                    slot = _HEADER.unpack_from(data, offset)[4]
                    self._reply(data, offset, length, source, ttl, rx_ns, slot, serial)
            return
        unpack = _TAGGED.unpack_from
        cookie_word = self._cookie_word
        identifier_ours = self._identifier
        any_identifier = self._kernel_owns_id
        echo_reply = self._echo_reply
        mask = self._mask
        serials = self._serial
        addrs = self._addr
        tx = self._tx_ns
        recv = self._recv
        rtt_min = self._rtt_min
        rtt_max = self._rtt_max
        rtt_sum = self._rtt_sum
        left = self._left
        state = self._state
        verify = self._verify
        alive_mode = self._count is None
        slow = self._reply_events or self._keep_rtts
        received_total = 0
        for offset, length, source, ttl, rx_ns in messages:
            if length < 20:
                self._untagged(data, offset, length, source)  # errors are longer; this is not ours
                continue
            icmp_type, _code, _checksum, identifier, slot, cookie, serial = unpack(data, offset)
            if (icmp_type != echo_reply or cookie != cookie_word
                    or (identifier != identifier_ours and not any_identifier)):  # fmt: skip
                self._not_a_reply(data, offset, length, source, icmp_type)
                continue
            if slot > mask or serials[slot] != serial or addrs[slot] != source:
                self._unexpected(data, offset, length, source, ttl, rx_ns, slot, serial)
                continue
            if verify:
                # Damaged in flight: never a reply (iputils counts these as "corrupted"). The
                # sum over a valid message is 0xffff, i.e. 0 modulo 0xffff (RFC 1071).
                value = int.from_bytes(data[offset : offset + length], "big")
                if (value << 8 if length & 1 else value) % 0xFFFF:
                    self._rare_of(slot)[2] += 1
                    self.totals.corrupted += 1
                    continue
            if slow:
                self._reply(data, offset, length, source, ttl, rx_ns, slot, serial)
                continue
            rtt_ns = rx_ns - tx[slot]
            if rtt_ns < 0:
                rtt_ns = 0  # the realtime clock stepped back (iputils clamps too)
            serials[slot] = -2 - serial
            received = recv[slot] + 1
            recv[slot] = received
            received_total += 1
            if received == 1:
                rtt_min[slot] = rtt_max[slot] = rtt_sum[slot] = rtt_ns
            else:
                if rtt_ns < rtt_min[slot]:
                    rtt_min[slot] = rtt_ns
                if rtt_ns > rtt_max[slot]:
                    rtt_max[slot] = rtt_ns
                rtt_sum[slot] += rtt_ns
            if alive_mode or not left[slot]:
                state[slot] = FINISHED
        self.totals.received += received_total

    def count_foreign(self, count: int) -> None:
        """``count`` received datagrams were not ours (the family's unframer found no whole ICMP
        datagram in them)."""
        self.totals.foreign += count

    def _reply(self, data: bytes | bytearray | memoryview, offset: int, length: int, source: int,
               ttl: int | None, rx_ns: int, slot: int, serial: int) -> None:  # fmt: skip
        """The outstanding probe of ``slot`` is answered (the general path, with events)."""
        if slot > self._mask or self._serial[slot] != serial or self._addr[slot] != source:
            self._unexpected(data, offset, length, source, ttl, rx_ns, slot, serial)
            return
        if self._verify and not self._tagged:
            value = int.from_bytes(data[offset : offset + length], "big")
            if (value << 8 if length & 1 else value) % 0xFFFF:
                self._rare_of(slot)[2] += 1
                self.totals.corrupted += 1
                return
        rtt_ns = max(rx_ns - self._tx_ns[slot], 0)
        self._serial[slot] = -2 - serial
        received = self._recv[slot] + 1
        self._recv[slot] = received
        self.totals.received += 1
        if received == 1:
            self._rtt_min[slot] = self._rtt_max[slot] = self._rtt_sum[slot] = rtt_ns
        else:
            self._rtt_min[slot] = min(self._rtt_min[slot], rtt_ns)
            self._rtt_max[slot] = max(self._rtt_max[slot], rtt_ns)
            self._rtt_sum[slot] += rtt_ns
        if self._keep_rtts:
            rtts = self._rtts[slot]
            if rtts is not None:
                rtts.append(rtt_ns)
        if self._reply_events:
            self._reply_event(slot, rtt_ns, ttl, length, False)
        if self._count is None or self._left[slot] == 0:
            self._state[slot] = FINISHED

    def _not_a_reply(self, data: bytes | bytearray | memoryview, offset: int, length: int, source: int,
                     icmp_type: int) -> None:  # fmt: skip
        if icmp_type in self._error_types:
            self._on_error(bytes(data[offset : offset + length]), source)
        else:
            self.totals.foreign += 1  # another run's reply, a request, or damaged where the cookie is

    def _untagged(self, data: bytes | bytearray | memoryview, offset: int, length: int, source: int) -> int:
        """The slow path: a message too short to carry a serial. Returns the serial to expect
        (the slot's outstanding one), or -1 when the message is handled or not ours."""
        if length < 8:
            self.totals.foreign += 1
            return -1
        icmp_type, _code, _checksum, identifier, slot = _HEADER.unpack_from(data, offset)
        if icmp_type != self._echo_reply:
            self._not_a_reply(data, offset, length, source, icmp_type)
            return -1
        ours = identifier == self._identifier or self._kernel_owns_id
        cookie = bytes(data[offset + 8 : offset + 8 + self._cookie_len])
        if not ours or self._tagged or cookie != self._cookie:
            self.totals.foreign += 1  # too short to hold what we sent, or someone else's
            return -1
        if slot > self._mask:
            self.totals.foreign += 1
            return -1
        outstanding = self._serial[slot]
        if outstanding >= 0:
            return int(outstanding)
        if outstanding <= -2 and self._addr[slot] == source and self._state[slot] != FREE:
            return int(-2 - outstanding)  # answered before: the caller sees a duplicate
        self.totals.foreign += 1
        return -1

    def _unexpected(self, data: bytes | bytearray | memoryview, offset: int, length: int, source: int,
                    ttl: int | None, rx_ns: int, slot: int, serial: int) -> None:  # fmt: skip
        """A reply that is not the outstanding probe's: a duplicate, late, or not ours.

        A duplicate that arrives after its target was reported (its slot is free and not reused
        yet) counts in the run's totals and is reported as a reply event, but not in the
        target's :class:`TargetDone`, which is out already.
        """
        if slot > self._mask or self._addr[slot] != source or self._serial[slot] != -2 - serial:
            self.totals.foreign += 1  # late (after its timeout), for an earlier target, or not ours
            return
        self.totals.duplicates += 1
        reported = self._state[slot] == FREE
        if not reported:
            self._rare_of(slot)[0] += 1
        if self._reply_events:
            self._reply_event(slot, max(rx_ns - self._tx_ns[slot], 0), ttl, length, True, reported)

    def on_inbound(self, inbound: Inbound) -> None:
        """An :class:`Inbound` from any transport (the generic, slower path)."""
        icmp = inbound.icmp
        self.on_icmp(icmp, 0, len(icmp), int(inbound.src), inbound.ttl, inbound.rx_ns)

    def _reply_event(self, slot: int, rtt_ns: int, ttl: int | None, length: int, duplicate: bool,
                     reported: bool = False) -> None:  # fmt: skip
        if reported:  # the slot's target is before the head: head - window <= target < head
            target = self._head - self._window + ((slot - self._head) & self._mask)
        else:
            target = self._target_of(slot)
        self.events.append(
            TargetReply(
                target, self._addr[slot], self._name[slot], self._sent[slot] - 1, rtt_ns, ttl, length,
                duplicate, self._sent[slot], self._recv[slot], self._rtt_sum[slot],
            )
        )  # fmt: skip

    def _on_error(self, icmp: bytes, source: int) -> None:
        quote = self.rules.parse_error(icmp)
        if quote is None:
            self.totals.foreign += 1  # unparsable, or quoting no ICMP datagram: nothing to match
            return
        payload = quote.icmp
        serial = -1
        if len(payload) >= 20 and self._tagged:
            icmp_type, identifier, seq, cookie, serial = _QUOTED_TAG.unpack_from(payload)
            if cookie != self._cookie_word:
                self.totals.foreign += 1
                return
        else:
            icmp_type, identifier, seq = _QUOTED_HEAD.unpack_from(payload)
        ours = identifier == self._identifier or self._kernel_owns_id
        if icmp_type != self._echo_request or not ours or seq > self._mask:
            self.totals.foreign += 1
            return
        slot = seq
        outstanding = self._serial[slot]
        if (self._state[slot] != ACTIVE or self._addr[slot] != int(quote.destination) or outstanding < 0
                or (serial >= 0 and serial != outstanding)):  # fmt: skip
            self.totals.foreign += 1
            return
        error_type = icmp[0]
        self.events.append(
            TargetIcmpError(self._target_of(slot), self._addr[slot], self._name[slot], self._probe_of(slot),
                            source, error_type, icmp[1], quote.message)
        )  # fmt: skip
        if error_type in self.rules.advice_types:
            return  # advice, not a failure: the probe went on (RFC 792)
        self._rare_of(slot)[1] += 1
        self.totals.errors += 1
        self._serial[slot] = -1
        self._resolved(slot, answered=False, retry=False)

    # -- time passing ---------------------------------------------------------------------------
    def expire(self, now_ns: int) -> None:
        """Time out the probes whose deadline passed (and retry or finish their targets)."""
        serials = self._serial
        for deadlines in (self._deadlines_short, self._deadlines):
            while deadlines and deadlines[0][0] <= now_ns:
                for key in deadlines.popleft()[1]:
                    slot = key >> 32
                    if serials[slot] == key & _SERIAL_MASK:
                        self._time_out(slot)
        if self._stopped:
            self._finish_all()

    def _time_out(self, slot: int) -> None:
        self._serial[slot] = -1
        if self.config.timeout_events:
            self.events.append(TargetTimeout(self._target_of(slot), self._addr[slot], self._name[slot],
                                             self._probe_of(slot), self._sent[slot], self._recv[slot],
                                             self._rtt_sum[slot]))  # fmt: skip
        self._resolved(slot, answered=False, retry=True)

    def _resolved(self, slot: int, *, answered: bool, retry: bool) -> None:
        """The outstanding probe of ``slot`` is answered, errored or lost: what next?"""
        if self._state[slot] != ACTIVE:
            return
        if self._count is None:
            if not answered and retry and self._left[slot] > 0 and not self._stopped:
                self._left[slot] -= 1
                self._ready.append(slot)
                return
            self._finish(slot)
        elif self._left[slot] == 0:
            self._finish(slot)

    def stop(self, now_ns: int) -> None:
        """Interrupted (Ctrl-C, deadline): send nothing more; every target taken in finishes now."""
        self._stopped = True
        self._ready.clear()
        self._waits.clear()
        self._finish_all()

_ACTIVE_BYTE: Final = bytes((ACTIVE,))
_KEY_STEP: Final = (1 << 32) + 1  # timeout key (slot << 32 | serial) of the next slot and serial

