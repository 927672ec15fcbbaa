"""What every probe of a run carries, for one target and for many: the one payload builder and
the echo template both sessions patch.

The echo message (RFC 792 Echo, RFC 4443 §4.1 Echo Request: type, code, checksum, identifier,
sequence, data) has the same layout in both families; only the type numbers differ, and they
come from the family's :class:`~layerping.inet.family.IcmpRules`. The checksum here covers the
message alone: where a family adds a pseudo-header (IPv6), the kernel (layer icmp) or the
family's header writer (layers ip, ethernet) folds it in.
"""

from __future__ import annotations

import struct
from typing import Final

from layerping.wire.checksum import internet_checksum

COOKIE_LEN: Final = 8  # the per-run random tag at the start of every payload
_ECHO: Final = struct.Struct("!BBHHH")


def build_payload(cookie: bytes, size: int, pattern: bytes, reserved: int = 0) -> bytes:
    """Our probe payload: the per-run cookie, ``reserved`` zero bytes a session fills per probe
    (the many-target probe serial), then the fill.

    The fill follows iputils: byte i holds ``i & 0xff`` unless ``-p`` gives a pattern, which is
    repeated. A payload shorter than the cookie holds only a prefix of it.
    """
    head = (cookie + bytes(reserved))[:size]
    rest = size - len(head)
    if rest <= 0:
        return head
    if pattern:
        return head + (pattern * (rest // len(pattern) + 1))[:rest]
    return head + bytes(i & 0xFF for i in range(len(head), size))


def echo_message(echo_type: int, identifier: int, sequence: int, payload: bytes) -> bytes:
    """An echo message of ``echo_type`` with its checksum over the message (RFC 1071)."""
    message = bytearray(_ECHO.pack(echo_type, 0, 0, identifier, sequence) + payload)
    message[2:4] = internet_checksum(message).to_bytes(2, "big")
    return bytes(message)
