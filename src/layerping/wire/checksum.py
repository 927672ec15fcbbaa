"""The Internet checksum (RFC 1071), its incremental update (RFC 1624) and pseudo-header sums.

The sum is the 16-bit ones'-complement sum of the data taken as big-endian 16-bit words,
with an odd trailing byte padded with a zero byte on the right (RFC 1071 §1). The checksum
stored in a header is the complement of that sum, computed with the checksum field zeroed.

How it is computed: a ones'-complement sum with end-around carry is the ordinary sum
reduced modulo 0xffff, because 2**16 ≡ 1 (mod 0xffff). So the whole buffer can be read as
one big integer with :meth:`int.from_bytes` (C speed) and reduced. Two details:

* Reduction. ``v % 0xffff`` on a big integer costs one hardware division per 30-bit digit.
  Folding the integer in halves first, ``(v >> k) + (v & (2**k - 1))`` with ``k`` a multiple
  of 16, keeps the value modulo 0xffff and is cheaper above ~256 bytes; above
  ``_CHUNK_BYTES`` the buffer is converted in chunks, which avoids one huge integer.
* Zero. In ones'-complement arithmetic 0x0000 and 0xffff are both zero. A folded sum of
  data that is not all zero bytes is never 0x0000 (end-around carry never produces it), so
  a remainder of 0 means 0xffff unless every byte is zero.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # ipaddress is not imported for these hints: checksum.py is on the start-up path
    from ipaddress import IPv4Address, IPv6Address

# Thresholds measured on CPython 3.11.7 (bench/checksum.py times the whole function and
# the rejected alternatives: array('H') + sum, struct.unpack + sum, plain int.from_bytes % 0xffff).
# Per call at 1500 B: plain mod 4.1 µs, folded to 2048 bits 3.2 µs; at 65000 B: plain mod
# 165 µs, folded 90 µs, chunked by 8192 B then folded 68-80 µs. array('H') is 3-5x slower.
# Up to this many bits a plain ``% 0xffff`` is as fast as folding, with fewer steps.
_FOLD_ABOVE_BITS = 2048
_DIRECT_BYTES = _FOLD_ABOVE_BITS // 8
# Above this many bytes, int.from_bytes runs on chunks and the chunk values are summed.
# Chunks have an even length, so each chunk's position does not matter modulo 0xffff.
_CHUNK_BYTES = 8192

Buffer = bytes | bytearray | memoryview


def ones_complement_sum(data: Buffer, initial: int = 0) -> int:
    """Return the folded 16-bit ones'-complement sum of ``data`` (not complemented).

    ``initial`` is a non-negative partial sum to add, e.g. a pseudo-header sum; a folded
    16-bit value is usual but any non-negative integer works. The result is 0 only when
    ``data`` is all zero bytes and ``initial`` is 0; otherwise it is in 1..0xffff.
    A memoryview must have byte format ('B'), as ``len`` counts items.
    """
    n = len(data)
    if n <= _DIRECT_BYTES:  # the common case (one echo): no folding, fewest operations
        v = int.from_bytes(data, "big")
        if n & 1:
            v <<= 8  # pad the odd byte on the right (RFC 1071 §1)
        if initial:
            v += initial
        s = v % 0xFFFF
        if s == 0 and v:
            return 0xFFFF
        return s
    if n <= _CHUNK_BYTES:
        v = int.from_bytes(data, "big")
        if n & 1:
            v <<= 8
    else:
        view = memoryview(data).cast("B") if isinstance(data, memoryview) else memoryview(data)
        tail = n % _CHUNK_BYTES
        body = n - tail
        v = sum([int.from_bytes(view[i : i + _CHUNK_BYTES], "big") for i in range(0, body, _CHUNK_BYTES)])
        if tail:
            last = int.from_bytes(view[body:], "big")
            v += last << 8 if tail & 1 else last
    v += initial
    bits = v.bit_length()
    while bits > _FOLD_ABOVE_BITS:
        k = ((bits >> 1) + 15) & ~15  # at least half, and a multiple of 16 bits
        v = (v >> k) + (v & ((1 << k) - 1))
        bits = k + 1
    s = v % 0xFFFF
    if s == 0 and v:
        return 0xFFFF
    return s


def internet_checksum(data: Buffer, initial: int = 0) -> int:
    """Return the value to store in a checksum field: ``~sum & 0xffff`` (RFC 1071).

    Compute it over the message with its checksum field zeroed. ``initial`` is a partial
    sum to include, e.g. a pseudo-header's :func:`ones_complement_sum`. All-zero data gives
    0xffff. A message is intact when :func:`ones_complement_sum` over it, checksum field
    included, is 0xffff.
    """
    n = len(data)
    if n > _DIRECT_BYTES:
        return ~ones_complement_sum(data, initial) & 0xFFFF
    # The small case inlined: it runs for every probe sent, and a call costs ~15% here.
    v = int.from_bytes(data, "big")
    if n & 1:
        v <<= 8
    if initial:
        v += initial
    s = v % 0xFFFF
    if s == 0 and v:
        return 0
    return ~s & 0xFFFF


def _add(a: int, b: int) -> int:
    """Ones'-complement addition of two 16-bit values, with end-around carry."""
    s = a + b
    return (s & 0xFFFF) + (s >> 16)


def incremental_update(checksum: int, old_word: int, new_word: int) -> int:
    """Return the checksum after one 16-bit word changes from ``old_word`` to ``new_word``.

    RFC 1624 §3, eqn. 3: ``HC' = ~(~HC + ~m + m')``. It equals a full recomputation
    except when the data becomes all zeros, where it gives 0x0000 instead of 0xffff
    (the other ones'-complement zero; RFC 1624 §3 discusses the same ±0 ambiguity).
    """
    s = _add(_add(~checksum & 0xFFFF, ~old_word & 0xFFFF), new_word & 0xFFFF)
    return ~s & 0xFFFF


def incremental_update_bytes(checksum: int, old: Buffer, new: Buffer) -> int:
    """Return the checksum after the span ``old`` is replaced by ``new`` (same length).

    The span must start at an even offset of the checksummed data; an odd length is fine
    (both sides are padded with the same zero byte). Same ±0 caveat as
    :func:`incremental_update`.
    """
    if len(old) != len(new):
        raise ValueError(f"spans differ in length: {len(old)} != {len(new)}")
    # Adding ~sum(old) subtracts the old span; RFC 1624 eqn. 3 with m and m' as spans.
    s = _add(_add(~checksum & 0xFFFF, ~ones_complement_sum(old) & 0xFFFF), ones_complement_sum(new))
    return ~s & 0xFFFF


def pseudo_header_sum(
    source: IPv4Address | IPv6Address,
    destination: IPv4Address | IPv6Address,
    upper_length: int,
    next_header: int,
) -> int:
    """The ones'-complement sum of the pseudo-header an upper-layer checksum covers.

    Pass it as ``initial`` to :func:`internet_checksum` or :func:`ones_complement_sum` over
    the upper-layer message. The family follows the addresses' length:

    * IPv6 (RFC 8200 §8.1): source, destination, Upper-Layer Packet Length as 32 bits,
      3 zero bytes, Next Header. ICMPv6 includes it (RFC 4443 §2.3), unlike ICMPv4; with a
      Routing header, ``destination`` is the final one.
    * IPv4 (RFC 768, RFC 793 §3.1): source, destination, a zero byte, Protocol, then the
      length as 16 bits. ICMPv4 does not use one: its checksum covers the message alone.

    ``upper_length`` is the upper-layer header plus data; ``source`` and ``destination`` are
    anything with a ``packed`` form of 4 or 16 bytes (``ipaddress`` objects).
    """
    packed = source.packed + destination.packed
    if len(packed) == 32:
        if not 0 <= upper_length <= 0xFFFFFFFF:
            raise ValueError(f"upper-layer length {upper_length} does not fit in 32 bits")
        words = upper_length + next_header  # the length word and the 0,0,0,next-header word
    elif len(packed) == 8:
        if not 0 <= upper_length <= 0xFFFF:
            raise ValueError(f"upper-layer length {upper_length} does not fit in 16 bits")
        words = next_header + upper_length  # zero byte + protocol, then the length
    else:
        raise ValueError("source and destination must both be IPv4 or both IPv6 addresses")
    if not 0 <= next_header <= 0xFF:
        raise ValueError(f"next header {next_header} does not fit in 8 bits")
    return ones_complement_sum(packed, words)


def upper_layer_checksum_ok(
    data: Buffer, source: IPv4Address | IPv6Address, destination: IPv4Address | IPv6Address, next_header: int
) -> bool:
    """True when ``data``'s checksum, pseudo-header included, is right: the receiver's test
    (the sum over pseudo-header and message is 0xffff; RFC 1071 §1, RFC 8200 §8.1)."""
    return ones_complement_sum(data, pseudo_header_sum(source, destination, len(data), next_header)) == 0xFFFF


def expected_upper_layer_checksum(
    data: Buffer,
    checksum_offset: int,
    source: IPv4Address | IPv6Address,
    destination: IPv4Address | IPv6Address,
    next_header: int,
) -> int:
    """The checksum ``data`` should carry at ``checksum_offset``: computed over the
    pseudo-header and the message with that field zeroed (the received value is ignored)."""
    buf = bytearray(data)
    buf[checksum_offset : checksum_offset + 2] = b"\0\0"
    return internet_checksum(buf, pseudo_header_sum(source, destination, len(buf), next_header))
