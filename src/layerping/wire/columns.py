"""Strided writes of big-endian integer fields into a buffer of fixed-size records.

A batch of probes is one buffer with a probe every ``stride`` bytes; the fields that differ per
probe (sequence number, checksum, destination address) are written a column at a time, each byte
position of a field with one strided slice assignment, so a batch costs a few C-level copies
instead of a ``pack_into`` per probe. Pure bytes, like the rest of :mod:`layerping.wire`.
"""

from __future__ import annotations

import array
import sys
from collections.abc import Iterable
from typing import Final

_LITTLE: Final = sys.byteorder == "little"


def write_columns(view: memoryview, start: int, stop: int, stride: int,
                  columns: Iterable[tuple[int, str, Iterable[int]]]) -> None:  # fmt: skip
    """Write big-endian integer fields into records ``stride`` bytes apart, from ``start``.

    Each column is (offset in the record, array typecode, one value per record). A field is
    written one byte position at a time with a strided slice, so a batch of probes costs a few
    C-level copies rather than a ``pack_into`` per probe.
    """
    for field_offset, typecode, values in columns:
        column = array.array(typecode, values)
        if _LITTLE:
            column.byteswap()
        raw = column.tobytes()
        width = column.itemsize
        for byte in range(width):
            view[start + field_offset + byte : stop : stride] = raw[byte::width]
