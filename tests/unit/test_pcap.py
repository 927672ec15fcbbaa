"""pcap writer and reader, checked against golden bytes, tshark and tcpdump."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from layerping.errors import Malformed, Truncated
from layerping.wire.pcap import (
    FILE_HEADER_LEN,
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    RECORD_HEADER_LEN,
    PcapFile,
    PcapRecord,
    PcapWriter,
    read_pcap,
)
from tests import vectors as V

TS_NS = 1_700_000_000_123_456_789

#                         magic    major minor zone     sigfigs  snaplen  linktype
NS_HEADER_LE = bytes.fromhex("4d3cb2a1 0200 0400 00000000 00000000 00000400 65000000")
#                         secs     nsecs    caplen   origlen
NS_RECORD_LE = bytes.fromhex("00f15365 15cd5b07 20000000 20000000") + V.IPV4_ECHO
# The same packet, microseconds, big-endian (as written on a big-endian host by libpcap).
#                         magic    major minor zone     sigfigs  snaplen  linktype
US_HEADER_BE = bytes.fromhex("a1b2c3d4 0002 0004 00000000 00000000 0000ffff 00000065")
#                         secs     usecs    caplen   origlen
US_RECORD_BE = bytes.fromhex("6553f100 0001e240 00000020 00000020") + V.IPV4_ECHO


def written(records: list[tuple[int, bytes]], linktype: int = LINKTYPE_RAW, snaplen: int = 262144) -> bytes:
    stream = io.BytesIO()
    writer = PcapWriter(stream, linktype, snaplen)
    for ts_ns, data in records:
        writer.write(ts_ns, data)
    return stream.getvalue()


def test_write_golden_bytes() -> None:
    assert written([(TS_NS, V.IPV4_ECHO)]) == NS_HEADER_LE + NS_RECORD_LE


def test_read_nanosecond_little_endian() -> None:
    pcap = read_pcap(io.BytesIO(NS_HEADER_LE + NS_RECORD_LE))
    assert pcap == PcapFile(LINKTYPE_RAW, 262144, True, [PcapRecord(TS_NS, V.IPV4_ECHO, 32)])


def test_read_microsecond_big_endian() -> None:
    pcap = read_pcap(io.BytesIO(US_HEADER_BE + US_RECORD_BE))
    assert pcap == PcapFile(
        LINKTYPE_RAW, 65535, False, [PcapRecord(1_700_000_000_123_456_000, V.IPV4_ECHO, 32)]
    )


def test_read_all_four_magics() -> None:
    for magic, nanosecond in ((0xA1B2C3D4, False), (0xA1B23C4D, True)):
        for order in ("<", ">"):
            data = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 1500, 1)
            data += struct.pack(order + "IIII", 1, 999, 4, 60) + b"abcd"
            pcap = read_pcap(io.BytesIO(data))
            unit = 1 if nanosecond else 1000
            assert pcap == PcapFile(
                1, 1500, nanosecond, [PcapRecord(1_000_000_000 + 999 * unit, b"abcd", 60)]
            )


def test_snaplen_cuts_and_keeps_orig_len() -> None:
    data = written([(0, V.IPV4_ECHO)], snaplen=20)
    assert read_pcap(io.BytesIO(data)).records == [PcapRecord(0, V.IPV4_ECHO[:20], 32)]


def test_explicit_orig_len() -> None:
    stream = io.BytesIO()
    PcapWriter(stream, LINKTYPE_ETHERNET).write(5, V.ETH_ECHO, orig_len=1514)
    assert read_pcap(io.BytesIO(stream.getvalue())).records == [PcapRecord(5, V.ETH_ECHO, 1514)]


def test_round_trip_many() -> None:
    records = [
        (TS_NS + i * 1_000_001, v) for i, v in enumerate([V.IPV4_ECHO, V.IPV4_RR, b"", V.IPV4_UNREACH_HOST])
    ]
    pcap = read_pcap(io.BytesIO(written(records)))
    assert [(r.ts_ns, r.data) for r in pcap.records] == records


class FlushCounter(io.BytesIO):
    """A stream that remembers how much had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(len(self.getvalue()))


def test_flushes_after_every_record_and_close_closes() -> None:
    stream = FlushCounter()
    writer = PcapWriter(stream, LINKTYPE_RAW)
    writer.write(TS_NS, V.IPV4_ECHO)
    writer.write(TS_NS, V.ECHO_REQ)
    assert stream.flushed_at == [24, 24 + 16 + 32, 24 + 16 + 32 + 16 + 12]
    writer.close()
    assert stream.closed


def test_a_file_cut_after_a_record_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "partial.pcap"
    with path.open("wb") as f:
        writer = PcapWriter(f, LINKTYPE_RAW)
        writer.write(TS_NS, V.IPV4_ECHO)
        # not closed yet: what a Ctrl-C would leave behind
        assert len(read_pcap(io.BytesIO(path.read_bytes())).records) == 1


@pytest.mark.parametrize(
    ("ts_ns", "orig_len", "field"),
    [(-1, None, "ts_ns"), ((1 << 32) * 10**9, None, "ts_ns"), (0, 3, "orig_len")],
)
def test_write_rejects(ts_ns: int, orig_len: int | None, field: str) -> None:
    writer = PcapWriter(io.BytesIO(), LINKTYPE_RAW)
    with pytest.raises(Malformed) as info:
        writer.write(ts_ns, b"abcd", orig_len)
    assert info.value.field == field


def test_writer_rejects_bad_snaplen() -> None:
    with pytest.raises(Malformed):
        PcapWriter(io.BytesIO(), LINKTYPE_RAW, snaplen=0)


def test_truncated_at_every_length() -> None:
    data = NS_HEADER_LE + NS_RECORD_LE + NS_RECORD_LE
    boundaries = {FILE_HEADER_LEN: 0, len(NS_HEADER_LE + NS_RECORD_LE): 1}
    for n in range(len(data)):
        if n in boundaries:
            assert len(read_pcap(io.BytesIO(data[:n])).records) == boundaries[n]
        else:
            with pytest.raises(Truncated):
                read_pcap(io.BytesIO(data[:n]))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"\x0a\x0d\x0d\x0a" + NS_HEADER_LE[4:], "magic"),  # pcapng
        (NS_HEADER_LE[:4] + b"\x01\x00" + NS_HEADER_LE[6:], "version"),
        (NS_HEADER_LE + NS_RECORD_LE[:4] + b"\x00\xca\x9a\x3b" + NS_RECORD_LE[8:], "timestamp fraction"),
        (US_HEADER_BE + US_RECORD_BE[:4] + b"\x00\x0f\x42\x40" + US_RECORD_BE[8:], "timestamp fraction"),
        (NS_HEADER_LE + NS_RECORD_LE[:8] + b"\xff\xff\xff\xff" + NS_RECORD_LE[12:], "captured length"),
    ],
)
def test_malformed(data: bytes, field: str) -> None:
    with pytest.raises(Malformed) as info:
        read_pcap(io.BytesIO(data))
    assert info.value.field == field


# --- oracles ------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_decodes_our_pcap(tmp_path: Path) -> None:
    """tshark reads our file, finds the fields and agrees with every checksum."""
    path = tmp_path / "vectors.pcap"
    packets = [V.IPV4_ECHO, V.IPV4_ECHO_DOC, V.IPV4_ECHO_DF, V.IPV4_RR, V.IPV4_UNREACH_HOST]
    packets.append(V.IPV4_ECHO_HDR + V.ECHO_REQ_BAD_CSUM)
    path.write_bytes(written([(TS_NS + i, p) for i, p in enumerate(packets)]))
    fields = [
        "frame.time_epoch",
        "ip.src",
        "ip.hdr_len",
        "ip.checksum.status",
        "icmp.type",
        "icmp.checksum.status",
    ]
    result = subprocess.run(
        ["tshark", "-n", "-o", "ip.check_checksum:TRUE", "-r", str(path), "-T", "fields"]
        + [arg for f in fields for arg in ("-e", f)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    # Outer (and, for the error, quoted) values are comma-separated; status 1 good, 0 bad, 2 not checked.
    assert rows == [
        ["1700000000.123456789", "192.168.50.161", "20", "1", "8", "1"],
        ["1700000000.123456790", "192.0.2.1", "20", "1", "8", "1"],
        ["1700000000.123456791", "192.168.50.161", "20", "1", "8", "1"],
        ["1700000000.123456792", "192.168.50.161", "32", "1", "8", "1"],
        ["1700000000.123456793", "192.168.50.1,192.168.50.161", "20,20", "1,1", "3,8", "1,2"],
        ["1700000000.123456794", "192.168.50.161", "20", "1", "8", "0"],
    ]


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed")
def test_read_what_tcpdump_writes(tmp_path: Path) -> None:
    """tcpdump rewrites our nanosecond file as a microsecond one; we read both."""
    ours = tmp_path / "ours.pcap"
    theirs = tmp_path / "theirs.pcap"
    ours.write_bytes(written([(TS_NS, V.ETH_ECHO), (TS_NS + 1000, V.ETH_ARP_REQ)], LINKTYPE_ETHERNET))
    subprocess.run(
        ["tcpdump", "-r", str(ours), "-w", str(theirs)], capture_output=True, timeout=60, check=True
    )
    pcap = read_pcap(io.BytesIO(theirs.read_bytes()))
    assert pcap.linktype == LINKTYPE_ETHERNET
    assert not pcap.nanosecond
    assert pcap.records == [
        PcapRecord(TS_NS // 1000 * 1000, V.ETH_ECHO, len(V.ETH_ECHO)),
        PcapRecord((TS_NS + 1000) // 1000 * 1000, V.ETH_ARP_REQ, 60),
    ]


def test_record_header_len() -> None:
    assert (FILE_HEADER_LEN, RECORD_HEADER_LEN) == (24, 16)
