"""What a many-target run is told and what it reports: :class:`MultiConfig`, the per-target
events (:class:`TargetReply` ... :class:`TargetDone`, and :class:`TargetsDone` for runs of
plainly finished targets as columns) and the run's :class:`MultiTotals`.

The state machine that produces them is :mod:`layerping.engine.multi`; the API, the command
line and output read them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Final

from layerping._value import Record, Value

DEFAULT_RATE_PPS: Final = 1000.0
MAX_BURST: Final = 1024
MAX_WINDOW: Final = 1 << 16  # the sequence number is the slot: 16 bits (RFC 792)
_ZEROS: Final = itertools.repeat(0)


def default_burst(rate_pps: float) -> int:
    """Tokens the bucket holds: 2 ms worth of probes, at least 1 and at most MAX_BURST."""
    return max(1, min(MAX_BURST, int(rate_pps * 0.002)))


class MultiConfig(Value):
    """What a many-target run does. Times in nanoseconds."""

    identifier: int
    cookie: bytes  # 8 random bytes per run
    count: int | None = None  # None: alive mode (fping default); N: N probes per target
    retries: int = 1  # alive mode: re-probe a silent target this many times
    interval_ns: int = 1_000_000_000  # count mode: between two probes to one target
    timeout_ns: int = 1_000_000_000  # -W: how long a probe waits for its answer
    rate_pps: float = DEFAULT_RATE_PPS  # all targets together
    burst: int | None = None  # token bucket depth; None: default_burst(rate_pps)
    payload_size: int = 56
    pattern: bytes = b""
    kernel_owns_id: bool = False  # ICMP datagram socket: match on the sequence number alone
    verify_checksum: bool = True  # count replies with a bad ICMP checksum as corrupted
    window: int = MAX_WINDOW  # ring slots (power of two, at most 65536)
    reply_events: bool = True  # report every reply (fping -c lines); off for quiet sweeps
    timeout_events: bool = True  # report every probe that timed out
    keep_rtts: bool = False  # TargetDone carries every RTT (for library results)
    #: Report a run of plainly finished targets (nothing but replies and timeouts to tell) as one
    #: TargetsDone of columns, not one TargetDone each: the command line's sweep path.
    done_runs: bool = False


# --- events --------------------------------------------------------------------------------------
#
# Events are records (layerping._value), not frozen values: a frozen one costs 1.7 µs to build against 0.27 µs
# (measured on CPython 3.11.7, 12 fields), and a sweep builds one or two per target. Treat them as
# read-only.


class TargetReply(Record):
    """An echo reply from target number ``target`` for its probe number ``probe`` (0-based)."""

    target: int
    address: int
    name: str | None
    probe: int
    rtt_ns: int
    ttl: int | None
    icmp_len: int
    duplicate: bool
    transmitted: int  # so far, for fping's running "(avg, loss)"
    received: int
    rtt_sum_ns: int


class TargetTimeout(Record):
    """Probe ``probe`` to target ``target`` got no answer within its timeout."""

    target: int
    address: int
    name: str | None
    probe: int
    transmitted: int
    received: int
    rtt_sum_ns: int


IcmpErrorMessage = object
"""The parsed ICMP error (the family's wire value): output asks the family for its words."""


class TargetIcmpError(Record):
    """An ICMP error (from ``source``) quoting probe ``probe`` to target ``target``."""

    target: int
    address: int
    name: str | None
    probe: int
    source: int
    icmp_type: int
    icmp_code: int
    message: IcmpErrorMessage | None  # None when only type and code are known


class TargetSendError(Record):
    """The kernel refused to send probe ``probe`` (e.g. a broadcast address without -b)."""

    target: int
    address: int
    name: str | None
    probe: int
    text: str


class TargetDone(Record):
    """Everything about one target; reported once, in input order."""

    target: int
    address: int
    name: str | None
    transmitted: int
    received: int
    duplicates: int
    errors: int  # ICMP errors and refused sends
    corrupted: int
    rtt_min_ns: int
    rtt_max_ns: int
    rtt_sum_ns: int
    rtts_ns: tuple[int, ...] = ()  # with MultiConfig.keep_rtts

    @property
    def alive(self) -> bool:
        return self.received > 0

    @property
    def loss_percent(self) -> float:
        if not self.transmitted:
            return 0.0
        return (self.transmitted - self.received) * 100.0 / self.transmitted

    @property
    def rtt_avg_ns(self) -> float:
        return self.rtt_sum_ns / self.received if self.received else 0.0


class TargetsDone(Record):
    """Targets ``first_target``, ``first_target + 1``, ... finished, as columns: one
    :class:`TargetDone` each, with no duplicates, errors, corruption or kept RTTs to tell.

    Why: building a :class:`TargetDone` costs about 0.6 µs, and the consumer of a sweep's
    address list reads two of its fields; slicing the session's columns costs a few ns per
    target. :meth:`targets` gives the objects to whoever wants them.
    """

    first_target: int
    addresses: list[int]
    names: list[str | None]
    transmitted: list[int]
    received: list[int]  # 0: no reply
    rtt_min_ns: list[int]  # 0 where no reply
    rtt_max_ns: list[int]
    rtt_sum_ns: list[int]

    def __len__(self) -> int:
        return len(self.addresses)

    def targets(self) -> Iterator[TargetDone]:
        """One :class:`TargetDone` per target, in order."""
        first = self.first_target
        return map(TargetDone, range(first, first + len(self.addresses)), self.addresses, self.names,
                   self.transmitted, self.received, _ZEROS, _ZEROS, _ZEROS, self.rtt_min_ns,
                   self.rtt_max_ns, self.rtt_sum_ns)  # fmt: skip


TargetEvent = TargetReply | TargetTimeout | TargetIcmpError | TargetSendError | TargetDone
"""An event about one target."""
MultiEvent = TargetEvent | TargetsDone
"""What :meth:`MultiSession.drain_events` reports: TargetsDone only with ``MultiConfig.done_runs``."""


def expand_runs(events: Iterable[MultiEvent]) -> Iterator[TargetEvent]:
    """``events`` with each :class:`TargetsDone` replaced by its :class:`TargetDone` events."""
    for event in events:
        if isinstance(event, TargetsDone):
            yield from event.targets()
        else:
            yield event


class MultiTotals(Record):
    """Counters over the whole run."""

    targets: int = 0
    alive: int = 0
    transmitted: int = 0
    received: int = 0
    duplicates: int = 0
    corrupted: int = 0
    errors: int = 0
    foreign: int = 0  # messages that were not ours (another run's, late, or unmatched)
