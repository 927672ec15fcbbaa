"""Bytes as hex, both ways: the ``tcpdump -X`` dump (``-X``, ``--decode-pcap -X``) and the hex
digits ``--decode`` reads.

The dump's layout follows tcpdump 4.99 ``print-ascii.c`` (``hex_and_ascii_print``): the offset,
16 bytes a line as 8 groups of 4 hex digits, then the bytes from 0x21 to 0x7e as ASCII and every
other byte as a dot.
"""

from __future__ import annotations

from typing import Final

#: tcpdump -X: 16 bytes a line, as 8 groups of 4 hex digits, then the printable ASCII.
HEXDUMP_BYTES_PER_LINE: Final = 16
_HEXDUMP_HEX_WIDTH: Final = 40  # 8 groups of " xxxx"
#: Bytes tcpdump shows as themselves in the ASCII column (ND_ASCII_ISGRAPH); the rest as '.'.
_ASCII: Final = bytes(b if 0x21 <= b <= 0x7E else 0x2E for b in range(256))
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_SEPARATORS: Final = frozenset(" \t\r\n:")


def hexdump(data: bytes | memoryview) -> list[str]:
    """``tcpdump -X``: offset, 8 groups of 4 hex digits, then the printable ASCII (others as '.').

    The hex and the ASCII are made for the whole frame at once and cut into lines, which is
    what makes ``--decode-pcap -X`` affordable on a large capture.
    """
    view = bytes(data)
    if not view:
        return []
    groups = " " + view.hex(" ", -2)  # " xxxx" per 2 bytes, grouped from the start
    ascii_text = view.translate(_ASCII).decode("ascii")
    width, step = _HEXDUMP_HEX_WIDTH, HEXDUMP_BYTES_PER_LINE
    lines = [
        f"\t0x{offset:04x}: {groups[start : start + width]}  {ascii_text[offset : offset + step]}"
        for start, offset in zip(range(0, len(groups), width), range(0, len(view), step), strict=False)
    ]
    last = (len(view) - 1) // step
    if len(view) % step:  # a short last line: its hex is padded so the ASCII column lines up
        offset = last * step
        lines[-1] = f"\t0x{offset:04x}: {groups[last * width :]:<{width}}  {ascii_text[offset:]}"
    return lines


def parse_hex(text: str) -> bytes:
    """Bytes from hex digits, with or without spaces, newlines or colons between them.

    Raises ValueError naming the first character that is not a hex digit, or an odd count.
    """
    digits: list[str] = []
    for index, char in enumerate(text):
        if char in _SEPARATORS:
            continue
        if char not in _HEX_DIGITS:
            raise ValueError(f"{char!r} at character {index + 1} is not a hex digit")
        digits.append(char)
    if len(digits) % 2:
        raise ValueError(f"{len(digits)} hex digits: an odd number cannot be whole bytes")
    return bytes.fromhex("".join(digits))
