#!/usr/bin/env python3
"""RTT error of layerping (and iputils ping, icmplib) against the wire, with every core busy.

Run as root: ``python3 bench/rtt_accuracy.py [--count 500] [--interval 0.002] [--busy 2]``.

Builds its own namespace lab (tests/lab/netlab.py). Starts ``--busy`` busy-loop processes
(bounded: each stops by itself after ``--busy-seconds``, and is killed at the end anyway),
then for each tool in turn, inside the client namespace:

1. starts tcpdump on the client interface c0 with ``--immediate-mode`` and
   ``--time-stamp-precision nano`` and waits until it says "listening";
2. runs the tool: ``layerping -c N -i I``, iputils ``ping -c N -i I`` and a loop that does
   exactly what ``icmplib.ping()`` does (ICMPv4Socket, ``sleep(interval)``, RTT =
   ``reply.time - request.time``) but prints every reply as ``icmp_seq=S time=X ms``;
3. stops the capture and reads it with ``tshark -T fields -e frame.time_epoch -e icmp.type
   -e icmp.seq -e icmp.ident``; the wire RTT of a sequence number is the echo reply's capture
   time minus the echo request's, for the identifier the tool used (the one with most requests);
4. pairs each printed ``icmp_seq=S ... time=X ms`` with the wire RTT of S.

Printed per tool: replies paired, p50/p90/p99/max of |tool RTT − wire RTT| in ms, and the mean
signed error (positive: the tool reports more than the wire shows). The target for layerping is
p99 ≤ 0.1 ms. layerping and iputils print 3 decimals (whole microseconds), so up to 0.001 ms of
their error is rounding; icmplib's values are printed unrounded. No assertions: figures only.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lab import tool  # noqa: E402
from tests.lab.netlab import SERVER_IP, Lab, lab_context, tshark_fields  # noqa: E402

TARGET_P99_MS = 0.1

BUSY = """
import sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    pass
"""

ICMPLIB = """
import sys, time
from icmplib import ICMPLibError, ICMPRequest, ICMPv4Socket
from icmplib.utils import unique_identifier
target, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ident = unique_identifier()
# The body of icmplib.ping(), printing each reply instead of collecting the RTTs.
with ICMPv4Socket(None, True) as sock:
    for sequence in range(count):
        if sequence > 0:
            time.sleep(interval)
        request = ICMPRequest(destination=target, id=ident, sequence=sequence, payload_size=56)
        try:
            sock.send(request)
            reply = sock.receive(request, 1)
            reply.raise_for_status()
        except ICMPLibError:
            continue
        rtt = (reply.time - request.time) * 1000
        print(f"64 bytes from {reply.source}: icmp_seq={sequence} time={rtt:.6f} ms")
"""

_REPLY = re.compile(r"icmp_seq=(\d+)\b.*?\btime=([\d.]+) ms")


class NanoCapture:
    """tcpdump with nanosecond timestamps, started in a namespace and waited for until it listens."""

    def __init__(self, lab: Lab, ns: str, ifname: str, path: str) -> None:
        self.path = path
        argv = ["tcpdump", "-i", ifname, "-U", "--immediate-mode", "--time-stamp-precision", "nano",
                "-s", "128", "-w", path, "icmp"]
        self.proc = lab.popen(ns, argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 10
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if "listening" in line or not line:
                break
        if "listening" not in line:
            self.close()
            raise RuntimeError(f"tcpdump did not start: {line!r}")

    def close(self) -> str:
        """Stop the capture (after a grace period for the last packets) and return the path."""
        if self.proc.poll() is None:
            time.sleep(0.2)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        return self.path


def epoch_ns(text: str) -> int:
    """'1700000000.123456789' -> integer nanoseconds, without a float's rounding."""
    whole, _, frac = text.strip().partition(".")
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])


def wire_rtts(pcap: str) -> dict[int, float]:
    """seq -> wire RTT in ms for the identifier with the most echo requests in the capture."""
    rows = tshark_fields(pcap, "icmp.type == 8 || icmp.type == 0",
                         ["frame.time_epoch", "icmp.type", "icmp.seq", "icmp.ident"])
    requests: dict[tuple[int, int], int] = {}
    replies: dict[tuple[int, int], int] = {}
    for row in rows:
        if len(row) < 4 or not all(row):
            continue
        ts = epoch_ns(row[0])
        kind, seq, ident = (int(v.split(",")[0]) for v in row[1:4])
        key = (ident, seq)
        if kind == 8:
            requests.setdefault(key, ts)
        elif key in requests and key not in replies:
            replies[key] = ts  # the first reply after the request; later ones are duplicates
    if not requests:
        return {}
    idents = statistics.multimode(ident for ident, _ in requests)
    ident = idents[0]
    return {seq: (replies[(i, seq)] - requests[(i, seq)]) / 1e6
            for (i, seq) in requests if i == ident and (i, seq) in replies}


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def tools(count: int, interval: float, target: str) -> tuple[dict[str, list[str]], list[str]]:
    argvs = {
        "layerping": [sys.executable, "-m", "layerping", "-n", "-c", str(count), "-i", str(interval), target],
        "iputils ping": ["ping", "-n", "-c", str(count), "-i", str(interval), target],
    }
    notes = []
    if importlib.util.find_spec("icmplib") is None:
        notes.append("icmplib: not installed (pip install icmplib), skipped")
    else:
        argvs["icmplib"] = [sys.executable, "-c", ICMPLIB, target, str(count), str(interval)]
    return argvs, notes


def measure(lab: Lab, name: str, argv: list[str], workdir: str, timeout: float) -> tuple[list[float], str]:
    """Run one tool under capture; return its errors |tool − wire| (ms, signed) and a note."""
    pcap = os.path.join(workdir, f"{name.replace(' ', '_')}.pcap")
    cap = NanoCapture(lab, lab.client, lab.client_if, pcap)
    try:
        proc = subprocess.run(lab.ns_argv(lab.client, *argv), capture_output=True, text=True,
                              timeout=timeout, env=tool.env())
    finally:
        cap.close()
    printed = {int(m[1]): float(m[2]) for m in _REPLY.finditer(proc.stdout)}
    wire = wire_rtts(pcap)
    errors = [printed[seq] - wire[seq] for seq in printed if seq in wire]
    note = ""
    if proc.returncode not in (0, 1) or not printed:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        note = f"exit {proc.returncode}, {len(printed)} replies printed: {last}"
    elif len(errors) < len(printed):
        note = f"{len(printed) - len(errors)} printed replies had no request/reply pair in the capture"
    return errors, note


def start_busy(lab: Lab, n: int, seconds: float) -> list[subprocess.Popen[str]]:
    return [lab.popen(lab.client, [sys.executable, "-c", BUSY, str(seconds)]) for _ in range(n)]


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        p.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=500, help="echoes per tool (default 500)")
    ap.add_argument("--interval", type=float, default=0.002, help="seconds between echoes (default 0.002)")
    ap.add_argument("--busy", type=int, default=2, help="busy-loop processes (default 2; 0 = idle machine)")
    ap.add_argument("--busy-seconds", type=float, default=120,
                    help="each busy loop ends by itself after this long (default 120)")
    ap.add_argument("--target", default=SERVER_IP, help=f"address inside the lab (default {SERVER_IP})")
    ap.add_argument("--timeout", type=float, default=60, help="seconds allowed per tool run (default 60)")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if os.geteuid() != 0:
        print("rtt_accuracy.py needs root (network namespaces, tcpdump)", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    argvs, notes = tools(args.count, args.interval, args.target)
    results: dict[str, tuple[list[float], str]] = {}
    busy: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory(prefix="lp-rtt-") as workdir, lab_context() as lab:
        os.chmod(workdir, 0o777)  # tcpdump may drop to its own user before it opens the file
        try:
            # Warm up: ARP resolved, .pyc written, so the first probe of a run is not special.
            tool.run_ping(lab, "-c", "2", "-i", "0.2", args.target, timeout=10)
            tool.run_layerping(lab, "-c", "1", args.target, timeout=20)
            busy = start_busy(lab, args.busy, args.busy_seconds)
            time.sleep(0.5)  # let the loops get going
            for name, argv in argvs.items():
                if busy and any(p.poll() is not None for p in busy):
                    notes.append(f"busy loops ended before {name} (raise --busy-seconds)")
                try:
                    results[name] = measure(lab, name, argv, workdir, args.timeout)
                except subprocess.TimeoutExpired:
                    results[name] = ([], f"timed out after {args.timeout:.0f} s")
                print(f"  {name}: {len(results[name][0])} replies paired", file=sys.stderr, flush=True)
        finally:
            stop(busy)
    load = f"{args.busy} busy-loop processes on {os.cpu_count()} CPUs" if args.busy else "idle machine"
    print(f"\nRTT error |tool − wire| in ms, {args.count} echoes at -i {args.interval} to {args.target}, "
          f"{load}")
    header = f"{'tool':<14} {'paired':>7} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'mean signed':>12}"
    print(header)
    print("-" * len(header))
    for name, (errors, note) in results.items():
        if not errors:
            print(f"{name:<14} {0:>7}  no paired replies{': ' + note if note else ''}")
            continue
        abs_sorted = sorted(abs(e) for e in errors)
        cells = " ".join(f"{percentile(abs_sorted, p):>8.4f}" for p in (50, 90, 99))
        mean = statistics.fmean(errors)
        print(f"{name:<14} {len(errors):>7} {cells} {abs_sorted[-1]:>8.4f} {mean:>+12.4f}")
        if note:
            notes.append(f"{name}: {note}")
    lp = results.get("layerping")
    if lp and lp[0]:
        p99 = percentile(sorted(abs(e) for e in lp[0]), 99)
        verdict = "met" if p99 <= TARGET_P99_MS else "NOT met"
        print(f"layerping p99 {p99:.4f} ms vs target ≤ {TARGET_P99_MS} ms: {verdict}")
    print("layerping and iputils print whole microseconds (3 decimals); wire = capture on the client's c0.")
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
