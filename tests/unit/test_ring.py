"""The receive ring's frame layout (TPACKET_V2), checked on frames laid out as the kernel does.

The lab tests (tests/lab/test_layer2.py) run the ring on a real socket.
"""

from __future__ import annotations

import ctypes
import struct

import pytest

from layerping.transport.ring import (
    FRAME_FIELDS,
    TP_STATUS_KERNEL,
    TP_STATUS_USER,
    frame_size_for,
    parse_frame,
)


class Tpacket2Hdr(ctypes.Structure):
    """struct tpacket2_hdr as linux/if_packet.h declares it: the oracle for our offsets."""

    _fields_ = [
        ("tp_status", ctypes.c_uint32),
        ("tp_len", ctypes.c_uint32),
        ("tp_snaplen", ctypes.c_uint32),
        ("tp_mac", ctypes.c_uint16),
        ("tp_net", ctypes.c_uint16),
        ("tp_sec", ctypes.c_uint32),
        ("tp_nsec", ctypes.c_uint32),
        ("tp_vlan_tci", ctypes.c_uint16),
        ("tp_vlan_tpid", ctypes.c_uint16),
        ("tp_padding", ctypes.c_uint8 * 4),
    ]


class SockaddrLl(ctypes.Structure):
    _fields_ = [
        ("sll_family", ctypes.c_ushort),
        ("sll_protocol", ctypes.c_ushort),
        ("sll_ifindex", ctypes.c_int),
        ("sll_hatype", ctypes.c_ushort),
        ("sll_pkttype", ctypes.c_ubyte),
        ("sll_halen", ctypes.c_ubyte),
        ("sll_addr", ctypes.c_ubyte * 8),
    ]


SENDER = bytes.fromhex("020000000002")


def frame(status: int, data: bytes, pkttype: int = 0, sec: int = 1_700_000_000, nsec: int = 123) -> bytes:
    """One ring frame: header, sockaddr_ll at TPACKET_ALIGN(32), the data at tp_mac = 66."""
    header = Tpacket2Hdr(status, len(data), len(data), 66, 80, sec, nsec)
    address = SockaddrLl(17, 0x0008, 2, 1, pkttype, 6)
    address.sll_addr[:6] = list(SENDER)
    raw = bytearray(2048)
    raw[: ctypes.sizeof(header)] = bytes(header)
    raw[32 : 32 + ctypes.sizeof(address)] = bytes(address)
    raw[66 : 66 + len(data)] = data
    return bytes(raw)


def test_struct_sizes_match_the_kernel_headers() -> None:
    assert ctypes.sizeof(Tpacket2Hdr) == 32  # TPACKET_ALIGN(sizeof) is where sockaddr_ll starts
    assert ctypes.sizeof(SockaddrLl) == 20


def test_one_struct_spans_the_header_and_the_fields_of_the_sockaddr_ll_we_read() -> None:
    assert Tpacket2Hdr.tp_nsec.offset + 4 == FRAME_FIELDS.size - 26  # 7 header fields, then skips
    assert 32 + SockaddrLl.sll_pkttype.offset == FRAME_FIELDS.size - 8  # then halen, then 6 bytes
    assert 32 + SockaddrLl.sll_addr.offset + 6 == FRAME_FIELDS.size


def test_a_frame_handed_to_us_is_read_field_by_field() -> None:
    data = bytes(14) + bytes.fromhex("45000054")
    raw = frame(TP_STATUS_USER | 0x80, data, pkttype=0)  # CSUM_VALID set as well: still ours
    parsed = parse_frame(raw, 0)
    assert parsed is not None
    status, length, snaplen, mac, net, rx_ns, pkttype, sender = parsed
    assert (status, length, snaplen, mac, net) == (TP_STATUS_USER | 0x80, len(data), len(data), 66, 80)
    assert rx_ns == 1_700_000_000 * 1_000_000_000 + 123
    assert pkttype == 0 and sender == SENDER
    assert raw[mac : mac + snaplen] == data


def test_a_frame_the_kernel_owns_is_not_read() -> None:
    assert parse_frame(frame(TP_STATUS_KERNEL, b"x" * 40), 0) is None


def test_frames_at_an_offset() -> None:
    ring = frame(TP_STATUS_KERNEL, b"") + frame(TP_STATUS_USER, b"y" * 34, pkttype=4)
    parsed = parse_frame(ring, 2048)
    assert parsed is not None and parsed[6] == 4


@pytest.mark.parametrize(
    "mtu,size", [(1500, 2048), (1900, 2048), (1954, 4096), (9000, 16384), (65536, 131072)]
)
def test_frame_size_holds_header_link_header_and_mtu(mtu: int, size: int) -> None:
    assert frame_size_for(mtu) == size
    assert size >= 96 + 14 + mtu and size & (size - 1) == 0


def test_native_byte_order_header() -> None:
    raw = frame(TP_STATUS_USER, b"z" * 20)
    assert struct.unpack_from("=I", raw, 0)[0] == TP_STATUS_USER
