"""``--json``: one JSON object per line for every event, then a summary. Nothing else on stdout.

The field names are part of layerping's interface (README "JSON output") and stay stable:

* ``{"event": "probe", "seq", "time_sent"}``: ``time_sent`` in seconds since the epoch, the
  CLOCK_REALTIME stamp taken right before the send system call;
* ``{"event": "reply", "seq", "from", "bytes", "ttl", "rtt_ms", "dup", "corrupted"}``;
* ``{"event": "error", "seq", "from", "type", "code", "name"}``: an ICMP error about one of our
  probes, ``name`` as iputils words it; a probe the kernel refused to send is an error with
  ``from``, ``type`` and ``code`` null and the reason in ``name``;
* ``{"event": "timeout", "seq"}``: no answer within ``-W``;
* ``{"event": "summary", "transmitted", "received", "duplicates", "corrupted", "errors",
  "loss_percent", "time_ms", "rtt_min_ms", "rtt_avg_ms", "rtt_max_ms", "rtt_mdev_ms",
  "rtt_p50_ms", "rtt_p90_ms", "rtt_p99_ms"}``: RTT fields are null when no reply carried one;
  percentiles are nearest-rank over every RTT measured (duplicates included, as min/avg/max).

Replies that arrive after their ``-W`` timeout are not counted and not reported (as in the text
output). Times are milliseconds with microsecond resolution.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

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
from layerping.output.text import icmp_error_text

JsonValue = str | int | float | bool | None

SUMMARY_FIELDS = (
    "transmitted",
    "received",
    "duplicates",
    "corrupted",
    "errors",
    "loss_percent",
    "time_ms",
    "rtt_min_ms",
    "rtt_avg_ms",
    "rtt_max_ms",
    "rtt_mdev_ms",
    "rtt_p50_ms",
    "rtt_p90_ms",
    "rtt_p99_ms",
)


def _ms(ns: float | None) -> float | None:
    """Nanoseconds as milliseconds, to the microsecond."""
    return None if ns is None else round(ns / 1e6, 3)


def event_object(event: Event) -> dict[str, JsonValue] | None:
    """The JSON object for one event, or None for events that are not reported (late replies)."""
    if isinstance(event, ProbeEvent):
        return {"event": "probe", "seq": event.seq, "time_sent": round(event.tx_ns / 1e9, 6)}
    if isinstance(event, ReplyEvent):
        if event.late:
            return None
        return {
            "event": "reply",
            "seq": event.seq,
            "from": str(event.src),
            "bytes": event.icmp_len,
            "ttl": event.ttl,
            "rtt_ms": _ms(event.rtt_ns),
            "dup": event.duplicate,
            "corrupted": event.corrupted,
        }
    if isinstance(event, ErrorEvent):
        return {
            "event": "error",
            "seq": event.seq,
            "from": str(event.src),
            "type": event.icmp_type,
            "code": event.icmp_code,
            "name": icmp_error_text(event),
        }
    if isinstance(event, LocalErrorEvent):
        return {"event": "error", "seq": event.seq, "from": None, "type": None, "code": None,
                "name": event.text}
    if isinstance(event, TimeoutEvent):
        return {"event": "timeout", "seq": event.seq}
    return None


def summary_object(stats: Statistics, elapsed_ns: int) -> dict[str, JsonValue]:
    """The final ``summary`` object: counters, loss, time and RTT statistics."""
    timed = stats.timed > 0
    summary: dict[str, JsonValue] = {
        "event": "summary",
        "transmitted": stats.transmitted,
        "received": stats.received,
        "duplicates": stats.duplicates,
        "corrupted": stats.corrupted,
        "errors": stats.errors,
        "loss_percent": round(stats.loss_percent, 3),
        "time_ms": _ms(elapsed_ns),
        "rtt_min_ms": _ms(stats.rtt_min_ns) if timed else None,
        "rtt_avg_ms": _ms(stats.rtt_avg_ns) if timed else None,
        "rtt_max_ms": _ms(stats.rtt_max_ns) if timed else None,
        "rtt_mdev_ms": _ms(stats.rtt_mdev_ns) if timed else None,
        "rtt_p50_ms": _ms(stats.percentile_ns(50)),
        "rtt_p90_ms": _ms(stats.percentile_ns(90)),
        "rtt_p99_ms": _ms(stats.percentile_ns(99)),
    }
    return summary


class JsonOutput:
    """Writes each event as one JSON line as it happens, then the summary."""

    def __init__(self, session: Session, out: TextIO | None = None) -> None:
        self.session = session
        self.out = sys.stdout if out is None else out

    def __call__(self, event: Event) -> None:
        obj = event_object(event)
        if obj is not None:
            self._line(obj)

    def summary(self) -> None:
        self._line(summary_object(self.session.stats, self.session.elapsed_ns))

    def _line(self, obj: dict[str, JsonValue]) -> None:
        self.out.write(json.dumps(obj, separators=(", ", ": ")) + "\n")
        self.out.flush()
