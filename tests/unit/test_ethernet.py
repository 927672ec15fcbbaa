"""Ethernet II frames and MAC helpers."""

from __future__ import annotations

import pytest

from layerping.errors import Malformed, Truncated
from layerping.wire.ethernet import (
    BROADCAST_MAC,
    HEADER_LEN,
    ZERO_MAC,
    EthernetFrame,
    EtherType,
    mac_str,
    parse_mac,
)
from tests import vectors as V

ECHO_FRAME = EthernetFrame(V.GW_MAC, V.OUR_MAC, EtherType.IPV4, V.IPV4_ECHO)
ARP_FRAME = EthernetFrame(BROADCAST_MAC, V.OUR_MAC, EtherType.ARP, V.ARP_REQ + V.ETH_PAD)


def test_parse() -> None:
    frame = EthernetFrame.parse(V.ETH_ECHO)
    assert frame == ECHO_FRAME
    assert frame.destination == bytes.fromhex("00005e005301")
    assert frame.source == bytes.fromhex("528dd030ba14")
    assert frame.ethertype == 0x0800
    assert frame.payload == V.IPV4_ECHO
    assert len(frame) == 46


def test_parse_keeps_padding() -> None:
    frame = EthernetFrame.parse(V.ETH_ARP_REQ)
    assert frame == ARP_FRAME
    assert len(frame.payload) == 46


def test_parse_unknown_ethertype() -> None:
    frame = EthernetFrame.parse(V.ETH_ECHO[:12] + b"\x88\xb5")
    assert frame.ethertype == 0x88B5
    assert frame.payload == b""


def test_build() -> None:
    assert ECHO_FRAME.build() == V.ETH_ECHO
    assert ARP_FRAME.build() == V.ETH_ARP_REQ


def test_build_into_writes_every_byte() -> None:
    buf = bytearray(b"\xa5" * (len(V.ETH_ECHO) + 6))
    assert ECHO_FRAME.build_into(buf, 2) == len(V.ETH_ECHO)
    assert buf == b"\xa5\xa5" + V.ETH_ECHO + b"\xa5" * 4


def test_build_into_too_small() -> None:
    with pytest.raises(Truncated):
        ECHO_FRAME.build_into(bytearray(len(V.ETH_ECHO) - 1))


@pytest.mark.parametrize("vector", [V.ETH_ECHO, V.ETH_ARP_REQ, V.ETH_ARP_REP])
def test_round_trip(vector: bytes) -> None:
    assert EthernetFrame.parse(vector).build() == vector
    frame = EthernetFrame.parse(vector)
    assert EthernetFrame.parse(frame.build()) == frame


def test_truncated_at_every_length() -> None:
    for n in range(HEADER_LEN):
        with pytest.raises(Truncated):
            EthernetFrame.parse(V.ETH_ECHO[:n])


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        (EthernetFrame(b"\x00" * 5, V.OUR_MAC, 0x0800, b""), "destination"),
        (EthernetFrame(V.GW_MAC, b"\x00" * 7, 0x0800, b""), "source"),
        (EthernetFrame(V.GW_MAC, V.OUR_MAC, 0x10000, b""), "ethertype"),
    ],
)
def test_build_rejects(frame: EthernetFrame, field: str) -> None:
    with pytest.raises(Malformed) as info:
        frame.build()
    assert info.value.field == field


def test_mac_str() -> None:
    assert mac_str(bytes.fromhex("528dd030ba14")) == "52:8d:d0:30:ba:14"
    assert mac_str(BROADCAST_MAC) == "ff:ff:ff:ff:ff:ff"
    assert mac_str(ZERO_MAC) == "00:00:00:00:00:00"


@pytest.mark.parametrize("text", ["52:8d:d0:30:ba:14", "52-8D-D0-30-BA-14", "52:8d:D0:30:ba:14"])
def test_parse_mac(text: str) -> None:
    assert parse_mac(text) == bytes.fromhex("528dd030ba14")


def test_parse_mac_short_groups() -> None:
    assert parse_mac("0:1:2:a:b:c") == bytes.fromhex("0001020a0b0c")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "52:8d:d0:30:ba",
        "52:8d:d0:30:ba:14:00",
        "52:8d-d0:30:ba:14",
        "528dd030ba14",
        "52:8d:d0:30:ba:1g",
        "52:8d:d0:30:ba:140",
        " 52:8d:d0:30:ba:14",
        "52:8d:d0:30:ba:14\n",
        "+2:8d:d0:30:ba:14",
        "5_:8d:d0:30:ba:14",
        "52.8d.d0.30.ba.14",
    ],
)
def test_parse_mac_rejects(text: str) -> None:
    with pytest.raises(Malformed) as info:
        parse_mac(text)
    assert info.value.field == "mac"


def test_mac_round_trip() -> None:
    for mac in (V.OUR_MAC, V.GW_MAC, BROADCAST_MAC, ZERO_MAC):
        assert parse_mac(mac_str(mac)) == mac
