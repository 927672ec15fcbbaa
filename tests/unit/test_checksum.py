"""RFC 1071 sum, RFC 1624 update and the pseudo-header sums, against slow references."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from layerping.wire.checksum import (
    expected_upper_layer_checksum,
    incremental_update,
    incremental_update_bytes,
    internet_checksum,
    ones_complement_sum,
    pseudo_header_sum,
    upper_layer_checksum_ok,
)
from tests import vectors as V


def reference_sum(data: bytes, initial: int = 0) -> int:
    """RFC 1071 §4.1, transcribed: add 16-bit words, then fold the carries back in."""
    if len(data) % 2:
        data += b"\0"
    total = initial
    for i in range(0, len(data), 2):
        total += data[i] << 8 | data[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


# Lengths that cross every threshold of the implementation (direct, folded, chunked).
LENGTHS = [0, 1, 2, 3, 20, 63, 64, 255, 256, 257, 1499, 1500, 8191, 8192, 8193, 16385, 65000, 65001]

data_strategy = st.one_of(
    st.binary(max_size=600),
    st.binary(min_size=8000, max_size=20000),
    st.integers(0, 70000).map(bytes),  # all zeros
    st.integers(0, 70000).map(lambda n: b"\xff" * n),  # all ones
    st.lists(st.sampled_from([b"\x00", b"\xff"]), max_size=300).map(b"".join),
)


def test_known_vectors() -> None:
    assert internet_checksum(V.ECHO_REQ[:2] + b"\0\0" + V.ECHO_REQ[4:]) == V.ECHO_REQ_CSUM
    assert internet_checksum(V.ECHO_REQ[:2] + b"\0\0" + V.ECHO_REQ[4:8]) == V.ECHO_REQ_CSUM_OVER_HEADER_ONLY
    assert ones_complement_sum(V.IPV4_ECHO_HDR) == 0xFFFF
    assert ones_complement_sum(V.IPV4_RR_HDR + V.IPV4_RR_OPTIONS) == 0xFFFF
    # RFC 1071 §3 worked example: 0001 f203 f4f5 f6f7 sums to ddf2.
    assert ones_complement_sum(bytes.fromhex("0001f203f4f5f6f7")) == 0xDDF2
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


@pytest.mark.parametrize("n", LENGTHS)
def test_zero_and_ones_corners(n: int) -> None:
    zeros = bytes(n)
    ones = b"\xff" * n
    assert ones_complement_sum(zeros) == 0
    assert internet_checksum(zeros) == 0xFFFF
    # Data that is not all zeros never sums to 0x0000: the sum is 0xffff instead.
    # (an odd length ends in the word 0xff00, which absorbs 0xffff words)
    expected = 0 if n == 0 else 0xFF00 if n % 2 else 0xFFFF
    assert ones_complement_sum(ones) == expected == reference_sum(ones)
    assert internet_checksum(ones) == ~expected & 0xFFFF


def test_odd_length_pads_on_the_right() -> None:
    assert ones_complement_sum(b"\x12") == 0x1200
    assert ones_complement_sum(b"\x12\x34\x56") == 0x1234 + 0x5600


def test_initial_is_added() -> None:
    assert ones_complement_sum(b"", 0x1234) == 0x1234
    assert ones_complement_sum(b"\xff\xff", 0xFFFF) == 0xFFFF
    assert ones_complement_sum(b"\x80\x00", 0x8000) == 0x0001  # end-around carry
    assert internet_checksum(b"\x00\x01", 0xFFFD) == 0x0001


@pytest.mark.parametrize("n", LENGTHS)
def test_every_size_path_matches_reference(n: int) -> None:
    data = bytes((i * 7 + 13) & 0xFF for i in range(n))
    expected = reference_sum(data)
    assert ones_complement_sum(data) == expected
    assert ones_complement_sum(bytearray(data)) == expected
    assert ones_complement_sum(memoryview(data)) == expected
    assert ones_complement_sum(memoryview(b"\0" + data)[1:]) == expected  # an offset view


@given(data_strategy, st.integers(0, 0xFFFF))
@example(b"", 0)
@example(b"\xff\xff", 0)
@example(b"\x00" * 65001, 0xFFFF)
def test_matches_reference(data: bytes, initial: int) -> None:
    expected = reference_sum(data, initial)
    assert ones_complement_sum(data, initial) == expected
    assert internet_checksum(data, initial) == ~expected & 0xFFFF


@given(st.binary(max_size=300))
def test_a_message_with_its_checksum_sums_to_ffff(body: bytes) -> None:
    message = b"\x08\x00\x00\x00" + body
    checksum = internet_checksum(message)
    stamped = message[:2] + checksum.to_bytes(2, "big") + message[4:]
    assert ones_complement_sum(stamped) == 0xFFFF


def test_incremental_update_rfc1624_example() -> None:
    # RFC 1624 §4: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000 by eqn. 3.
    assert incremental_update(0xDD2F, 0x5555, 0x3285) == 0x0000


@given(st.binary(min_size=2, max_size=200), st.data())
def test_incremental_update_matches_recompute(data: bytes, draw: st.DataObject) -> None:
    data = data[: len(data) & ~1]
    i = draw.draw(st.integers(0, len(data) // 2 - 1)) * 2
    new_word = draw.draw(st.integers(0, 0xFFFF))
    old_word = data[i] << 8 | data[i + 1]
    changed = data[:i] + new_word.to_bytes(2, "big") + data[i + 2 :]
    updated = incremental_update(internet_checksum(data), old_word, new_word)
    if any(changed):
        assert updated == internet_checksum(changed)
    else:  # the documented ±0 corner: eqn. 3 gives the other zero
        assert updated == 0x0000
        assert internet_checksum(changed) == 0xFFFF


@given(st.binary(max_size=100), st.binary(max_size=100), st.data())
def test_incremental_update_bytes_matches_recompute(head: bytes, tail: bytes, draw: st.DataObject) -> None:
    head = head[: len(head) & ~1]  # the span starts at an even offset
    old = draw.draw(st.binary(max_size=20))
    new = draw.draw(st.binary(min_size=len(old), max_size=len(old)))
    before = head + old + (tail if len(old) % 2 == 0 else b"")
    after = head + new + (tail if len(old) % 2 == 0 else b"")
    updated = incremental_update_bytes(internet_checksum(before), old, new)
    if any(after):
        assert updated == internet_checksum(after)
    else:
        assert updated in (0x0000, 0xFFFF)


def test_incremental_update_bytes_needs_equal_lengths() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        incremental_update_bytes(0, b"\x00\x01", b"\x00")


# --- pseudo-header sums ---------------------------------------------------------------------------

v6_addresses = st.integers(0, (1 << 128) - 1).map(IPv6Address)
v4_addresses = st.integers(0, (1 << 32) - 1).map(IPv4Address)


@given(v6_addresses, v6_addresses, st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFF))
def test_ipv6_pseudo_header_matches_its_bytes(
    src: IPv6Address, dst: IPv6Address, length: int, nxt: int
) -> None:
    # RFC 8200 §8.1: source, destination, 32-bit length, 3 zero bytes, next header.
    pseudo = src.packed + dst.packed + length.to_bytes(4, "big") + b"\0\0\0" + bytes([nxt])
    assert pseudo_header_sum(src, dst, length, nxt) == reference_sum(pseudo)


@given(v4_addresses, v4_addresses, st.integers(0, 0xFFFF), st.integers(0, 0xFF))
def test_ipv4_pseudo_header_matches_its_bytes(
    src: IPv4Address, dst: IPv4Address, length: int, proto: int
) -> None:
    # RFC 768: source, destination, zero, protocol, 16-bit length.
    pseudo = src.packed + dst.packed + bytes([0, proto]) + length.to_bytes(2, "big")
    assert pseudo_header_sum(src, dst, length, proto) == reference_sum(pseudo)


def test_icmpv6_golden_checksum() -> None:
    zeroed = V.ECHO6_VEC[:2] + b"\0\0" + V.ECHO6_VEC[4:]
    pseudo = pseudo_header_sum(V.VEC6_SRC, V.VEC6_DST, len(zeroed), 58)
    assert internet_checksum(zeroed, pseudo) == V.ECHO6_VEC_CSUM == 0xBF19
    assert internet_checksum(zeroed) == V.ECHO6_VEC_CSUM_WITHOUT_PSEUDO_HEADER == 0x1AE7
    assert upper_layer_checksum_ok(V.ECHO6_VEC, V.VEC6_SRC, V.VEC6_DST, 58)
    assert not upper_layer_checksum_ok(V.ECHO6_VEC_BAD_CSUM, V.VEC6_SRC, V.VEC6_DST, 58)
    assert expected_upper_layer_checksum(V.ECHO6_VEC_BAD_CSUM, 2, V.VEC6_SRC, V.VEC6_DST, 58) == 0xBF19


def test_udp_over_ipv4_checksum() -> None:
    # RFC 768 over the pseudo-header: a UDP datagram 192.0.2.1:1234 -> 192.0.2.2:53, "hi".
    src, dst = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")
    udp = bytes.fromhex("04d2 0035 000a 0000") + b"hi"
    checksum = internet_checksum(udp, pseudo_header_sum(src, dst, len(udp), 17))
    assert checksum == 0x0E66  # hand sum: c000+0201+c000+0202+0011+000a+04d2+0035+000a+6869
    assert upper_layer_checksum_ok(udp[:6] + checksum.to_bytes(2, "big") + udp[8:], src, dst, 17)


@pytest.mark.parametrize(
    ("src", "dst", "length", "nxt", "message"),
    [
        (IPv6Address("::1"), IPv4Address("127.0.0.1"), 8, 58, "both be IPv4 or both IPv6"),
        (IPv6Address("::1"), IPv6Address("::1"), 1 << 32, 58, "32 bits"),
        (IPv4Address("127.0.0.1"), IPv4Address("127.0.0.1"), 0x10000, 17, "16 bits"),
        (IPv6Address("::1"), IPv6Address("::1"), 8, 256, "8 bits"),
    ],
)
def test_pseudo_header_rejects(
    src: IPv4Address | IPv6Address, dst: IPv4Address | IPv6Address, length: int, nxt: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        pseudo_header_sum(src, dst, length, nxt)
