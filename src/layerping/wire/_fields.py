"""Helpers shared by the wire formats (private to ``layerping.wire``)."""

from __future__ import annotations

from collections.abc import Iterable

from layerping.errors import Malformed


def range_error(layer: str, whole: str, fields: Iterable[tuple[str, int | None, int]]) -> Malformed:
    """Name the first field that does not fit its width in bits (called after struct.error).

    ``fields`` holds (name, value, width in bits); None values are derived and always fit.
    ``whole`` names the unit ("header", "message") when no single field is to blame.
    """
    for name, value, bits in fields:
        if value is not None and not 0 <= value < 1 << bits:
            return Malformed(layer, name, value, f"does not fit in {bits} bits")
    return Malformed(layer, whole, None, "a field does not fit")
