#!/usr/bin/env python3
"""Echo rate of ``layerping -f`` against iputils ``ping -f`` and the Python ping libraries.

Run as root: ``python3 bench/flood_rate.py [--count 20000] [--slow-count 2000] [--runs 3]``.

Builds its own namespace lab (tests/lab/netlab.py) and runs every tool inside the client
namespace against the server 198.51.100.2 (one router hop away), in the same run, rounds
interleaved so drift hits every tool alike. Each tool gets its fastest settings and a 56-byte
payload (an ICMP message of 64 bytes):

* ``layerping -f -q -c N`` (and ``--layer ip`` / ``--layer ethernet`` when they work),
* iputils ``ping -f -q -c N``,
* pythonping ``ping(target, count=N, interval=0, timeout=1, size=56)``,
* icmplib ``ping(address, count=N, interval=0, privileged=True, timeout=1)``,
* scapy ``sr()`` of N packets (L3RawSocket, threaded, timeout=1) with the smaller ``--slow-count``.

A Python library that is not installed is skipped with a note. Printed per tool (medians of
the runs): packets/s over the process's wall time (start to exit, interpreter start included),
packets/s over the tool's own run time (the ``time Nms`` of the summary, or a clock around
the library call), CPU seconds of the process (user + system), replies received, and the
ratio of the wall rate to layerping's. No assertions: this prints figures.

``--profile`` also runs ``python3 -m cProfile -m layerping -f -q -c N`` in the namespace once
and prints the top functions by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lab import tool  # noqa: E402
from tests.lab.netlab import SERVER_IP, Lab, lab_context  # noqa: E402

PAYLOAD = 56

PYTHONPING = """
import json, sys, time
from pythonping import ping
target, n = sys.argv[1], int(sys.argv[2])
t = time.perf_counter()
r = ping(target, count=n, interval=0, timeout=1, size={payload})
loop = time.perf_counter() - t
print(json.dumps({{"received": sum(1 for x in r if x.success), "loop_s": loop}}))
"""

ICMPLIB = """
import json, sys, time
from icmplib import ping
target, n = sys.argv[1], int(sys.argv[2])
t = time.perf_counter()
h = ping(target, count=n, interval=0, privileged=True, timeout=1, payload_size={payload})
loop = time.perf_counter() - t
print(json.dumps({{"received": h.packets_received, "loop_s": loop}}))
"""

SCAPY = """
import json, sys, time
from scapy.all import ICMP, IP, L3RawSocket, Raw, conf, sr
target, n = sys.argv[1], int(sys.argv[2])
conf.L3socket = L3RawSocket  # fastest measured: no scapy-side routing/ARP per packet
t = time.perf_counter()
pkts = IP(dst=target) / ICMP(id=0x4C50, seq=(1, n)) / Raw(b"x" * {payload})
ans, _ = sr(pkts, timeout=1, verbose=0, threaded=True)
loop = time.perf_counter() - t
print(json.dumps({{"received": len(ans), "loop_s": loop}}))
"""

_TIME = re.compile(r"packets transmitted.*time (\d+)ms")


@dataclass
class Tool:
    name: str
    argv: Callable[[int, str], list[str]]
    count: int
    parse: Callable[[str], tuple[int, float | None]]  # stdout -> (received, in-run seconds)
    walls: list[float] = field(default_factory=list)
    loops: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    received: list[int] = field(default_factory=list)
    failure: str = ""
    environment: dict[str, str] = field(default_factory=dict)  # overrides, e.g. another src/


def parse_ping_summary(stdout: str) -> tuple[int, float | None]:
    received = tool.summary(stdout).received
    m = _TIME.search(stdout)
    return received, (int(m[1]) / 1000 if m else None)


def parse_json(stdout: str) -> tuple[int, float | None]:
    data = json.loads(stdout.strip().splitlines()[-1])
    return int(data["received"]), float(data["loop_s"])


def layerping(*extra: str) -> Callable[[int, str], list[str]]:
    return lambda n, target: [sys.executable, "-m", "layerping", *extra, "-f", "-q", "-c", str(n), target]


def pyscript(source: str) -> Callable[[int, str], list[str]]:
    code = source.format(payload=PAYLOAD)
    return lambda n, target: [sys.executable, "-c", code, target, str(n)]


def bench_env(pycache: str) -> dict[str, str]:
    """tests/lab/tool.py's environment with a bytecode cache outside the repository.

    Installed libraries come with .pyc files; a checkout run with PYTHONDONTWRITEBYTECODE would
    compile layerping at every start, which is not what users of an installed layerping pay.
    """
    env = {k: v for k, v in tool.env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


ENV: dict[str, str] = {}


def run_once(lab: Lab, argv: list[str], timeout: float,
             environment: dict[str, str] | None = None) -> tuple[float, float, str, str, int]:  # fmt: skip
    """Run argv in the client namespace; return (wall s, CPU s, stdout, stderr, exit status)."""
    env = {**(ENV or tool.env()), **(environment or {})}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(lab.ns_argv(lab.client, *argv), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out, err, proc.returncode


def build_tools(args: argparse.Namespace) -> tuple[list[Tool], list[str]]:
    notes: list[str] = []
    n, slow = args.count, args.slow_count
    tools = [
        Tool("layerping", layerping(), n, parse_ping_summary),
        Tool("layerping --layer ip", layerping("--layer", "ip"), n, parse_ping_summary),
        Tool("layerping --layer ethernet", layerping("--layer", "ethernet"), n, parse_ping_summary),
        Tool("iputils ping -f", lambda n, t: ["ping", "-f", "-q", "-c", str(n), t], n, parse_ping_summary),
    ]
    for source in args.compare or ():  # another checkout's src/, e.g. the version before a change
        label = Path(source).resolve().parent.name or source
        override = {"PYTHONPATH": str(Path(source).resolve())}
        for layer_name in ("icmp", "ip", "ethernet"):
            extra = ("--layer", layer_name)
            tools.append(Tool(f"{label} --layer {layer_name}"[:27], layerping(*extra), n, parse_ping_summary,
                              environment=override))  # fmt: skip
    for name, module, source, count in (
        ("pythonping", "pythonping", PYTHONPING, n),
        ("icmplib", "icmplib", ICMPLIB, n),
        ("scapy sr()", "scapy", SCAPY, slow),
    ):
        if importlib.util.find_spec(module) is None:
            notes.append(f"{name}: not installed (pip install {module}), skipped")
        else:
            tools.append(Tool(name, pyscript(source), count, parse_json))
    return tools, notes


def probe(lab: Lab, tools: list[Tool], target: str, timeout: float, notes: list[str]) -> list[Tool]:
    """Warm caches (ARP, .pyc) and drop the tools that fail on a short run."""
    usable = []
    for t in tools:
        try:
            _, _, out, err, rc = run_once(lab, t.argv(50, target), timeout, t.environment)
            if rc != 0:
                raise RuntimeError(f"exit {rc}: {(err.strip().splitlines() or ['no message'])[-1]}")
            t.parse(out)
        except Exception as exc:  # a broken tool is a note, not the end of the benchmark
            notes.append(f"{t.name}: skipped, a 50-packet trial failed ({exc})")
            continue
        usable.append(t)
    return usable


def measure(lab: Lab, tools: list[Tool], target: str, runs: int, timeout: float) -> None:
    for r in range(runs):
        for t in tools:
            if t.failure:
                continue
            try:
                wall, cpu, out, err, rc = run_once(lab, t.argv(t.count, target), timeout, t.environment)
                received, loop = t.parse(out)
            except subprocess.TimeoutExpired:
                t.failure = f"run {r + 1} timed out after {timeout:.0f} s"
                continue
            except Exception as exc:
                t.failure = f"run {r + 1} failed: {exc}"
                continue
            if rc != 0:
                t.failure = f"run {r + 1} exited {rc}: {err.strip()[-200:]}"
                continue
            t.walls.append(wall)
            t.cpus.append(cpu)
            t.received.append(received)
            if loop:
                t.loops.append(loop)
            print(f"  run {r + 1}/{runs} {t.name:<27} {t.count / wall:>9,.0f} pkt/s  "
                  f"cpu {cpu:6.2f} s  received {received}/{t.count}", file=sys.stderr, flush=True)


def report(tools: list[Tool], notes: list[str], target: str, runs: int) -> None:
    done = [t for t in tools if t.walls]
    base = next((t for t in done if t.name == "layerping"), None)
    base_rate = base.count / statistics.median(base.walls) if base else None
    print(f"\nEcho rate to {target} (client namespace, one router hop), medians of {runs} runs, "
          f"{PAYLOAD}-byte payload, {os.cpu_count()} CPUs")
    header = (f"{'tool':<27} {'N':>6} {'pkt/s wall':>11} {'pkt/s run':>10} {'CPU s':>7} "
              f"{'µs CPU/pkt':>10} {'received':>9} {'× layerping':>11}")
    print(header)
    print("-" * len(header))
    for t in done:
        wall = statistics.median(t.walls)
        rate = t.count / wall
        loop = f"{t.count / statistics.median(t.loops):>10,.0f}" if t.loops else f"{'-':>10}"
        cpu = statistics.median(t.cpus)
        ratio = f"{rate / base_rate:>10.2f}×" if base_rate else f"{'-':>11}"
        received = f"{min(t.received)}/{t.count}" if min(t.received) < t.count else "all"
        print(f"{t.name:<27} {t.count:>6} {rate:>11,.0f} {loop} {cpu:>7.2f} "
              f"{cpu / t.count * 1e6:>10.1f} {received:>9} {ratio}")
    print("pkt/s wall = N / process wall time (interpreter start included); pkt/s run = N / the "
          "tool's own run time\n(summary 'time Nms' for the ping CLIs, a clock around the call for "
          "the libraries); CPU s = user + system.")
    iputils = next((t for t in done if t.name.startswith("iputils")), None)
    if base_rate and iputils:
        ratio = base_rate / (iputils.count / statistics.median(iputils.walls))
        print(f"layerping / iputils ping -f: {ratio:.2f}")
    if base_rate:
        py = [t for t in done if not t.name.startswith(("layerping", "iputils"))]
        slower = [t.name for t in py if t.count / statistics.median(t.walls) >= base_rate]
        if py:
            print("layerping beats every Python tool (wall rate): "
                  + ("yes" if not slower else f"NO, not {', '.join(slower)}"))
    for t in tools:
        if t.failure:
            notes.append(f"{t.name}: {t.failure}")
    for note in notes:
        print(f"note: {note}")


def profile(lab: Lab, count: int, target: str, timeout: float, top: int) -> None:
    """cProfile one flood run inside the namespace and print the hotspots."""
    code = (
        "import cProfile, pstats, runpy, sys\n"
        "top = int(sys.argv[3])\n"
        "sys.argv = ['layerping', '-f', '-q', '-c', sys.argv[1], sys.argv[2]]\n"
        "p = cProfile.Profile()\n"
        "try:\n"
        "    p.runcall(runpy.run_module, 'layerping', run_name='__main__', alter_sys=True)\n"
        "except SystemExit:\n"
        "    pass\n"
        "for key in ('cumulative', 'tottime'):\n"
        "    print('--- top', top, 'by', key, '---', flush=True)\n"
        "    pstats.Stats(p, stream=sys.stdout).strip_dirs().sort_stats(key).print_stats(top)\n"
    )
    print(f"\ncProfile of layerping -f -q -c {count} {target}:")
    _, _, out, err, rc = run_once(lab, [sys.executable, "-c", code, str(count), target, str(top)], timeout)
    print("\n".join(line for line in out.splitlines() if line.strip()))
    if rc != 0:
        print(f"(exit {rc}: {err.strip()[-300:]})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=20000, help="echoes per run (default 20000)")
    ap.add_argument("--slow-count", type=int, default=2000, help="echoes per run for scapy (default 2000)")
    ap.add_argument("--runs", type=int, default=3, help="runs per tool; medians are printed (default 3)")
    ap.add_argument("--target", default=SERVER_IP, help=f"address inside the lab (default {SERVER_IP})")
    ap.add_argument("--timeout", type=float, default=120, help="seconds allowed per run (default 120)")
    ap.add_argument("--profile", action="store_true", help="also cProfile one layerping flood run")
    ap.add_argument("--profile-top", type=int, default=20, help="rows of the profile (default 20)")
    ap.add_argument("--compare", action="append", metavar="SRC",
                    help="also run layerping from this src/ directory, in the same rounds")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if os.geteuid() != 0:
        print("flood_rate.py needs root (network namespaces, flood ping)", file=sys.stderr)
        return 2
    # SIGTERM/SIGHUP unwind like Ctrl-C, so the lab is torn down.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    tools, notes = build_tools(args)
    with tempfile.TemporaryDirectory(prefix="lp-pyc-") as pycache, lab_context() as lab:
        ENV.update(bench_env(pycache))
        usable = probe(lab, tools, args.target, args.timeout, notes)
        measure(lab, usable, args.target, args.runs, args.timeout)
        report(tools, notes, args.target, args.runs)
        if args.profile:
            profile(lab, args.count, args.target, args.timeout, args.profile_top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
