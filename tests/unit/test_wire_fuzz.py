"""Property tests for every wire format.

* ``parse(build(x)) == x`` for values whose derived fields are given (parse stores them).
* ``build(parse(b)) == b`` for any bytes that parse (the bytes the format covers).
* ``parse(arbitrary bytes)`` raises nothing but ``WireError``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layerping._value import replace
from layerping.errors import WireError
from layerping.wire.arp import ArpPacket
from layerping.wire.ethernet import EthernetFrame
from layerping.wire.icmpv4 import (
    DestinationUnreachable,
    Echo,
    IcmpMessage,
    ParameterProblem,
    RawIcmp,
    Redirect,
    SourceQuench,
    TimeExceeded,
    parse_icmpv4,
)
from layerping.wire.ipv4 import Ipv4Header, Ipv4Packet
from layerping.wire.pcap import PcapRecord, PcapWriter, read_pcap
from tests import vectors as V

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
addresses = st.integers(0, 0xFFFFFFFF).map(IPv4Address)
macs = st.binary(min_size=6, max_size=6)
options = st.integers(0, 10).flatmap(lambda words: st.binary(min_size=4 * words, max_size=4 * words))


@st.composite
def ipv4_headers(draw: st.DrawFn) -> Ipv4Header:
    """A header with every derived field given, so that parse gives it back exactly."""
    opts = draw(options)
    return Ipv4Header(
        tos=draw(u8),
        identification=draw(u16),
        flags=draw(st.integers(0, 7)),
        fragment_offset=draw(st.integers(0, 0x1FFF)),
        ttl=draw(u8),
        protocol=draw(u8),
        source=draw(addresses),
        destination=draw(addresses),
        options=opts,
        total_length=draw(u16),
        checksum=draw(u16),
        ihl=5 + len(opts) // 4,
    )


quote_payloads = st.binary(min_size=8, max_size=40)
echoes = st.builds(Echo, st.sampled_from([0, 8]), u8, u16, u16, st.binary(max_size=64), u16)
unreachables = st.builds(DestinationUnreachable, u8, ipv4_headers(), quote_payloads, u16, u16, u16)
time_exceededs = st.builds(TimeExceeded, u8, ipv4_headers(), quote_payloads, st.integers(0, 0xFFFFFFFF), u16)
quenches = st.builds(SourceQuench, u8, ipv4_headers(), quote_payloads, st.integers(0, 0xFFFFFFFF), u16)
redirects = st.builds(Redirect, u8, addresses, ipv4_headers(), quote_payloads, u16)
param_problems = st.builds(
    ParameterProblem, u8, u8, ipv4_headers(), quote_payloads, st.integers(0, 0xFFFFFF), u16
)
raws = st.builds(
    RawIcmp,
    u8.filter(lambda t: t not in (0, 3, 4, 5, 8, 11, 12)),
    u8,
    st.binary(min_size=4, max_size=64),
    u16,
)
icmp_messages: st.SearchStrategy[IcmpMessage] = st.one_of(
    echoes, unreachables, quenches, time_exceededs, redirects, param_problems, raws
)


# --- parse(build(x)) == x ---------------------------------------------------------------------


@given(ipv4_headers())
def test_ipv4_header_value_round_trip(header: Ipv4Header) -> None:
    assert Ipv4Header.parse(header.build()) == header


@given(ipv4_headers(), st.binary(max_size=100))
def test_ipv4_packet_value_round_trip(header: Ipv4Header, payload: bytes) -> None:
    header = replace(header, total_length=header.header_length + len(payload))
    packet = Ipv4Packet(header, payload)
    assert Ipv4Packet.parse(packet.build() + b"\0" * 6) == packet


@given(icmp_messages)
def test_icmp_value_round_trip(message: IcmpMessage) -> None:
    data = message.build()
    assert len(data) == len(message)
    assert parse_icmpv4(data) == message
    assert type(message).parse(data) == message


@given(icmp_messages)
def test_icmp_built_checksum_verifies(message: IcmpMessage) -> None:
    data = replace(message, checksum=None).build()
    assert parse_icmpv4(data, verify=True).build() == data


@given(macs, macs, u16, st.binary(max_size=100))
def test_ethernet_value_round_trip(destination: bytes, source: bytes, ethertype: int, payload: bytes) -> None:
    frame = EthernetFrame(destination, source, ethertype, payload)
    assert EthernetFrame.parse(frame.build()) == frame


@given(u16, macs, addresses, macs, addresses, u16, u16, st.binary(max_size=32))
def test_arp_value_round_trip(
    op: int, sha: bytes, spa: IPv4Address, tha: bytes, tpa: IPv4Address, hrd: int, pro: int, pad: bytes
) -> None:
    packet = ArpPacket(op, sha, spa, tha, tpa, hrd, pro, 6, 4)
    assert ArpPacket.parse(packet.build() + pad) == packet


@given(
    st.lists(st.tuples(st.integers(0, (1 << 32) * 10**9 - 1), st.binary(max_size=80)), max_size=5),
    st.integers(1, 100),
)
def test_pcap_round_trip(records: list[tuple[int, bytes]], snaplen: int) -> None:
    stream = io.BytesIO()
    writer = PcapWriter(stream, 1, snaplen)
    for ts_ns, data in records:
        writer.write(ts_ns, data)
    pcap = read_pcap(io.BytesIO(stream.getvalue()))
    assert (pcap.linktype, pcap.snaplen, pcap.nanosecond) == (1, snaplen, True)
    assert pcap.records == [PcapRecord(ts, data[:snaplen], len(data)) for ts, data in records]


# --- build(parse(b)) == b ---------------------------------------------------------------------

# Seeds put fuzzed bytes behind a prefix that gets past the first checks, or mutate a
# golden vector (a few bytes changed, then cut or extended), which reaches the deep paths.


def mutated(vectors: list[bytes]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(vectors)))
        for _ in range(draw(st.integers(0, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(u8)
        cut = draw(st.integers(0, len(data)))
        return bytes(data[:cut]) + draw(st.binary(max_size=8))

    return build()


IPV4_VECTORS = [V.IPV4_ECHO, V.IPV4_ECHO_DF, V.IPV4_RR, V.IPV4_UNREACH_HOST]
ICMP_VECTORS = [V.ECHO_REQ, V.UNREACH_FRAG, V.SOURCE_QUENCH, V.TIME_EXCEEDED, V.REDIRECT, V.PARAM_PROBLEM]
ipv4_like = st.one_of(
    st.binary(max_size=80),
    st.builds(lambda ihl, rest: bytes([0x40 | ihl]) + rest, st.integers(0, 15), st.binary(max_size=80)),
    mutated(IPV4_VECTORS),
)
icmp_like = st.one_of(
    st.binary(max_size=80),
    st.builds(
        lambda t, rest, quote: bytes([t]) + rest + quote,
        st.sampled_from([0, 3, 4, 5, 8, 11, 12, 13]),
        st.binary(min_size=7, max_size=7),
        st.one_of(ipv4_like, st.just(V.IPV4_ECHO), st.just(V.IPV4_RR)),
    ),
    mutated(ICMP_VECTORS),
)


@given(ipv4_like)
def test_ipv4_bytes_round_trip(data: bytes) -> None:
    try:
        header = Ipv4Header.parse(data)
    except WireError:
        return
    assert header.build() == data[: header.header_length]
    try:
        packet = Ipv4Packet.parse(data)
    except WireError:
        return
    assert packet.build() == data[: header.total_length]


@given(icmp_like)
def test_icmp_bytes_round_trip(data: bytes) -> None:
    try:
        message = parse_icmpv4(data)
    except WireError:
        return
    assert message.build() == data


@given(st.binary(max_size=80))
def test_ethernet_and_arp_bytes_round_trip(data: bytes) -> None:
    if len(data) >= 14:
        assert EthernetFrame.parse(data).build() == data
    arp_like = V.ARP_REQ[:6] + data
    try:
        packet = ArpPacket.parse(arp_like)
    except WireError:
        return
    assert packet.build() == arp_like[:28]


# --- parse(arbitrary bytes) raises only WireError ---------------------------------------------

PARSERS: dict[str, Callable[[bytes | memoryview], object]] = {
    "Ipv4Header": Ipv4Header.parse,
    "Ipv4Header verify": lambda b: Ipv4Header.parse(b, verify=True),
    "Ipv4Packet": lambda b: Ipv4Packet.parse(b, verify=True),
    "parse_icmpv4": parse_icmpv4,
    "parse_icmpv4 verify": lambda b: parse_icmpv4(b, verify=True),
    "Echo": Echo.parse,
    "DestinationUnreachable": DestinationUnreachable.parse,
    "SourceQuench": SourceQuench.parse,
    "TimeExceeded": TimeExceeded.parse,
    "Redirect": Redirect.parse,
    "ParameterProblem": ParameterProblem.parse,
    "RawIcmp": RawIcmp.parse,
    "EthernetFrame": EthernetFrame.parse,
    "ArpPacket": ArpPacket.parse,
    "read_pcap": lambda b: read_pcap(io.BytesIO(b)),
}
_PCAP_NS = bytes.fromhex("4d3cb2a1 0200 0400 00000000 00000000 00000400 65000000")
_PCAP_US_BE = bytes.fromhex("a1b2c3d4 0002 0004 00000000 00000000 0000ffff 00000065")
pcap_like = st.one_of(
    st.binary(max_size=120),
    st.builds(
        lambda magic, rest: magic + rest,
        st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"]),
        st.binary(max_size=120),
    ),
    mutated(
        [
            _PCAP_NS + bytes.fromhex("00f15365 15cd5b07 20000000 20000000") + V.IPV4_ECHO,
            _PCAP_US_BE + bytes.fromhex("6553f100 0001e240 00000020 00000020") + V.IPV4_ECHO,
        ]
    ),
)
anything = st.one_of(ipv4_like, icmp_like, pcap_like, mutated([V.ETH_ARP_REQ, V.ARP_REP, V.ETH_ECHO]))


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(data=anything)
def test_parsers_raise_only_wire_errors(name: str, data: bytes) -> None:
    try:
        PARSERS[name](data)
    except WireError:
        pass
    try:
        PARSERS[name](memoryview(data))  # the receive path hands parsers views
    except WireError:
        pass
