"""The ring of target slots under :class:`~layerping.engine.multi.MultiSession`: per-target state
in bounded memory, and finished targets reported in input order.

Targets are streamed in from an iterator (a /8 is never a list) into a ring of ``window`` slots
(a power of two, at most 65536): target number ``n`` lives in slot ``n % window``. Each slot is
one position in a few parallel lists (address, outstanding probe, send stamp, counters). A
finished target waits in its slot until every target before it has finished, and its slot is
reused only then (:meth:`TargetRing.drain_events` reports them, once per turn of the runner's
loop). Memory is therefore ``O(window)``, not ``O(targets)``; the price is that a target still
waiting for replies holds back reuse of the ring, so a sweep runs at most ``window`` targets
ahead of the oldest unfinished one.

This module owns the slots and their report; :class:`MultiSession` (its subclass) owns what
fills them: scheduling, sending and matching. Parallel lists rather than an object per target
because the hot paths read them through locals bound once per batch, and a /16 sweep reports
65534 targets: building an object per target was a tenth of it (hence :class:`TargetsDone`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Final

from layerping.engine.multi_events import MultiConfig, MultiEvent, MultiTotals, TargetDone, TargetsDone

# Slot states.
FREE: Final = 0
ACTIVE: Final = 1
FINISHED: Final = 2  # done, waiting for the targets before it to be reported

_NO_RARE: Final = (0, 0, 0)
_NOT_FINISHED: Final = (bytes((FREE,)), bytes((ACTIVE,)))
_ZEROS: Final = itertools.repeat(0)


class TargetRing:
    """``window`` slots of per-target state, reported in input order (see the module docstring)."""

    def __init__(self, config: MultiConfig, targets: Iterable[tuple[int, str | None]]) -> None:
        window = config.window
        self.config = config
        self.totals = MultiTotals()
        self.events: list[MultiEvent] = []
        self._targets = iter(targets)
        self._next_target = self._targets.__next__
        self._exhausted = False
        self._stopped = False
        self._mask = window - 1
        self._window = window
        self._admitted = 0  # targets taken from the iterator
        self._head = 0  # oldest target not reported yet
        self._keep_rtts = config.keep_rtts
        # Per-slot state: parallel lists indexed by slot (the ring). A slot's serial is the
        # outstanding probe's serial (>= 0), -1 for none, or -2 - serial once that serial was
        # answered (so a second reply to it is a duplicate). The probe number (fping's [n]) is
        # ``sent - 1``. Rare counters (duplicates, errors, corrupted) live in a dict.
        self._addr = [0] * window
        self._name: list[str | None] = [None] * window
        self._serial = [-1] * window
        self._tx_ns = [0] * window  # CLOCK_REALTIME send stamp of the latest probe
        self._left = [0] * window  # alive: retries left; count: probes still to send
        self._sent = [0] * window
        self._recv = [0] * window
        self._rtt_min = [0] * window
        self._rtt_max = [0] * window
        self._rtt_sum = [0] * window
        self._rtts: list[list[int] | None] = [None] * window
        self._rare: dict[int, Sequence[int]] = {}  # slot -> [duplicates, errors, corrupted]
        self._state = bytearray(window)

    # -- state ----------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """Every target taken in has been reported and no more will come."""
        return (self._exhausted or self._stopped) and self._head == self._admitted

    @property
    def interrupted(self) -> bool:
        """:meth:`stop` ended the run before every target was taken in."""
        return self._stopped and not self._exhausted

    @property
    def active(self) -> int:
        """Targets taken in and not reported yet."""
        return self._admitted - self._head

    def _probe_of(self, slot: int) -> int:
        return self._sent[slot] - 1

    def _target_of(self, slot: int) -> int:
        """Target number of the target in ``slot`` (slots are target numbers modulo the window)."""
        head = self._head
        return head + ((slot - head) & self._mask)

    def _rare_of(self, slot: int) -> list[int]:
        rare = self._rare.get(slot)
        if not isinstance(rare, list):
            rare = [0, 0, 0]
            self._rare[slot] = rare
        return rare

    def _finish(self, slot: int) -> None:
        self._state[slot] = FINISHED  # reported by drain_events(), in input order

    def _report(self) -> None:
        """Report finished targets in input order, freeing their slots."""
        mask = self._mask
        state = self._state
        head = self._head
        admitted = self._admitted
        append = self.events.append
        append_all = self.events.extend
        addrs = self._addr
        names = self._name
        sent = self._sent
        recv = self._recv
        rtt_min = self._rtt_min
        rtt_max = self._rtt_max
        rtt_sum = self._rtt_sum
        rare_pop = self._rare.pop
        keep = self._keep_rtts
        done_runs = self.config.done_runs
        alive = 0
        start = head
        while head < admitted:
            slot = head & mask
            if state[slot] != FINISHED:
                break
            if not keep and not self._rare:
                # A run of finished targets with nothing rare: one TargetDone each, built by
                # map() over slices of the per-slot lists (the rtt lists hold 0 for a target
                # that got no reply).
                limit = min(mask + 1, slot + admitted - head)
                end = limit
                for other in _NOT_FINISHED:
                    found = state.find(other, slot, end)
                    if found >= 0:
                        end = found
                run = end - slot
                received_run = recv[slot:end]
                if done_runs:
                    append(TargetsDone(head, addrs[slot:end], names[slot:end], sent[slot:end], received_run,
                                       rtt_min[slot:end], rtt_max[slot:end], rtt_sum[slot:end]))  # fmt: skip
                else:
                    append_all(map(TargetDone, range(head, head + run), addrs[slot:end], names[slot:end],
                                   sent[slot:end], received_run, _ZEROS, _ZEROS, _ZEROS, rtt_min[slot:end],
                                   rtt_max[slot:end], rtt_sum[slot:end]))  # fmt: skip
                alive += run - received_run.count(0)
                state[slot:end] = bytes(run)
                head += run
                continue
            state[slot] = FREE
            received = recv[slot]
            rare: Sequence[int] = rare_pop(slot, _NO_RARE)
            rtts: tuple[int, ...] = ()
            if keep:
                kept = self._rtts[slot]
                self._rtts[slot] = None
                if kept:
                    rtts = tuple(kept)
            if received:
                alive += 1
                append(TargetDone(head, addrs[slot], names[slot], sent[slot], received, rare[0], rare[1],
                                  rare[2], rtt_min[slot], rtt_max[slot], rtt_sum[slot], rtts))  # fmt: skip
            else:
                append(TargetDone(head, addrs[slot], names[slot], sent[slot], 0, rare[0], rare[1],
                                  rare[2], 0, 0, 0, rtts))  # fmt: skip
            head += 1
        self._head = head
        self.totals.targets += head - start
        self.totals.alive += alive

    def _finish_all(self) -> None:
        mask = self._mask
        for n in range(self._head, self._admitted):
            slot = n & mask
            if self._state[slot] == ACTIVE:
                self._serial[slot] = -1
                self._state[slot] = FINISHED
        self._report()

    def drain_events(self) -> list[MultiEvent]:
        """The events since the last call, finished targets reported (in input order) last.

        The runner calls it once per turn of its loop: targets are reported in batches, and
        :attr:`done` becomes true only after their report.
        """
        head = self._head
        if head < self._admitted and self._state[head & self._mask] == FINISHED:
            self._report()
        events = self.events
        self.events = []
        return events
