"""Bounded memory on any input (issue 15 §5): the targets and exclude files, and ``--decode-pcap``.

Each reader runs in a subprocess under an address-space limit (``RLIMIT_AS``, as ``ulimit -v``
sets it) and its peak RSS (``ru_maxrss`` from ``wait4``) is compared with a bound that does not
grow with the input: a reader that holds its whole input fails on both.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from layerping.wire.linktype import LINKTYPE_ETHERNET
from layerping.wire.pcap import FILE_HEADER_LEN, PcapWriter
from tests import vectors as v

#: The layerping the subprocesses run: this tree's (``pythonpath`` in pyproject.toml) by default.
SRC = Path(__file__).resolve().parents[2] / "src"
ADDRESS_SPACE_LIMIT = 200 * 1024 * 1024  # ulimit -v 204800
PEAK_RSS_BOUND_MB = 40  # the interpreter and the CLI imports are ~16-24 MB of it; main held 60 MB
#: An echo request frame with an Ethernet trailer to 1000 bytes (decoded as the frame without it).
FRAME = v.ETH_ECHO + bytes(1000 - len(v.ETH_ECHO))
STAMP = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} ")


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


#: Runs ``-m MODULE args`` or ``-c CODE args`` and, at exit (or ``os._exit``), writes the
#: process's own peak RSS (``VmHWM``, kB) to the file named by $HWM_FILE. Not ``ru_maxrss`` from
#: ``wait4``: a forked child's high-water mark starts at the parent's (pytest's) RSS and
#: survives ``exec``.
_WRAPPER = """
import atexit, os, runpy, sys
def report():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["HWM_FILE"], "w") as out:
        out.write(peak)
atexit.register(report)
_exit = os._exit
def reporting_exit(code):  # layerping's entry point ends with os._exit, which skips atexit
    report()
    _exit(code)
os._exit = reporting_exit
mode, what, *rest = sys.argv[1:]
if mode == "-m":
    sys.argv = [what, *rest]
    runpy.run_module(what, run_name="__main__", alter_sys=True)
else:
    sys.argv = ["-c", *rest]
    exec(compile(what, "<string>", "exec"), {"__name__": "__main__"})
"""


class Run(NamedTuple):
    status: int
    stamped: int  # stdout lines that start with a tcpdump timestamp, counted as they came
    head: list[str]  # the first stdout lines (the rest is counted, not held)
    err: str
    peak_mb: float  # the child's peak RSS


def run_limited(argv: list[str], tmp_path: Path) -> Run:
    """Run ``python3 argv`` with layerping's src under the address-space limit."""
    hwm_file = tmp_path / "vmhwm"
    env = dict(os.environ, PYTHONPATH=str(SRC), HWM_FILE=str(hwm_file))
    process = subprocess.Popen([sys.executable, "-c", _WRAPPER, *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, preexec_fn=_limit_address_space)  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    stamped = 0
    head: list[str] = []
    for raw in process.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        stamped += bool(STAMP.match(line))
        if len(head) < 10:
            head.append(line)
    err = process.stderr.read().decode("utf-8", "replace")  # stderr is a line or two: no deadlock
    status = process.wait(timeout=60)
    process.stdout.close()
    process.stderr.close()
    peak_mb = int(hwm_file.read_text()) / 1024 if hwm_file.exists() else float("inf")
    return Run(status, stamped, head, err, peak_mb)


def write_capture(path: Path, records: int) -> list[int]:
    """A capture of ``records`` Ethernet echo frames; the byte offset where each record starts."""
    offsets = []
    with open(path, "wb") as stream:
        writer = PcapWriter(stream, LINKTYPE_ETHERNET)
        for number in range(records):
            offsets.append(stream.tell())
            writer.write(1_700_000_000_000_000_000 + number * 1000, FRAME)
    assert offsets[0] == FILE_HEADER_LEN
    return offsets


def test_a_targets_file_without_line_ends_is_one_line_and_exit_2(tmp_path: Path) -> None:
    run = run_limited(["-m", "layerping", "--targets-file", "/dev/zero"], tmp_path)
    assert run.status == 2, run.err
    assert run.err.splitlines() == [
        "layerping: /dev/zero:1: line longer than 4096 characters: give one target per line in a text file"
    ]
    assert run.peak_mb < PEAK_RSS_BOUND_MB


def test_a_million_exclude_lines_are_held_as_merged_intervals(tmp_path: Path) -> None:
    path = tmp_path / "exclude.txt"
    base = 198 << 24 | 18 << 16  # 198.18.0.0/15: 131072 addresses, each excluded ~8 times over
    with open(path, "w") as stream:
        for number in range(1_000_000):
            address = base + (number * 7919) % (1 << 17)
            stream.write(f"{address >> 24}.{address >> 16 & 255}.{address >> 8 & 255}.{address & 255}\n")
    script = (
        "import sys\n"
        "from layerping.many import ManyConfig, target_stream\n"
        "config = ManyConfig(targets=('198.18.0.0/15', '192.0.2.1'), exclude_file=sys.argv[1])\n"
        "print(len(list(target_stream(config))))\n"
    )
    run = run_limited(["-c", script, str(path)], tmp_path)  # builds the target stream, sends nothing
    assert run.status == 0, run.err
    assert run.head == ["1"]  # only 192.0.2.1 is left
    assert run.peak_mb < PEAK_RSS_BOUND_MB


def test_decode_pcap_streams_a_large_capture(tmp_path: Path) -> None:
    path = tmp_path / "large.pcap"
    records = 40_000  # 40 MB of capture
    write_capture(path, records)
    run = run_limited(["-m", "layerping", "--decode-pcap", str(path)], tmp_path)
    assert run.status == 0 and run.err == ""
    assert run.stamped == records
    assert run.head[1].endswith("ICMP echo request, id 69, seq 420, length 12")
    assert run.peak_mb < PEAK_RSS_BOUND_MB


def test_a_cut_capture_prints_every_whole_record_then_one_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    offsets = write_capture(path, 5)
    data = path.read_bytes()
    path.write_bytes(data[: offsets[4] + 16 + 10])  # record 5: its header and 10 bytes of its frame
    run = run_limited(["-m", "layerping", "--decode-pcap", str(path)], tmp_path)
    assert run.status == 2 and run.stamped == 4
    assert run.err.splitlines() == [
        f"layerping: {path}: record 5 at byte {offsets[4]} is not whole: pcap: truncated, need "
        f"{len(FRAME)} bytes, got 10; decoding stops after 4 records"
    ]


def test_a_damaged_record_header_stops_the_decode_there(tmp_path: Path) -> None:
    path = tmp_path / "damaged.pcap"
    offsets = write_capture(path, 3)
    data = bytearray(path.read_bytes())
    data[offsets[1] + 8 : offsets[1] + 12] = (10_000_000).to_bytes(4, "little")  # captured length
    path.write_bytes(bytes(data))
    run = run_limited(["-m", "layerping", "--decode-pcap", str(path)], tmp_path)
    assert run.status == 2 and run.stamped == 1
    assert len(run.err.splitlines()) == 1
    assert f"record 2 at byte {offsets[1]} is not whole: pcap: bad captured length 10000000" in run.err


def test_an_empty_exclude_list_is_an_error_not_silence(capsys: pytest.CaptureFixture[str]) -> None:
    from layerping.cli import main

    for text in ("", " ", ",", " , "):
        assert main(["--exclude", text, "-c", "1", "127.0.0.1"]) == 2
        err = capsys.readouterr().err
        assert err.splitlines() == [
            f"layerping: argument --exclude: invalid exclude list {text!r}: "
            "give addresses, blocks or ranges: see `layerping -h`"
        ]
