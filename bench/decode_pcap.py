#!/usr/bin/env python3
"""``layerping --decode-pcap`` against ``tcpdump -r`` on one large capture: time and peak memory.

Run: ``python3 bench/decode_pcap.py [--size-mb 100] [--rounds 1] [--compare SRC]``.

Builds a capture of about ``--size-mb`` MB in a temporary directory by repeating the frames of
``tests/fixtures/*.pcap`` (echo requests and replies, ICMP errors, ARP), then runs each of

* ``layerping --decode-pcap FILE`` (what ``tcpdump -n -v -e -r`` prints) and with ``-X``,
* ``tcpdump -n -v -e -r FILE`` and ``tcpdump -n -r FILE`` (plain),
* with ``--compare SRC``, another checkout's layerping (``SRC`` is its ``src`` directory),

with stdout to /dev/null, and prints wall time and peak RSS (GNU time's ``%M``). The file is
deleted afterwards. No assertions: figures only. Needs ``/usr/bin/time``.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from layerping.wire.linktype import LINKTYPE_ETHERNET  # noqa: E402
from layerping.wire.pcap import FILE_HEADER_LEN, PcapWriter, read_pcap  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
TIME = "/usr/bin/time"  # GNU time, for the peak RSS


def build(path: Path, size_mb: float) -> int:
    """Write a capture of about ``size_mb`` MB from the fixtures' frames; return its record count.

    One round of every fixture frame is written with PcapWriter, then its records are repeated
    (timestamps repeat with them: nothing here depends on their order).
    """
    round_trip = io.BytesIO()
    writer = PcapWriter(round_trip, LINKTYPE_ETHERNET)
    per_round = 0
    for fixture in sorted(FIXTURES.glob("*.pcap")):
        with open(fixture, "rb") as stream:
            for record in read_pcap(stream).records:
                writer.write(record.ts_ns, record.data, record.orig_len)
                per_round += 1
    data = round_trip.getvalue()
    header, body = data[:FILE_HEADER_LEN], data[FILE_HEADER_LEN:]
    rounds = max(1, int(size_mb * 1_000_000) // len(body))
    with open(path, "wb") as stream:
        stream.write(header)
        for _ in range(rounds):
            stream.write(body)
    return rounds * per_round


def measure(argv: list[str], env: dict[str, str] | None, scratch: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB of one run, stdout and stderr discarded.

    The peak comes from GNU time (``/usr/bin/time -f %M``), a small process that forks the
    command: ``ru_maxrss`` of a child forked from this script starts at this script's RSS.
    """
    report = scratch / "maxrss"
    start = time.perf_counter()
    subprocess.run([TIME, "-f", "%M", "-o", str(report), *argv], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=env, check=False)  # fmt: skip
    elapsed = time.perf_counter() - start
    return elapsed, int(report.read_text().split()[-1]) / 1024


def main() -> None:
    if not os.path.exists(TIME):
        raise SystemExit(f"needs GNU time at {TIME} (apt install time)")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=100.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--compare", metavar="SRC", help="another checkout's src directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="layerping-bench-") as directory:
        path = Path(directory) / "big.pcap"
        count = build(path, args.size_mb)
        print(f"capture: {path.stat().st_size / 1e6:.1f} MB, {count} records")
        ours = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        decode = [sys.executable, "-m", "layerping", "--decode-pcap", str(path)]
        commands: list[tuple[str, list[str], dict[str, str] | None]] = [
            ("layerping --decode-pcap", decode, ours),
            ("layerping --decode-pcap -X", [*decode, "-X"], ours),
        ]
        if args.compare:
            commands.append(("compared --decode-pcap", decode, dict(os.environ, PYTHONPATH=args.compare)))
        if shutil.which("tcpdump"):
            for flags in (["-n", "-v", "-e"], ["-n", "-v", "-e", "-X"], ["-n"]):
                commands.append((f"tcpdump {' '.join(flags)} -r", ["tcpdump", *flags, "-r", str(path)], None))
        results: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in commands}
        for _ in range(args.rounds):
            for name, argv, env in commands:
                elapsed, rss_mb = measure(argv, env, Path(directory))
                results[name].append((elapsed, rss_mb))
        for name, runs in results.items():
            best = min(elapsed for elapsed, _ in runs)
            rss = max(rss for _, rss in runs)
            print(f"{name:<28} {best:7.2f} s  {rss:7.1f} MB peak RSS")


if __name__ == "__main__":
    main()
