"""Many-target output in fping's forms (fping 5.1, checked against it in the lab).

Formatting only: :mod:`layerping.engine.multi` counts. Lines, as fping prints them:

* count mode (``-c``), stdout, per probe::

      198.51.100.2 : [0], 64 bytes, 0.023 ms (0.023 avg, 0% loss)
      203.0.113.7  : [0], timed out (NaN avg, 100% loss)

  then per target, on stderr after a blank line, in input order::

      198.51.100.2 : xmt/rcv/%loss = 2/2/0%, min/avg/max = 0.023/0.024/0.026
      203.0.113.7  : xmt/rcv/%loss = 2/0/100%

* alive mode (no ``-c``), stdout: ``198.51.100.2 is alive``, ``192.0.2.99 is unreachable``;
* ``--alive`` / ``--unreachable``: only the addresses (or the names given), one per line, so a
  sweep pipes into other tools; per-probe lines are left out, ``-c`` summaries stay on stderr;
* ICMP errors on stderr: ``ICMP Network Unreachable from 192.0.2.1 for ICMP Echo sent to
  203.0.113.7``;
* ``--json``: the single-target JSON objects (``reply``, ``error``, ``timeout``), each with a
  ``target`` field, one ``target`` object per target, then a ``summary``.

Names are padded to the longest name known up front (fping pads to the longest of all its
targets; targets read from a file are streamed and not counted). Targets are reported in
input order, each as soon as it and every target before it are done.
"""

from __future__ import annotations

import itertools
import socket
import sys
from collections.abc import Callable, Iterable
from typing import Any, Final, TextIO, cast

from layerping._value import Record
from layerping.engine.multi import (
    MultiEvent,
    MultiTotals,
    TargetDone,
    TargetEvent,
    TargetIcmpError,
    TargetReply,
    TargetsDone,
    TargetSendError,
    TargetTimeout,
)
from layerping.engine.session import ErrorEvent
from layerping.inet.v4 import IPV4
from layerping.output.text import icmp_error_text
from layerping.targets import format_address

JsonValue = str | int | float | bool | None



_ntoa = socket.inet_ntoa
_OCTETS: Final = tuple(str(n) for n in range(256))
_PREFIXES: dict[int, str] = {}  # "198.18.7." by address >> 8, for dotted_quads


def dotted_quads(addresses: Iterable[int]) -> list[str]:
    """Each address (an int) as a dotted quad, as ``inet_ntoa`` writes it.

    A sweep prints tens of thousands of addresses that share their first three octets: the
    prefix string is made once per /24 and the last octet looked up, 0.29 µs an address against
    0.62 for ``inet_ntoa(address.to_bytes(4, "big"))`` (CPython 3.11, this machine).
    """
    prefixes = _PREFIXES
    if len(prefixes) > 4096:
        prefixes.clear()  # bounded: a /8 sweep would otherwise keep 65536 of them
    get = prefixes.get
    return [(get(address >> 8) or _prefix(address >> 8)) + _OCTETS[address & 255] for address in addresses]


def _prefix(network: int) -> str:
    text = _PREFIXES[network] = _ntoa((network << 8).to_bytes(4, "big"))[:-1]
    return text


def icmp_error_words(icmp_type: int, code: int) -> str:
    """fping's words for an ICMP error (``ICMP Host Unreachable``...)."""
    return IPV4.fping_words(icmp_type, code)


def sprint_tm(ns: float) -> str:
    """A time in ms as fping's ``sprint_tm`` prints it: 3 significant decimals, fewer when large."""
    t = ns / 1e6
    if t < 0:
        return f"{t:.2g}"
    if t < 1.0:
        return f"{t:.3f}"
    if t < 10.0:
        return f"{t:.2f}"
    if t < 100.0:
        return f"{t:.1f}"
    if t < 1_000_000.0:
        return f"{t:.0f}"
    return f"{t:.3e}"


def display(address: int, name: str | None) -> str:
    """What a line calls a target: the name the user gave, else the dotted quad."""
    return name if name is not None else format_address(address)


class FpingOptions(Record):
    count_mode: bool = False  # -c given: per-probe lines and per-target summaries
    quiet: bool = False  # -q: no per-probe lines, no ICMP error lines
    alive_only: bool = False  # --alive
    unreachable_only: bool = False  # --unreachable
    width: int = 0  # pad names to this many characters (fping's max_hostname_len)
    json: bool = False


class FpingOutput:
    """Prints the events of a many-target run (a sink for MultiRunner).

    Lines are collected and written in blocks: by :meth:`flush` (the runner calls it before it
    waits, through ``on_idle``) or when 64 KiB are pending. A sweep of a /16 prints 65534 lines;
    one write system call each would cost more than the pings.
    """

    FLUSH_BYTES = 1 << 16

    def __init__(self, options: FpingOptions, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        self.options = options
        self.out = out
        self.err = err
        self._probe_lines = options.count_mode and not options.quiet and not (
            options.alive_only or options.unreachable_only
        )
        self._summaries_started = False
        self._lines = 0
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._handlers: dict[type, Callable[[Any], None]] = {
            TargetDone: self._done,
            TargetReply: self._reply,
            TargetTimeout: self._timeout,
            TargetIcmpError: self._icmp_error,
            TargetSendError: self._send_error,
        }
        if options.json:
            self._handlers = dict.fromkeys(self._handlers, self._json)
        elif options.alive_only or options.unreachable_only:
            self._handlers[TargetDone] = self._done_list if not options.count_mode else self._done
        lists = options.alive_only or options.unreachable_only
        list_only = lists and not (options.count_mode or options.json)
        self._handlers[TargetsDone] = self._run_list if list_only else self._run_each

    def __call__(self, event: MultiEvent) -> None:
        self._handlers[type(event)](event)

    def many(self, events: list[MultiEvent]) -> None:
        """Several events at once (a turn of the run's loop)."""
        handlers = self._handlers
        for event in events:
            handlers[type(event)](event)

    def _run_list(self, run: TargetsDone) -> None:
        """--alive / --unreachable without -c, for a run of targets: a sweep's fast path, from
        the run's columns (no object per target)."""
        options = self.options
        if options.alive_only and options.unreachable_only:
            pick = [True] * len(run)
        elif options.alive_only:
            pick = [received > 0 for received in run.received]
        else:
            pick = [not received for received in run.received]
        if run.names.count(None) == len(run):  # addresses alone: CIDR blocks and ranges
            lines = dotted_quads(itertools.compress(run.addresses, pick))
        else:
            names = itertools.compress(run.names, pick)
            texts = dotted_quads(itertools.compress(run.addresses, pick))
            lines = [name or text for name, text in zip(names, texts, strict=True)]
        if lines:
            lines.append("")
            self._write("\n".join(lines))

    def _run_each(self, run: TargetsDone) -> None:
        handle = self._handlers[TargetDone]
        for event in run.targets():
            handle(event)

    def _write(self, text: str) -> None:
        self._pending.append(text)
        self._pending_bytes += len(text)
        if self._pending_bytes >= self.FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write what is pending to stdout (stderr lines are written at once: they are rare)."""
        if self._pending:
            self.out.write("".join(self._pending))
            self._pending.clear()
            self._pending_bytes = 0
        self.out.flush()

    def _err(self, text: str) -> None:
        self.flush()  # keep stdout and stderr in the order the events came
        self.err.write(text)
        self.err.flush()

    # -- text -----------------------------------------------------------------------------------
    def _name(self, address: int, name: str | None) -> str:
        text = display(address, name)
        width = self.options.width
        return text.ljust(width) if width else text

    def _done_list(self, event: TargetDone) -> None:
        """--alive / --unreachable without -c: the address alone."""
        if event.received:
            if self.options.alive_only:
                self._write((event.name or _ntoa(event.address.to_bytes(4, "big"))) + "\n")
        elif self.options.unreachable_only:
            self._write((event.name or _ntoa(event.address.to_bytes(4, "big"))) + "\n")

    def _reply(self, event: TargetReply) -> None:
        if event.duplicate:
            if not self.options.quiet:
                name = self._name(event.address, event.name)
                self._err(f"{name} : duplicate for [{event.probe}], {event.icmp_len} bytes, "
                          f"{sprint_tm(event.rtt_ns)} ms\n")  # fmt: skip
        elif self._probe_lines:
            avg = event.rtt_sum_ns / event.received if event.received else 0
            self._write(
                f"{self._name(event.address, event.name)} : [{event.probe}], {event.icmp_len} bytes, "
                f"{sprint_tm(event.rtt_ns)} ms ({sprint_tm(avg)} avg, "
                f"{_loss(event.transmitted, event.received)}% loss)\n"
            )
            self._lines += 1

    def _timeout(self, event: TargetTimeout) -> None:
        if self._probe_lines:
            average = sprint_tm(event.rtt_sum_ns / event.received) if event.received else "NaN"
            self._write(
                f"{self._name(event.address, event.name)} : [{event.probe}], timed out "
                f"({average} avg, {_loss(event.transmitted, event.received)}% loss)\n"
            )
            self._lines += 1

    def _icmp_error(self, event: TargetIcmpError) -> None:
        if not self.options.quiet:
            self._err(f"{icmp_error_words(event.icmp_type, event.icmp_code)} from "
                      f"{format_address(event.source)} for ICMP Echo sent to "
                      f"{display(event.address, event.name)}\n")  # fmt: skip

    def _send_error(self, event: TargetSendError) -> None:
        self._err(f"{display(event.address, event.name)}: error while sending ping: {event.text}\n")

    def _done(self, event: TargetDone) -> None:
        opts = self.options
        name = display(event.address, event.name)
        if opts.alive_only or opts.unreachable_only:
            if (event.alive and opts.alive_only) or (not event.alive and opts.unreachable_only):
                self._write(name + "\n")
        elif not opts.count_mode and not opts.quiet:
            self._write(f"{name} is {'alive' if event.alive else 'unreachable'}\n")
        if opts.count_mode:
            if not self._summaries_started:
                self._summaries_started = True
                if self._lines:
                    self._err("\n")
            line = f"{self._name(event.address, event.name)} : xmt/rcv/%loss = {event.transmitted}/" \
                   f"{event.received}/{_loss(event.transmitted, event.received)}%"  # fmt: skip
            if event.received:
                line += (f", min/avg/max = {sprint_tm(event.rtt_min_ns)}/{sprint_tm(event.rtt_avg_ns)}/"
                         f"{sprint_tm(event.rtt_max_ns)}")  # fmt: skip
            self._err(line + "\n")

    # -- JSON -----------------------------------------------------------------------------------
    def _json(self, event: TargetEvent) -> None:
        import json  # only --json needs it: kept out of a sweep's start-up

        self._write(json.dumps(event_to_json(event), separators=(", ", ": ")) + "\n")

    def summary(self, totals: MultiTotals, elapsed_ns: int) -> None:
        """The run's last line with ``--json`` (text output has no overall summary, as fping)."""
        if self.options.json:
            transmitted = totals.transmitted
            loss = (transmitted - totals.received) * 100.0 / transmitted if transmitted else 0.0
            record: dict[str, JsonValue] = {
                "event": "summary",
                "targets": totals.targets,
                "alive": totals.alive,
                "unreachable": totals.targets - totals.alive,
                "transmitted": totals.transmitted,
                "received": totals.received,
                "duplicates": totals.duplicates,
                "corrupted": totals.corrupted,
                "errors": totals.errors,
                "loss_percent": round(loss, 3),
                "time_ms": _ms(elapsed_ns),
            }
            import json

            self._write(json.dumps(record, separators=(", ", ": ")) + "\n")
        self.flush()
        self.err.flush()


def _loss(transmitted: int, received: int) -> int:
    return (transmitted - received) * 100 // transmitted if transmitted else 0


def _ms(ns: float) -> float:
    """Nanoseconds as milliseconds, to the microsecond (as the single-target JSON)."""
    return round(ns / 1e6, 3)


def event_to_json(event: TargetEvent) -> dict[str, JsonValue]:
    """One event as the single-target ``--json`` objects have it, plus ``target`` (as given).

    ``reply``, ``error`` and ``timeout`` carry the same fields as with one destination (``seq``
    is the probe's number from 1, as ``icmp_seq`` in ping(8) and ``seq`` with one destination;
    fping's text ``[0]`` is that number minus one); each target ends with a ``target``
    object (its counters and RTT statistics, ``alive``), and the run with ``summary``.
    """
    target = display(event.address, event.name)
    if isinstance(event, TargetReply):
        return {"event": "reply", "target": target, "seq": event.probe + 1,
                "from": format_address(event.address),
                "bytes": event.icmp_len, "ttl": event.ttl, "rtt_ms": _ms(event.rtt_ns),
                "dup": event.duplicate, "corrupted": False}  # fmt: skip
    if isinstance(event, TargetTimeout):
        return {"event": "timeout", "target": target, "seq": event.probe + 1}
    if isinstance(event, TargetIcmpError):
        return {"event": "error", "target": target, "seq": event.probe + 1,
                "from": format_address(event.source),
                "type": event.icmp_type, "code": event.icmp_code,
                "name": icmp_error_text(cast(ErrorEvent, event))}  # fmt: skip
    if isinstance(event, TargetSendError):
        return {"event": "error", "target": target, "seq": event.probe + 1, "from": None, "type": None,
                "code": None, "name": event.text}  # fmt: skip
    timed = event.received > 0
    return {
        "event": "target",
        "target": target,
        "address": format_address(event.address),
        "alive": event.alive,
        "transmitted": event.transmitted,
        "received": event.received,
        "duplicates": event.duplicates,
        "corrupted": event.corrupted,
        "errors": event.errors,
        "loss_percent": round(event.loss_percent, 3),
        "rtt_min_ms": _ms(event.rtt_min_ns) if timed else None,
        "rtt_avg_ms": _ms(event.rtt_avg_ns) if timed else None,
        "rtt_max_ms": _ms(event.rtt_max_ns) if timed else None,
    }
