#!/usr/bin/env python3
"""Time layerping's internet_checksum against scapy's and a slow reference.

Run: ``python3 bench/checksum.py``. Sizes: 64 B (a ping), 1500 B (an Ethernet MTU),
65000 B (near the IPv4 maximum). Also times the alternatives that were measured when the
implementation was chosen, so the choice can be re-checked on another Python.
scapy is optional: without it that column is skipped.
"""

from __future__ import annotations

import os
import struct
import sys
import timeit
from array import array
from collections.abc import Callable
from pathlib import Path

try:
    from layerping.wire.checksum import internet_checksum
except ImportError:  # not installed: run from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from layerping.wire.checksum import internet_checksum

Checksum = Callable[[bytes], int]
SIZES = (64, 1500, 65000)


def reference(data: bytes) -> int:
    """RFC 1071 §4.1 transcribed: one 16-bit word at a time."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += data[i] << 8 | data[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def int_mod(data: bytes) -> int:
    """int.from_bytes then a plain % 0xffff: no folding, no chunking."""
    value = int.from_bytes(data, "big")
    if len(data) % 2:
        value <<= 8
    total = value % 0xFFFF
    if total == 0 and value:
        total = 0xFFFF
    return ~total & 0xFFFF


def array_sum(data: bytes) -> int:
    """array('H') in host order, summed, byte-swapped at the end (RFC 1071 §2(B))."""
    if len(data) % 2:
        data += b"\0"
    total = sum(array("H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    if sys.byteorder == "little":
        total = (total & 0xFF) << 8 | total >> 8
    return ~total & 0xFFFF


def struct_sum(data: bytes) -> int:
    """struct.unpack of all the words, summed."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def per_call_us(function: Checksum, data: bytes) -> float:
    """Best of 5 runs, in microseconds per call."""
    timer = timeit.Timer(lambda: function(data))
    number, _ = timer.autorange()
    number = max(number, 3)
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def main() -> None:
    candidates: dict[str, Checksum] = {"layerping": internet_checksum}
    try:
        from scapy.utils import checksum as scapy_checksum  # type: ignore[import-untyped]

        candidates["scapy"] = scapy_checksum
    except ImportError:
        print("scapy not installed: skipping it")
    candidates.update(
        {"int % 0xffff": int_mod, "array('H')": array_sum, "struct": struct_sum, "reference": reference}
    )
    print(f"Python {sys.version.split()[0]}; µs per call (best of 5); ratio = time / layerping time")
    names = list(candidates)
    print(f"{'size':>7} " + " ".join(f"{name:>20}" for name in names))
    for size in SIZES:
        data = os.urandom(size)
        expected = reference(data)
        for name, function in candidates.items():
            assert function(data) == expected, f"{name} is wrong at {size} B"
        times = {name: per_call_us(function, data) for name, function in candidates.items()}
        base = times["layerping"]
        cells = [f"{times[name]:9.2f} ({times[name] / base:5.1f}x)" for name in names]
        print(f"{size:>6}B " + " ".join(f"{cell:>20}" for cell in cells))


if __name__ == "__main__":
    main()
