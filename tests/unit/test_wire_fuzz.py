"""Property tests for every wire format.

* ``parse(build(x)) == x`` for values whose derived fields are given (parse stores them).
* ``build(parse(b)) == b`` for any bytes that parse (the bytes the format covers).
* ``parse(arbitrary bytes)`` raises nothing but ``WireError``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layerping._value import replace
from layerping.errors import WireError
from layerping.wire import icmpv6, ndisc
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
from layerping.wire.icmpv6 import Icmpv6Message, parse_icmpv6
from layerping.wire.ipv4 import Ipv4Header, Ipv4Packet
from layerping.wire.ipv6 import Fragment, Ipv6Header, Ipv6Packet, walk_extension_headers
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


# --- IPv6, ICMPv6, Neighbour Discovery: parse(build(x)) == x -----------------------------------

u32 = st.integers(0, 0xFFFFFFFF)
v6_addresses = st.integers(0, (1 << 128) - 1).map(IPv6Address)
ipv6_headers = st.builds(Ipv6Header, u8, st.integers(0, 0xFFFFF), u8, u8, v6_addresses, v6_addresses, u16)
fragments = st.builds(Fragment, u8, st.integers(0, 0x1FFF), st.booleans(), u32, u8, st.integers(0, 3))
quotes = st.binary(max_size=120)
nd_options = st.lists(
    st.one_of(
        st.builds(
            ndisc.LinkLayerAddressOption,
            st.sampled_from([1, 2]),
            st.sampled_from([6, 14, 22]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
        ),
        st.builds(
            ndisc.RawNdOption,
            u8.filter(lambda t: t not in (1, 2)),
            st.integers(0, 3)
            .map(lambda units: 6 + 8 * units)
            .flatmap(lambda n: st.binary(min_size=n, max_size=n)),
        ),
    ),
    max_size=3,
).map(tuple)
icmpv6_messages: st.SearchStrategy[Icmpv6Message] = st.one_of(
    st.builds(icmpv6.Echo, st.sampled_from([128, 129]), u8, u16, u16, st.binary(max_size=64), u16),
    st.builds(icmpv6.DestinationUnreachable, u8, quotes, u32, u16),
    st.builds(icmpv6.PacketTooBig, u8, u32, quotes, u16),
    st.builds(icmpv6.TimeExceeded, u8, quotes, u32, u16),
    st.builds(icmpv6.ParameterProblem, u8, u32, quotes, u16),
    st.builds(ndisc.NeighbourSolicitation, u8, v6_addresses, nd_options, u32, u16),
    st.builds(
        ndisc.NeighbourAdvertisement,
        u8,
        v6_addresses,
        st.booleans(),
        st.booleans(),
        st.booleans(),
        nd_options,
        st.integers(0, 0x1FFFFFFF),
        u16,
    ),
    st.builds(
        icmpv6.RawIcmpv6,
        u8.filter(lambda t: t not in (1, 2, 3, 4, 128, 129, 135, 136)),
        u8,
        st.binary(min_size=4, max_size=64),
        u16,
    ),
)


@given(ipv6_headers, st.binary(max_size=100))
def test_ipv6_packet_value_round_trip(header: Ipv6Header, payload: bytes) -> None:
    assert Ipv6Header.parse(header.build()) == header
    packet = Ipv6Packet(replace(header, payload_length=len(payload)), payload)
    assert Ipv6Packet.parse(packet.build() + b"\0" * 6) == packet


@given(fragments)
def test_fragment_value_round_trip(fragment: Fragment) -> None:
    assert Fragment.parse(fragment.build()) == fragment


@given(icmpv6_messages, v6_addresses, v6_addresses)
def test_icmpv6_value_round_trip(message: Icmpv6Message, src: IPv6Address, dst: IPv6Address) -> None:
    data = message.build()
    assert len(data) == len(message)
    assert parse_icmpv6(data, src, dst) == message
    assert type(message).parse(data) == message
    built = replace(message, checksum=None).build(src, dst)
    assert parse_icmpv6(built, src, dst, verify=True).build() == built


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


IPV6_VECTORS = [
    V.IPV6_ECHO_REQ,
    V.IPV6_UNREACH6_NO_ROUTE,
    V.IPV6_HBH_MLD,
    V.IPV6_FRAG_FIRST[:120],
    V.IPV6_FRAG_SECOND,
]
ICMPV6_VECTORS = [V.ECHO6_VEC, V.UNREACH6_ADDRESS, V.PACKET_TOO_BIG[:160], V.PARAM_PROBLEM6, V.NS, V.NA]
ipv6_like = st.one_of(
    st.binary(max_size=80),
    st.builds(
        lambda nxt, rest: bytes.fromhex("60000000 0040") + bytes([nxt, 64]) + bytes(32) + rest,
        st.sampled_from([0, 43, 44, 58, 60]),
        st.binary(max_size=80),
    ),
    mutated(IPV6_VECTORS),
)
icmpv6_like = st.one_of(
    st.binary(max_size=80),
    st.builds(
        lambda t, rest, quote: bytes([t]) + rest + quote,
        st.sampled_from([1, 2, 3, 4, 128, 129, 135, 136, 143]),
        st.binary(min_size=7, max_size=7),
        st.one_of(ipv6_like, st.just(V.IPV6_ECHO_VEC), st.binary(max_size=40)),
    ),
    mutated(ICMPV6_VECTORS),
)


@given(ipv6_like)
def test_ipv6_bytes_round_trip(data: bytes) -> None:
    try:
        header = Ipv6Header.parse(data)
    except WireError:
        return
    assert header.build() == data[:40]
    packet = Ipv6Packet.parse(data, partial=True)
    assert packet.build() == data[: 40 + (header.payload_length or 0)]
    try:
        upper = packet.upper_layer()
    except WireError:
        return
    assert 40 <= upper.offset <= len(packet)


@given(icmpv6_like, v6_addresses, v6_addresses)
def test_icmpv6_bytes_round_trip(data: bytes, src: IPv6Address, dst: IPv6Address) -> None:
    try:
        message = parse_icmpv6(data, src, dst)
    except WireError:
        return
    assert message.build() == data
    assert message.build(src, dst) == data  # a received checksum is kept
    if isinstance(message, icmpv6.DestinationUnreachable | icmpv6.PacketTooBig | icmpv6.TimeExceeded):
        message.quoted_echo  # never raises  # noqa: B018


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
    "Ipv6Header": Ipv6Header.parse,
    "Ipv6Packet": Ipv6Packet.parse,
    "Ipv6Packet partial + upper_layer": lambda b: Ipv6Packet.parse(b, partial=True).upper_layer(),
    "walk_extension_headers": lambda b: walk_extension_headers(b[0] if b else 0, b, 1),
    "Fragment": Fragment.parse,
    "parse_icmpv6": lambda b: parse_icmpv6(b, None, None),
    "parse_icmpv6 verify": lambda b: parse_icmpv6(b, _V6_SRC, _V6_DST, verify=True),
    "parse_icmpv6 quote": lambda b: _quote_views(parse_icmpv6(b, None, None)),
    "icmpv6.Echo": icmpv6.Echo.parse,
    "icmpv6.PacketTooBig": icmpv6.PacketTooBig.parse,
    "icmpv6.RawIcmpv6": icmpv6.RawIcmpv6.parse,
    "NeighbourSolicitation": ndisc.NeighbourSolicitation.parse,
    "NeighbourAdvertisement verify": lambda b: ndisc.NeighbourAdvertisement.parse(b, _V6_SRC, _V6_DST, True),
    "ndisc.parse_options": ndisc.parse_options,
}
_V6_SRC = IPv6Address("2001:db8:1::2")
_V6_DST = IPv6Address("2001:db8:1::1")


def _quote_views(message: Icmpv6Message) -> object:
    """What a decoder does with an error: the quoted packet and its upper layer."""
    if isinstance(message, icmpv6.DestinationUnreachable | icmpv6.PacketTooBig | icmpv6.TimeExceeded):
        assert message.quoted_echo is None or len(message.quoted_echo) == 3
        return message.quoted_packet().upper_layer()
    return message


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
anything = st.one_of(
    ipv4_like,
    icmp_like,
    pcap_like,
    mutated([V.ETH_ARP_REQ, V.ARP_REP, V.ETH_ECHO]),
    ipv6_like,
    icmpv6_like,
    st.builds(lambda t, quote: bytes([t]) + bytes(7) + quote, st.sampled_from([1, 2, 3]), ipv6_like),
)


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
