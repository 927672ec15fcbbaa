"""Output lines as iputils ``ping`` prints them (ping_common.c, ping.c ``pr_icmph``).

Formatting only: counting lives in :mod:`layerping.engine.stats`.
"""

from __future__ import annotations

import socket
import struct
import sys
from typing import TextIO

from layerping._value import Record
from layerping.engine.session import (
    ErrorEvent,
    Event,
    LocalErrorEvent,
    ProbeEvent,
    ReplyEvent,
    Session,
    TimeoutEvent,
)
from layerping.engine.stats import Statistics
from layerping.inet.v4 import IPV4
from layerping.transport.base import Address


def icmp_error_text(event: ErrorEvent) -> str:
    """The words iputils prints for an ICMP error (``pr_icmph``): the family's to say."""
    return IPV4.ping_words(event.icmp_type, event.icmp_code, event.message)


def format_ms(rtt_ns: int) -> str:
    """An RTT as iputils prints it after ``time=``: 3 significant decimals, fewer when large."""
    us = rtt_ns // 1000
    if us >= 100000 - 50:
        return f"{(us + 500) // 1000}"
    if us >= 10000 - 5:
        return f"{(us + 50) // 1000}.{((us + 50) % 1000) // 100}"
    if us >= 1000:
        return f"{(us + 5) // 1000}.{((us + 5) % 1000) // 10:02d}"
    return f"{us // 1000}.{us % 1000:03d}"


def _ms3(value_ns: float) -> str:
    """%ld.%03ld of a microsecond count, as the statistics lines print it."""
    us = int(value_ns // 1000)
    return f"{us // 1000}.{us % 1000:03d}"


class TextOptions(Record):
    """What the iputils-style output shows (-q, -f, -n, -D, -O, -a)."""

    quiet: bool = False
    flood: bool = False
    numeric: bool = True
    timestamps: bool = False  # -D
    report_outstanding: bool = False  # -O
    audible: bool = False  # -a


class TextOutput:
    """Prints a session's events and summary like iputils ping."""

    def __init__(
        self,
        session: Session,
        display_name: str,
        options: TextOptions,
        out: TextIO = sys.stdout,
        err: TextIO = sys.stderr,
    ) -> None:
        self.session = session
        self.display_name = display_name
        self.options = options
        self.out = out
        self.err = err
        self._names: dict[Address, str] = {}
        self.max_outstanding = 0

    # -- lines -----------------------------------------------------------------------------------
    def header(self, address: Address, payload_size: int, source: str | None, device: str | None) -> None:
        via = ""
        if source is not None or device is not None:
            via = "from " + " ".join(p for p in (source, device) if p) + ": "
        total = payload_size + 8 + 20
        self.out.write(f"PING {self.display_name} ({address}) {via}{payload_size}({total}) bytes of data.\n")
        self.out.flush()

    def _host(self, address: Address) -> str:
        if self.options.numeric:
            return str(address)
        name = self._names.get(address)
        if name is None:
            try:
                name = socket.getnameinfo((str(address), 0), socket.NI_NAMEREQD)[0]
            except OSError:
                name = str(address)
            self._names[address] = name
        return f"{name} ({address})" if name != str(address) else name

    def _prefix(self, rx_ns: int | None = None) -> str:
        if not self.options.timestamps:
            return ""
        import time

        ns = rx_ns if rx_ns else time.time_ns()
        return f"[{ns // 1_000_000_000}.{(ns // 1000) % 1_000_000:06d}] "

    def __call__(self, event: Event) -> None:
        self.on_event(event)

    def on_event(self, event: Event) -> None:
        opts = self.options
        out = self.out
        if isinstance(event, ProbeEvent):
            outstanding = self.session.outstanding
            if outstanding > self.max_outstanding:
                self.max_outstanding = outstanding
            if opts.flood and not opts.quiet:
                out.write(".")
                out.flush()
            elif opts.report_outstanding and not opts.quiet and event.index > 0:
                previous = (event.seq - 1) & 0xFFFF
                if self.session.is_outstanding(previous):
                    out.write(f"{self._prefix()}no answer yet for icmp_seq={previous}\n")
                    out.flush()
            return
        if opts.quiet:
            return
        if isinstance(event, ReplyEvent):
            if event.late:
                return
            if opts.flood:
                if not event.duplicate:
                    out.write("\b \b")
                    out.flush()
                return
            line = (
                f"{self._prefix(event.inbound.rx_ns)}{event.icmp_len} bytes from {self._host(event.src)}: "
                f"icmp_seq={event.seq}"
            )
            if event.ttl is not None:
                line += f" ttl={event.ttl}"
            if event.rtt_ns is not None:
                line += f" time={format_ms(event.rtt_ns)} ms"
            if event.duplicate:
                line += " (DUP!)"
            if event.corrupted:
                line += " (BAD CHECKSUM!)"
            if opts.audible:
                line += "\a"
            out.write(line + "\n")
            if event.wrong_data is not None and not event.corrupted:
                index, expected, got = event.wrong_data
                out.write(f"wrong data byte #{index} should be 0x{expected:x} but was 0x{got:x}\n")
            out.flush()
        elif isinstance(event, ErrorEvent):
            if opts.flood:
                out.write("\bE")
            else:
                out.write(
                    f"{self._prefix(event.inbound.rx_ns)}From {self._host(event.src)} "
                    f"icmp_seq={event.seq} {icmp_error_text(event)}\n"
                )
            out.flush()
        elif isinstance(event, LocalErrorEvent):
            if opts.flood:
                out.write("\bE")
                out.flush()
            else:
                self.err.write(f"layerping: {event.text}\n")
                self.err.flush()
        elif isinstance(event, TimeoutEvent):
            pass

    def summary(self) -> None:
        stats = self.session.stats
        out = self.out
        if self.options.flood and not self.options.quiet:
            out.write("\n")
        out.write(f"\n--- {self.display_name} ping statistics ---\n")
        out.write(summary_line(stats, self.session.elapsed_ns) + "\n")
        # iputils joins these three on one line with ", " (ping_common.c finish()).
        parts = []
        rtt = rtt_line(stats)
        if rtt:
            parts.append(rtt)
        if self.max_outstanding > 1:
            parts.append(f"pipe {self.max_outstanding}")
        cfg = self.session.config
        if stats.transmitted > 1 and stats.received and (cfg.interval_ns == 0 or cfg.flood):
            ipg_ns = self.session.elapsed_ns / (stats.transmitted - 1)
            parts.append(f"ipg/ewma {_ms3(ipg_ns)}/{_ms3(stats.rtt_ewma_ns)} ms")
        if parts:
            out.write(", ".join(parts) + "\n")
        out.flush()

    def status(self) -> None:
        """The SIGQUIT line, on stderr (iputils ``status``)."""
        self.err.write("\r" + status_line(self.session.stats) + "\n")
        self.err.flush()


def summary_line(stats: Statistics, elapsed_ns: int) -> str:
    parts = [f"{stats.transmitted} packets transmitted", f"{stats.received} received"]
    if stats.duplicates:
        parts.append(f"+{stats.duplicates} duplicates")
    if stats.corrupted:
        parts.append(f"+{stats.corrupted} corrupted")
    if stats.errors:
        parts.append(f"+{stats.errors} errors")
    if stats.transmitted:
        # iputils formats a float (single precision) with %g: 23 of 31 lost is "74.1936%".
        loss = struct.unpack("f", struct.pack("f", stats.loss_percent))[0]
        parts.append(f"{loss:g}% packet loss")
        parts.append(f"time {(elapsed_ns + 500_000) // 1_000_000}ms")
    return ", ".join(parts)


def rtt_line(stats: Statistics) -> str | None:
    if not stats.received or not stats.timed:
        return None
    return (
        f"rtt min/avg/max/mdev = {_ms3(stats.rtt_min_ns)}/{_ms3(stats.rtt_avg_ns)}/"
        f"{_ms3(stats.rtt_max_ns)}/{_ms3(stats.rtt_mdev_ns)} ms"
    )


def status_line(stats: Statistics) -> str:
    loss = (stats.transmitted - stats.received) * 100 // stats.transmitted if stats.transmitted else 0
    line = f"{stats.received}/{stats.transmitted} packets, {loss}% loss"
    if stats.received and stats.timed:
        line += (
            f", min/avg/ewma/max = {_ms3(stats.rtt_min_ns)}/{_ms3(stats.rtt_avg_ns)}/"
            f"{_ms3(stats.rtt_ewma_ns)}/{_ms3(stats.rtt_max_ns)} ms"
        )
    return line
