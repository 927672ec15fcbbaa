"""Counting and RTT statistics. Computes, never prints (iputils' gather_statistics does both).

mdev is the population standard deviation ``sqrt(tsum2/n - avg**2)`` exactly as iputils'
``ping_output.c`` computes it, and the EWMA follows iputils (weight 1/8, kept scaled by 8).
"""

from __future__ import annotations

import math

from layerping._value import Record, field


class Statistics(Record):
    """Counters for one destination. RTTs are in nanoseconds."""

    transmitted: int = 0
    received: int = 0
    duplicates: int = 0
    corrupted: int = 0
    errors: int = 0
    rtt_min_ns: int = 0
    rtt_max_ns: int = 0
    rtt_sum_ns: int = 0
    rtt_sum2_ns2: int = 0
    rtt_ewma_x8_ns: int = 0  # iputils keeps rtt*8 to avoid fractions
    timed: int = 0  # replies that carried an RTT (duplicates included, as in iputils)
    keep_samples: bool = False
    samples_ns: list[int] = field(default_factory=list)

    def add_rtt(self, rtt_ns: int) -> None:
        if self.timed == 0 or rtt_ns < self.rtt_min_ns:
            self.rtt_min_ns = rtt_ns
        if rtt_ns > self.rtt_max_ns:
            self.rtt_max_ns = rtt_ns
        self.rtt_sum_ns += rtt_ns
        self.rtt_sum2_ns2 += rtt_ns * rtt_ns
        if self.timed == 0:
            self.rtt_ewma_x8_ns = rtt_ns * 8
        else:
            self.rtt_ewma_x8_ns += rtt_ns - self.rtt_ewma_x8_ns // 8
        self.timed += 1
        if self.keep_samples:
            self.samples_ns.append(rtt_ns)

    @property
    def loss_percent(self) -> float:
        if self.transmitted == 0:
            return 0.0
        return (self.transmitted - self.received) * 100.0 / self.transmitted

    @property
    def rtt_avg_ns(self) -> float:
        return self.rtt_sum_ns / self.timed if self.timed else 0.0

    @property
    def rtt_mdev_ns(self) -> float:
        if not self.timed:
            return 0.0
        avg = self.rtt_sum_ns / self.timed
        return math.sqrt(max(self.rtt_sum2_ns2 / self.timed - avg * avg, 0.0))

    @property
    def rtt_ewma_ns(self) -> float:
        return self.rtt_ewma_x8_ns / 8

    def percentile_ns(self, p: float) -> float | None:
        """Nearest-rank percentile of the kept samples (``keep_samples=True``), or None."""
        if not self.samples_ns:
            return None
        ordered = sorted(self.samples_ns)
        rank = max(1, math.ceil(p / 100.0 * len(ordered)))
        return float(ordered[rank - 1])
