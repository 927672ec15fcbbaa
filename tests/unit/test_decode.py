"""The tcpdump-style decode, the hex dump, ``--decode``/``--decode-pcap``, and the views over fakes.

Oracles we did not write: tcpdump 4.99 (its ``-n -v -e`` text and ``-X`` dump, line for line)
and TShark (``-T fields``, field by field) on the lab captures kept in ``tests/fixtures/``
(tcpdump captures made by tests/lab/test_views.py, at most 10 frames each). Both are skipped
when the tool is missing; everything else here needs neither root nor network.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerping.engine.runner import Runner
from layerping.engine.session import Session, SessionConfig
from layerping.inet.v4 import RULES
from layerping.output import hexdump as hx
from layerping.output import tcpdump as d
from layerping.output.decode_cli import run_decode
from layerping.output.json import SUMMARY_FIELDS, JsonOutput
from layerping.output.text import TextOptions, TextOutput
from layerping.output.verbose import VerboseOutput, render
from layerping.transport.base import Inbound
from layerping.transport.tee import HeaderGuess, Seen, TeeTransport
from layerping.wire.ethernet import EthernetFrame, EtherType, parse_mac
from layerping.wire.icmpv4 import DestinationUnreachable, Echo, TimeExceeded
from layerping.wire.ipv4 import FLAG_DF, Ipv4Header, Ipv4Packet
from layerping.wire.pcap import LINKTYPE_ETHERNET, LINKTYPE_RAW, PcapWriter, read_pcap
from tests import vectors as v
from tests.support.fake import Drop, Refuse, Reply, ScriptedTransport, corrupt, time_exceeded

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ISSUE_PACKET = "450000200000000040018592c0a832a1010101010800f616004501a401020304"

# The example of the issue, built with our wire classes: 198.51.100.2 -> 203.0.113.2, id 4711, DF.
EXAMPLE_ECHO = Echo.request(69, 420, bytes(range(56))).build()
EXAMPLE_IP = Ipv4Packet(
    Ipv4Header(
        tos=0,
        identification=4711,
        flags=FLAG_DF,
        fragment_offset=0,
        ttl=64,
        protocol=1,
        source=IPv4Address("198.51.100.2"),
        destination=IPv4Address("203.0.113.2"),
    ),
    EXAMPLE_ECHO,
).build()
EXAMPLE_FRAME = EthernetFrame(
    parse_mac("9e:59:56:b0:fe:ef"), parse_mac("52:8d:d0:30:ba:14"), EtherType.IPV4, EXAMPLE_IP
).build()


def _with(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


# --- the lines of the issue ------------------------------------------------------------------------


def test_the_issue_packet_shows_the_checksum_over_the_header_alone() -> None:
    decoded = d.decode_ip(bytes.fromhex(ISSUE_PACKET))
    assert decoded.lines == (
        "(tos 0x0, ttl 64, id 0, offset 0, flags [none], proto ICMP (1), length 32)",
        "    192.168.50.161 > 1.1.1.1: ICMP echo request, id 69, seq 420, length 12"
        " (wrong icmp cksum f616 (->f210)!)",
    )
    assert (decoded.bad_checksums, decoded.checked, decoded.status) == (1, 2, 1)


def test_ethernet_ip_and_icmp_lines_as_the_issue_writes_them() -> None:
    decoded = d.decode_ethernet(EXAMPLE_FRAME)
    assert decoded.lines == (
        "52:8d:d0:30:ba:14 > 9e:59:56:b0:fe:ef, ethertype IPv4 (0x0800), length 98: "
        "(tos 0x0, ttl 64, id 4711, offset 0, flags [DF], proto ICMP (1), length 84)",
        "    198.51.100.2 > 203.0.113.2: ICMP echo request, id 69, seq 420, length 64",
    )
    assert decoded.status == 0


def test_bad_ip_header_checksum_says_what_it_should_be() -> None:
    decoded = d.decode_ip(_with(v.IPV4_ECHO, 10, b"\x12\x34"))
    assert decoded.lines[0].endswith("length 32, bad cksum 1234 (->8592)!)")
    assert decoded.status == 1


def test_checksums_print_as_tcpdump_prints_them_without_leading_zeros() -> None:
    echo = bytearray(Echo.request(1, 1, b"").build())
    echo[2:4] = b"\x0a\xbc"
    line = d.decode_icmp(bytes(echo), IPv4Address("192.0.2.2"), IPv4Address("192.0.2.1")).lines[0]
    right = Echo.request(1, 1, b"").build()[2:4].hex()
    assert line.endswith(f"(wrong icmp cksum abc (->{right})!)")


def test_icmp_error_shows_the_quoted_datagram_as_tcpdump_does() -> None:
    quoted = Ipv4Header.parse(EXAMPLE_IP)
    error = TimeExceeded(0, quoted, EXAMPLE_ECHO).build()
    packet = Ipv4Packet(
        Ipv4Header(
            tos=0xC0,
            identification=1,
            flags=0,
            fragment_offset=0,
            ttl=64,
            protocol=1,
            source=IPv4Address("192.0.2.1"),
            destination=IPv4Address("198.51.100.2"),
        ),
        error,
    ).build()
    assert d.decode_ip(packet).lines == (
        "(tos 0xc0, ttl 64, id 1, offset 0, flags [none], proto ICMP (1), length 112)",
        "    192.0.2.1 > 198.51.100.2: ICMP time exceeded in-transit, length 92",
        "\t(tos 0x0, ttl 64, id 4711, offset 0, flags [DF], proto ICMP (1), length 84)",
        "    198.51.100.2 > 203.0.113.2: ICMP echo request, id 69, seq 420, length 64",
    )


def test_a_short_quote_is_not_checked_and_frag_needed_shows_the_mtu() -> None:
    quoted = Ipv4Header.parse(EXAMPLE_IP)
    error = DestinationUnreachable(4, quoted, EXAMPLE_ECHO[:8], next_hop_mtu=1280).build()
    decoded = d.decode_icmp(error, IPv4Address("192.0.2.1"), IPv4Address("198.51.100.2"))
    assert decoded.lines[0] == (
        "    192.0.2.1 > 198.51.100.2: ICMP 203.0.113.2 unreachable - need to frag (mtu 1280), length 36"
    )
    assert decoded.lines[2].endswith("ICMP echo request, id 69, seq 420, length 64")
    assert (decoded.checked, decoded.status) == (2, 0)  # outer ICMP and quoted IPv4 header only


def test_hexdump_is_tcpdump_x_layout() -> None:
    # tcpdump 4.99.3 -X of the same bytes (the IPv4 part of an Ethernet capture).
    assert hx.hexdump(bytes.fromhex(ISSUE_PACKET)) == [
        "\t0x0000:  4500 0020 0000 0000 4001 8592 c0a8 32a1  E.......@.....2.",
        "\t0x0010:  0101 0101 0800 f616 0045 01a4 0102 0304  .........E......",
    ]
    assert hx.hexdump(b"\x00\x00\x00\x00a b\x7f~!") == [
        "\t0x0000:  0000 0000 6120 627f 7e21                 ....a.b.~!"
    ]
    assert hx.hexdump(b"") == []


# --- what is and is not a packet ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "linktype"),
    [
        (v.IPV4_ECHO, LINKTYPE_RAW),
        (EXAMPLE_FRAME, LINKTYPE_ETHERNET),
        (EXAMPLE_IP, LINKTYPE_RAW),
        (b"\x60" * 40, None),
    ],
)
def test_detect_tells_frames_from_packets(data: bytes, linktype: int | None) -> None:
    assert d.detect_linktype(data) == linktype


def test_parse_hex_accepts_spaces_colons_newlines_and_names_the_bad_character() -> None:
    assert hx.parse_hex("45 00\n00:20") == bytes.fromhex("45000020")
    with pytest.raises(ValueError, match="'g' at character 3"):
        hx.parse_hex("45g0")
    with pytest.raises(ValueError, match="odd number"):
        hx.parse_hex("450")


def test_every_prefix_of_a_frame_stops_with_a_reason_and_never_raises() -> None:
    for n in range(len(EXAMPLE_FRAME)):
        decoded = d.decode_ethernet(EXAMPLE_FRAME[:n])
        assert decoded.status == 2 and decoded.stopped is not None, n
        assert re.match(r"parsing stopped at byte \d+: ", decoded.stopped)
    assert d.decode_ethernet(EXAMPLE_FRAME).status == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([LINKTYPE_ETHERNET, LINKTYPE_RAW]))
def test_arbitrary_bytes_never_raise(data: bytes, linktype: int) -> None:
    decoded = d.decode(data, linktype)
    assert decoded.status in (0, 1, 2)
    assert all(isinstance(line, str) for line in decoded.lines)
    hx.hexdump(data)


# --- the command line ----------------------------------------------------------------------------------


def decode_args(
    *, hex_text: str | None = None, pcap_path: str | None = None, dump: bool = False
) -> argparse.Namespace:
    return argparse.Namespace(decode=hex_text, decode_pcap=pcap_path, hex=dump, destinations=[])


def run(args: argparse.Namespace) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run_decode(args, out, err)
    return status, out.getvalue(), err.getvalue()


def test_decode_exit_status_0_1_2() -> None:
    status, out, err = run(decode_args(hex_text=ISSUE_PACKET))
    assert status == 1 and "wrong icmp cksum f616 (->f210)" in out and err == ""
    status, out, err = run(decode_args(hex_text=" ".join(f"{b:02x}" for b in v.IPV4_ECHO), dump=True))
    assert status == 0 and "wrong" not in out and "\t0x0010:  0101 0101 0800 f210" in out
    status, out, err = run(decode_args(hex_text="6000 0000 0000 0000 0000 0000 0000 0000"))
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1 and "parsing stopped at byte 0" in err and "EtherType" in err
    status, out, err = run(decode_args(hex_text=ISSUE_PACKET[:-8]))  # four bytes short
    assert status == 2 and len(err.splitlines()) == 1 and "parsing stopped at byte 28" in err


def test_decode_of_the_issue_packet_through_the_real_cli(capsys: pytest.CaptureFixture[str]) -> None:
    from layerping.cli import main

    assert main(["--decode", ISSUE_PACKET]) == 1
    assert "wrong icmp cksum f616 (->f210)" in capsys.readouterr().out


def test_decode_pcap_prints_tcpdump_lines_and_the_worst_status(tmp_path: Path) -> None:
    path = tmp_path / "two.pcap"
    with open(path, "wb") as stream:
        writer = PcapWriter(stream, LINKTYPE_RAW)
        writer.write(1_700_000_000_123_456_789, v.IPV4_ECHO)
        writer.write(1_700_000_000_223_456_789, bytes.fromhex(ISSUE_PACKET))
    status, out, _ = run(decode_args(pcap_path=str(path)))
    lines = out.splitlines()
    assert status == 1 and len(lines) == 4
    assert re.match(r"^\d\d:\d\d:\d\d\.123456 \(tos 0x0, ttl 64", lines[0])
    assert "wrong icmp cksum" in lines[3] and "wrong" not in lines[1]
    (tmp_path / "not.pcap").write_bytes(b"hello, not a pcap file at all")
    status, out, err = run(decode_args(pcap_path=str(tmp_path / "not.pcap")))
    assert status == 2 and out == "" and len(err.splitlines()) == 1


# --- oracles: tcpdump's text and tshark's fields on the lab fixtures ------------------------------------


def fixture_paths() -> list[Path]:
    return sorted(FIXTURES.glob("*.pcap"))


def test_fixtures_are_small_lab_captures() -> None:
    paths = fixture_paths()
    assert {p.stem for p in paths} >= {
        "echo_request",
        "echo_reply",
        "net_unreachable",
        "host_unreachable",
        "time_exceeded",
        "frag_needed",
        "arp_request",
        "arp_reply",
    }
    for path in paths:
        with open(path, "rb") as stream:
            capture = read_pcap(stream)
        assert capture.linktype == LINKTYPE_ETHERNET
        assert len(capture.records) == 10, path.name


def tcpdump_lines(path: Path) -> list[list[str]]:
    """``tcpdump -n -v -e -r``, split into frames, timestamps removed."""
    out = subprocess.run(
        ["tcpdump", "-n", "-v", "-e", "-r", str(path)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    frames: list[list[str]] = []
    for line in out.splitlines():
        if re.match(r"^\d\d:\d\d:\d\d\.\d{6} ", line):
            frames.append([line.split(" ", 1)[1]])
        elif line:
            frames[-1].append(line)
    return frames


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump")
@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.name)
def test_every_fixture_frame_reads_exactly_as_tcpdump_prints_it(path: Path) -> None:
    with open(path, "rb") as stream:
        capture = read_pcap(stream)
    theirs = tcpdump_lines(path)
    assert len(theirs) == len(capture.records)
    for number, (record, expected) in enumerate(zip(capture.records, theirs, strict=True), start=1):
        decoded = d.decode(record.data, capture.linktype, record.orig_len)
        assert list(decoded.lines) == expected, f"frame {number}"
        assert decoded.status == 0


# The fields compared with tshark, and how a decode's text shows each of them.
TSHARK_FIELDS = (
    "frame.len",
    "eth.src",
    "eth.dst",
    "eth.type",
    "ip.src",
    "ip.dst",
    "ip.ttl",
    "ip.id",
    "ip.flags.df",
    "ip.flags.mf",
    "ip.frag_offset",
    "ip.len",
    "ip.dsfield",
    "ip.proto",
    "ip.checksum.status",
    "icmp.type",
    "icmp.code",
    "icmp.ident",
    "icmp.seq",
    "icmp.checksum.status",
    "icmp.mtu",
    "arp.opcode",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.hw_mac",
    "arp.dst.proto_ipv4",
)
_MAC = r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}"
_ETH = re.compile(
    rf"^(?P<src>{_MAC}) > (?P<dst>{_MAC}), ethertype \S+ \((?P<type>0x[0-9a-f]{{4}})\), "
    r"length (?P<len>\d+): "
)
_IP = re.compile(
    r"\(tos 0x(?P<tos>[0-9a-f]+)(?:,[A-Z0-9()]+)?(?:, ttl (?P<ttl>\d+))?, id (?P<id>\d+), "
    r"offset (?P<off>\d+), flags \[(?P<flags>[^\]]*)\], proto [^(]+\((?P<proto>\d+)\), length (?P<len>\d+)"
    r"(?P<bad>, bad cksum [0-9a-f]+ \(->[0-9a-f]+\)!)?\)\n\s+"
    r"(?P<src>[\d.]+) > (?P<dst>[\d.]+): (?P<rest>[^\n]*)"
)
_ICMP = re.compile(
    r"^ICMP (?P<text>.*), length (?P<len>\d+)(?P<bad> \(wrong icmp cksum [0-9a-f]+ \(->[0-9a-f]+\)!\))?$"
)
_ICMP_TEXTS: tuple[tuple[re.Pattern[str], int, int], ...] = (
    (re.compile(r"^echo request, id (?P<id>\d+), seq (?P<seq>\d+)$"), 8, 0),
    (re.compile(r"^echo reply, id (?P<id>\d+), seq (?P<seq>\d+)$"), 0, 0),
    (re.compile(r"^net \S+ unreachable$"), 3, 0),
    (re.compile(r"^host \S+ unreachable$"), 3, 1),
    (re.compile(r"^\S+ unreachable - need to frag \(mtu (?P<mtu>\d+)\)$"), 3, 4),
    (re.compile(r"^time exceeded in-transit$"), 11, 0),
)
_ARP_REQUEST = re.compile(
    rf"Request who-has (?P<tpa>[\d.]+)(?: \((?P<tha>{_MAC})\))? tell (?P<spa>[\d.]+), length"
)
_ARP_REPLY = re.compile(rf"Reply (?P<spa>[\d.]+) is-at (?P<sha>{_MAC}), length")


def fields_of(lines: Sequence[str]) -> dict[str, list[str]]:
    """The fields a decode shows, under tshark's names and in tshark's notation, per occurrence.

    What the text does not show is left out (tcpdump's ARP request line has no sender MAC).
    """
    text = "\n".join(lines)
    fields: dict[str, list[str]] = {}

    def add(name: str, value: str) -> None:
        fields.setdefault(name, []).append(value)

    eth = _ETH.match(text)
    if eth:
        add("frame.len", eth["len"])
        add("eth.src", eth["src"])
        add("eth.dst", eth["dst"])
        add("eth.type", eth["type"])
    for ip in _IP.finditer(text):
        add("ip.src", ip["src"])
        add("ip.dst", ip["dst"])
        add("ip.ttl", ip["ttl"] or "0")
        add("ip.id", f"0x{int(ip['id']):04x}")
        add("ip.flags.df", "1" if "DF" in ip["flags"].split(", ") else "0")
        add("ip.flags.mf", "1" if "+" in ip["flags"].split(", ") else "0")
        add("ip.frag_offset", str(int(ip["off"]) // 8))  # tshark counts 8-byte units, tcpdump bytes
        add("ip.len", ip["len"])
        add("ip.dsfield", f"0x{int(ip['tos'], 16):02x}")
        add("ip.proto", ip["proto"])
        add("ip.checksum.status", "0" if ip["bad"] else "1")
        icmp = _ICMP.match(ip["rest"])
        if icmp is None:
            continue
        for pattern, icmp_type, code in _ICMP_TEXTS:
            said = pattern.match(icmp["text"])
            if said is None:
                continue
            add("icmp.type", str(icmp_type))
            add("icmp.code", str(code))
            if "id" in pattern.groupindex:
                add("icmp.ident", said["id"])
                add("icmp.seq", said["seq"])
            if "mtu" in pattern.groupindex:
                add("icmp.mtu", said["mtu"])
        if "icmp.checksum.status" not in fields:  # the outer message's; tshark checks no quote
            add("icmp.checksum.status", "0" if icmp["bad"] else "1")
    request, reply = _ARP_REQUEST.search(text), _ARP_REPLY.search(text)
    if request:
        add("arp.opcode", "1")
        add("arp.src.proto_ipv4", request["spa"])
        add("arp.dst.proto_ipv4", request["tpa"])
        add("arp.dst.hw_mac", request["tha"] or "00:00:00:00:00:00")
    if reply:
        add("arp.opcode", "2")
        add("arp.src.proto_ipv4", reply["spa"])
        add("arp.src.hw_mac", reply["sha"])
    return fields


def tshark_rows(path: Path | str) -> list[dict[str, list[str]]]:
    """``tshark -T fields`` for every frame, every occurrence of each field (IPv4 checksums checked)."""
    argv = [
        "tshark",
        "-r",
        str(path),
        "-o",
        "ip.check_checksum:TRUE",
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]
    for name in TSHARK_FIELDS:
        argv += ["-e", name]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout
    rows = []
    for line in out.splitlines():
        values = line.split("\t")
        rows.append(
            {name: value.split(",") for name, value in zip(TSHARK_FIELDS, values, strict=True) if value}
        )
    return rows


#: The fields every frame of a kind must show, so that a decode that says nothing cannot pass.
REQUIRED = {
    "echo": {
        "frame.len",
        "eth.src",
        "eth.dst",
        "eth.type",
        "ip.src",
        "ip.dst",
        "ip.ttl",
        "ip.id",
        "ip.flags.df",
        "ip.len",
        "ip.dsfield",
        "ip.checksum.status",
        "icmp.type",
        "icmp.code",
        "icmp.ident",
        "icmp.seq",
        "icmp.checksum.status",
    },
    "arp": {"frame.len", "eth.src", "eth.dst", "eth.type", "arp.opcode", "arp.src.proto_ipv4"},
}


def compare_with_tshark(path: Path | str, decoded_frames: Sequence[Sequence[str]], kind: str) -> int:
    """Assert that every frame's decode agrees with tshark field by field; return the frame count."""
    rows = tshark_rows(path)
    assert len(rows) == len(decoded_frames)
    for number, (row, lines) in enumerate(zip(rows, decoded_frames, strict=True), start=1):
        ours = fields_of(lines)
        required = REQUIRED["arp" if kind.startswith("arp") else "echo"]
        assert required <= ours.keys(), (number, required - ours.keys(), lines)
        for name, values in ours.items():
            theirs = row.get(name)
            if name == "icmp.checksum.status":
                theirs = theirs[:1] if theirs else theirs
            assert values == theirs, (path, number, name, values, theirs, lines)
    return len(rows)


def _kind(path: Path) -> str:
    return path.stem


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.name)
def test_every_fixture_frame_agrees_with_tshark_field_by_field(path: Path) -> None:
    with open(path, "rb") as stream:
        capture = read_pcap(stream)
    decoded = [d.decode(r.data, capture.linktype, r.orig_len).lines for r in capture.records]
    assert compare_with_tshark(path, decoded, _kind(path)) >= 10


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
@pytest.mark.parametrize(
    ("old", "new"), [(", ttl ", ", ttl 1"), ("seq ", "seq 9"), (", flags [DF]", ", flags [none]")]
)
def test_the_comparison_can_fail(old: str, new: str) -> None:
    """A decode with one wrong field must not pass the tshark comparison."""
    path = FIXTURES / "echo_request.pcap"
    with open(path, "rb") as stream:
        capture = read_pcap(stream)
    decoded = [list(d.decode(r.data, capture.linktype, r.orig_len).lines) for r in capture.records]
    decoded[3] = [line.replace(old, new, 1) for line in decoded[3]]
    with pytest.raises(AssertionError):
        compare_with_tshark(path, decoded, "echo_request")


# --- the views over a scripted transport: tee, -v, --json ----------------------------------------------


LOCAL = IPv4Address("192.0.2.100")
PEER = IPv4Address("198.51.100.2")
ROUTER = IPv4Address("192.0.2.1")


def _session(count: int, keep_samples: bool = False, timeout_ns: int | None = None) -> Session:
    config = SessionConfig(
        identifier=0x1234,
        cookie=b"layerpng",
        count=count,
        interval_ns=1_000_000,
        timeout_ns=timeout_ns,
        keep_samples=keep_samples,
    )
    import time

    return Session(config, PEER, time.monotonic_ns(), RULES)


def _run(transport: ScriptedTransport | TeeTransport, session: Session, sink: object) -> None:
    runner = Runner(transport, session, sink)  # type: ignore[arg-type]
    runner.run(handle_signals=False)


@pytest.fixture
def pcap_file(tmp_path: Path) -> Path:
    return tmp_path / "out.pcap"


def test_tee_writes_every_frame_with_the_rtt_timestamps(pcap_file: Path) -> None:
    inner = ScriptedTransport({2: corrupt(), 3: time_exceeded(ROUTER)}, source=LOCAL)
    tee = TeeTransport(inner, pcap_stream=pcap_file.open("wb"), guess=HeaderGuess(LOCAL, ttl=64))
    session = _session(3)
    events: list[object] = []
    _run(tee, session, events.append)
    tee.close()
    with open(pcap_file, "rb") as f:
        capture = read_pcap(f)
    assert capture.linktype == LINKTYPE_RAW
    sent = [p.tx_ns for p in inner.sent]
    received = [i.rx_ns for i in inner.delivered]
    assert len(capture.records) == 6  # 3 requests, 2 replies, 1 time exceeded
    assert sorted(r.ts_ns for r in capture.records) == sorted(sent + received)
    statuses = [d.decode(r.data, LINKTYPE_RAW).status for r in capture.records]
    assert statuses.count(1) == 1 and statuses.count(0) == 5  # the corrupted reply, and only it
    requests = [Ipv4Packet.parse(r.data) for r in capture.records if r.ts_ns in sent]
    assert [p.payload for p in requests] == [p.icmp for p in inner.sent]
    assert all(p.header.dont_fragment and p.header.source == LOCAL for p in requests)


def test_verbose_shows_the_kernel_built_header_plainly_and_every_reply(pcap_file: Path) -> None:
    inner = ScriptedTransport(source=LOCAL)
    tee = TeeTransport(inner, guess=HeaderGuess(LOCAL))
    session = _session(2)
    out = io.StringIO()
    text = TextOutput(session, str(PEER), TextOptions(), out=out)
    _run(tee, session, VerboseOutput(tee, text, decode=True, hexdump=True, out=out))
    lines = out.getvalue().splitlines()
    outs = [i for i, line in enumerate(lines) if " Out " in line]
    ins = [i for i, line in enumerate(lines) if " In  " in line]
    assert len(outs) == 2 and len(ins) == 2
    assert lines[outs[0]].endswith(
        "Out IPv4 header written by the kernel (no packet socket to read it back: "
        "not visible without CAP_NET_RAW)"
    )
    assert lines[outs[0] + 1] == f"    {LOCAL} > {PEER}: ICMP echo request, id 4660, seq 1, length 64"
    assert lines[outs[0] + 2].startswith("\t0x0000:  0800 ")
    assert re.match(
        r"^\d\d:\d\d:\d\d\.\d{6} In  \(tos 0x0, ttl 63, id \d+, offset 0, flags \[none\], "
        r"proto ICMP \(1\), length 84\)$",
        lines[ins[0]],
    )
    assert lines[ins[0] + 1] == f"    {PEER} > {LOCAL}: ICMP echo reply, id 4660, seq 1, length 64"
    reply_line = next(line for line in lines[ins[0] :] if line.startswith("64 bytes from"))
    assert "icmp_seq=1" in reply_line


def test_tee_passes_refusals_through_and_writes_nothing_for_them(pcap_file: Path) -> None:
    inner = ScriptedTransport({1: Refuse(), 2: Drop()}, source=LOCAL)
    tee = TeeTransport(inner, pcap_stream=pcap_file.open("wb"), guess=HeaderGuess(LOCAL))
    session = _session(2, timeout_ns=20_000_000)
    _run(tee, session, lambda event: None)
    tee.close()
    with open(pcap_file, "rb") as f:
        assert len(read_pcap(f).records) == 1  # the dropped probe left; the refused one did not
    assert isinstance(tee.last_seen, Seen)


def test_json_lines_have_exactly_the_documented_fields() -> None:
    inner = ScriptedTransport({2: Drop(), 3: time_exceeded(ROUTER), 4: Refuse()}, source=LOCAL)
    session = _session(5, keep_samples=True, timeout_ns=30_000_000)
    out = io.StringIO()
    sink = JsonOutput(session, out)
    _run(inner, session, sink)
    sink.summary()
    objects = [json.loads(line) for line in out.getvalue().splitlines()]
    by_kind: dict[str, list[dict[str, object]]] = {}
    for obj in objects:
        by_kind.setdefault(str(obj["event"]), []).append(obj)
    assert [o["seq"] for o in by_kind["probe"]] == [1, 2, 3, 5]
    assert set(by_kind["probe"][0]) == {"event", "seq", "time_sent"}
    assert [o["seq"] for o in by_kind["reply"]] == [1, 5]
    assert set(by_kind["reply"][0]) == {"event", "seq", "from", "bytes", "ttl", "rtt_ms", "dup", "corrupted"}
    assert by_kind["reply"][0]["rtt_ms"] == 0.123 and by_kind["reply"][0]["from"] == str(PEER)
    errors = by_kind["error"]
    assert {(o["seq"], o["type"], o["code"]) for o in errors} == {(3, 11, 0), (4, None, None)}
    assert any(o["name"] == "Time to live exceeded" for o in errors)
    assert set(errors[0]) == {"event", "seq", "from", "type", "code", "name"}
    assert by_kind["timeout"] == [{"event": "timeout", "seq": 2}]
    (summary,) = by_kind["summary"]
    assert objects[-1] is summary or objects[-1] == summary
    assert list(summary) == ["event", *SUMMARY_FIELDS]
    assert (summary["transmitted"], summary["received"], summary["errors"]) == (5, 2, 2)
    assert summary["rtt_p50_ms"] == summary["rtt_p99_ms"] == 0.123
    assert summary["loss_percent"] == 60.0


def test_json_summary_without_replies_has_null_rtts() -> None:
    inner = ScriptedTransport(default=Drop(), source=LOCAL)
    session = _session(1, keep_samples=True, timeout_ns=10_000_000)
    out = io.StringIO()
    sink = JsonOutput(session, out)
    _run(inner, session, sink)
    sink.summary()
    summary = json.loads(out.getvalue().splitlines()[-1])
    assert summary["received"] == 0 and summary["rtt_avg_ms"] is None and summary["rtt_p90_ms"] is None


def test_duplicate_and_corrupted_flags_reach_json() -> None:
    inner = ScriptedTransport({1: Reply(copies=2, copy_gap_ns=1000), 2: corrupt()}, source=LOCAL)
    session = _session(2, keep_samples=True, timeout_ns=20_000_000)
    out = io.StringIO()
    _run(inner, session, JsonOutput(session, out))
    replies = [o for o in map(json.loads, out.getvalue().splitlines()) if o["event"] == "reply"]
    assert [(o["seq"], o["dup"], o["corrupted"]) for o in replies] == [
        (1, False, False),
        (1, True, False),
        (2, False, True),
    ]


def test_datagram_socket_messages_say_what_is_not_visible() -> None:
    tee = TeeTransport(ScriptedTransport(source=LOCAL), guess=HeaderGuess(LOCAL))
    reply = Echo.reply(7, 1, b"abcd").build()
    seen = tee.seen(Inbound(icmp=reply, src=PEER, dst=None, ttl=63, rx_ns=1, raw=reply))
    assert render(seen, decode=True, hexdump=False) == [
        "IPv4 header not visible on an ICMP datagram socket (ttl 63 from IP_TTL)",
        f"    {PEER} > {LOCAL}: ICMP echo reply, id 7, seq 1, length 12",
    ]
    error = TimeExceeded(0, Ipv4Header.parse(EXAMPLE_IP), EXAMPLE_ECHO[:8]).build()
    report = Inbound(icmp=error, src=ROUTER, dst=None, ttl=None, rx_ns=1, raw=error, from_error_queue=True)
    assert render(tee.seen(report), decode=True, hexdump=True) == [
        f"ICMP error from {ROUTER} (type 11, code 0) reported by the kernel through IP_RECVERR; "
        "the packet itself is not visible"
    ]
    tee.close()


def test_hex_alone_heads_each_dump_with_its_size() -> None:
    lines = render(Seen(v.IPV4_ECHO, LINKTYPE_RAW), decode=False, hexdump=True)
    assert lines[0] == "32 bytes:" and lines[1].startswith("\t0x0000:  4500 0020")


def test_readme_documents_exactly_the_json_fields() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("\n## JSON output\n", 1)[1].split("\n## ", 1)[0]
    table = {kind: rest for kind, rest in re.findall(r"^\| `(\w+)`\s*\| (.*) \|$", section, re.M)}
    documented = {kind: set(re.findall(r"`([a-z_0-9]+)`", rest)) for kind, rest in table.items()}
    assert re.findall(r"`([a-z_0-9]+)`", table["summary"]) == list(SUMMARY_FIELDS)
    inner = ScriptedTransport({2: time_exceeded(ROUTER), 3: Drop()}, source=LOCAL)
    session = _session(3, keep_samples=True, timeout_ns=20_000_000)
    out = io.StringIO()
    _run(inner, session, JsonOutput(session, out))
    for obj in map(json.loads, out.getvalue().splitlines()):
        assert set(obj) - {"event"} == documented[obj["event"]], obj


def test_a_new_protocol_is_rows_in_the_dispatch_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """IPv6 (or any protocol) plugs in as a decoder function plus rows; nothing else changes."""

    def fake_ipv6(out: d.Out, data: memoryview, offset: int) -> None:
        out.write(f"IP6 {len(data)} bytes from byte {offset}")

    monkeypatch.setitem(d.ETHERTYPES, 0x86DD, ("IPv6", fake_ipv6))
    monkeypatch.setitem(d.IP_VERSIONS, 6, fake_ipv6)
    packet = b"\x60" + bytes(39)
    frame = EXAMPLE_FRAME[:12] + b"\x86\xdd" + packet
    line = d.decode_ethernet(frame).lines[0]
    assert line.endswith("ethertype IPv6 (0x86dd), length 54: IP6 40 bytes from byte 14")
    assert d.decode_ip(packet).lines == ("IP6 40 bytes from byte 0",)
    assert d.decode(packet, LINKTYPE_RAW).status == 0
    monkeypatch.delitem(d.IP_VERSIONS, 6)
    assert d.decode_ip(packet).stopped == "parsing stopped at byte 0: IP version 6, not 4"
