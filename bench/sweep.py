#!/usr/bin/env python3
"""Subnet sweeps (issue 4 §3): layerping at each layer against fping, nmap, zmap, scapy, icmplib.

Run as root: ``python3 bench/sweep.py [--runs 3] [--blocks 20,16] [--no-slow] [--no-rss12]
[--compare OTHER/src]`` (``--compare`` adds rows for layerping run from another checkout, e.g.
``git archive HEAD src | tar -x -C /tmp/before``, to measure a change in the same rounds).

Builds its own namespace lab (tests/lab/netlab.py: the server answers for all of
198.18.0.0/15, ICMP rate limits are off) and sweeps each block from the client namespace with
every tool, in the same run, rounds interleaved so drift hits every tool alike. Each tool gets
its fastest settings as measured in this lab:

* ``layerping --layer L --alive -r 0 --rate 1e9 BLOCK`` for L in icmp, ip, ethernet (a layer
  that cannot sweep is reported, not fatal), and ``LAYERPING_SENDER=inline|thread`` for the
  icmp layer (who makes the ``sendmmsg`` calls, see transport/batch.py ``MmsgIcmpIO``; the
  command line's default at these rates is a forked sender process);
* ``fping -q -a -r0 -i 0 -g BLOCK``;
* ``nmap -sn -PE -n --min-rate 100000 --max-retries 0 BLOCK``;
* ``zmap -M icmp_echoscan -r 200000 -c 1`` (zmap waits a cooldown of at least 1 s; ``-r 0``
  loses a fifth of the hosts here), with an empty blacklist, from the client's veth;
* scapy ``sr()`` (L3RawSocket, threaded, timeout 1 s) on the /20 only: at ~150 probes/s a /16
  would take minutes (the issue measured 173 s);
* icmplib ``multiping(count=1, interval=0, timeout=1, privileged=True)`` with its default 50
  concurrent tasks (1000 and 4096 were slower here).

Printed per block and tool (medians over the runs): wall time (process start to exit),
CPU seconds (user + system of the process, from wait4), CPU µs per probe, peak RSS (ru_maxrss),
hosts found alive out of the block's hosts (CIDR tools skip the network and broadcast
addresses, nmap/zmap/scapy probe them too), and wall time relative to layerping at layer icmp.
Then layerping's peak RSS for a /16 and for a /12's worth of targets: only 198.18.0.0/15 may be
probed, so the /12 run streams that /15 eight times over (1 048 560 targets through one ring,
which is what memory depends on). No assertions: this prints figures.

The lab has ICMP rate limits off; Python files are byte-compiled first (``compileall``), as an
installed package would be.
"""

from __future__ import annotations

import argparse
import functools
import ipaddress
import json
import os
import shutil
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
from tests.lab.netlab import CLIENT_IP, ROUTER_CLIENT_IP, Lab, lab_context  # noqa: E402

TIME = "/usr/bin/time"  # GNU time, for the tool's own peak RSS

SCAPY = """
import sys
from scapy.all import ICMP, IP, L3RawSocket, conf, sr
conf.L3socket = L3RawSocket  # fastest measured: no scapy-side routing/ARP per packet
ans, _ = sr(IP(dst=sys.argv[1]) / ICMP(), timeout=1, verbose=0, threaded=True)
print(len({r[1].src for r in ans}))
"""

ICMPLIB = """
import ipaddress, sys
from icmplib import multiping
hosts = [str(h) for h in ipaddress.ip_network(sys.argv[1]).hosts()]
print(sum(h.is_alive for h in multiping(hosts, count=1, interval=0, timeout=1, privileged=True)))
"""


@dataclass
class Measured:
    wall_s: float
    cpu_s: float
    rss_kb: int
    alive: int
    status: int


@dataclass
class Tool:
    name: str
    argv: Callable[[str], list[str]]
    count: Callable[[str], int]  # stdout -> hosts found alive
    ends: bool = False  # probes the network and broadcast addresses too
    environment: dict[str, str] = field(default_factory=dict)
    only_blocks: tuple[int, ...] = ()
    note: str = ""
    runs: dict[str, list[Measured]] = field(default_factory=dict)
    failure: dict[str, str] = field(default_factory=dict)


def lines(stdout: str) -> int:
    return sum(1 for line in stdout.splitlines() if line.strip())


def last_int(stdout: str) -> int:
    return int(stdout.strip().splitlines()[-1])


def nmap_up(stdout: str) -> int:
    return sum(1 for line in stdout.splitlines() if "Status: Up" in line)


@functools.cache
def _base_env() -> dict[str, str]:
    """tool.env() once: its world-readable copy of src/, byte-compiled.

    tool.env() copies src/ without ``__pycache__`` at every call, and with
    PYTHONDONTWRITEBYTECODE set every layerping run would then compile every module it imports
    at start (tens of ms): not what an installed package does.
    """
    environment = tool.env()
    subprocess.run([sys.executable, "-m", "compileall", "-q", environment["PYTHONPATH"]], check=False,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return environment


def run_measured(lab: Lab, argv: list[str], timeout_s: float, extra_env: dict[str, str],
                 stdin: str | None = None) -> tuple[Measured, str, str]:  # fmt: skip
    """Run argv in the client namespace; wall time, CPU seconds and peak RSS of the tool.

    CPU comes from wait4 on ``ip netns exec`` (which execs ``/usr/bin/time``, which waits for
    the tool, so the tool's usage is included); peak RSS from GNU time's ``%M``, because a child
    forked from this (Python) process would report this process's size as its high-water mark.
    """
    environment = dict(_base_env())
    environment.update(extra_env)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.TemporaryFile("w+") as inp, tempfile.NamedTemporaryFile("r") as rss:  # fmt: skip
        if stdin is not None:
            inp.write(stdin)
            inp.seek(0)
        timed = [TIME, "-f", "%M", "-o", rss.name, *argv]
        start = time.perf_counter()
        proc = subprocess.Popen(lab.ns_argv(lab.client, *timed), stdin=inp, stdout=out, stderr=err, text=True,
                                env=environment)  # fmt: skip
        deadline = start + timeout_s
        status = None
        usage = None
        while time.perf_counter() < deadline:  # bounded: the tool is killed at the deadline
            pid, raw_status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(raw_status)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - start
        if status is None or usage is None:
            proc.kill()
            os.wait4(proc.pid, 0)
            proc.returncode = -9
            raise TimeoutError(f"timed out after {timeout_s:.0f} s")
        proc.returncode = status  # reaped here: keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        rss_lines = rss.read().split()
        peak_kb = int(rss_lines[-1]) if rss_lines and rss_lines[-1].isdigit() else 0
    return Measured(wall, usage.ru_utime + usage.ru_stime, peak_kb, 0, status), stdout, stderr


def gateway_mac(lab: Lab) -> str:
    lab.run(lab.client, "ping", "-c", "1", "-W", "1", ROUTER_CLIENT_IP, check=False)
    entries = json.loads(lab.run(lab.client, "ip", "-j", "neigh", "show", ROUTER_CLIENT_IP))
    return str(entries[0]["lladdr"])


def build_tools(lab: Lab, workdir: str, slow: bool,
                compare: list[str] | None = None) -> tuple[list[Tool], list[str]]:  # fmt: skip
    notes: list[str] = []
    python = sys.executable

    def layerping(layer: str) -> Callable[[str], list[str]]:
        options = ["--layer", layer, "--alive", "-r", "0", "--rate", "1e9", "-W", "1"]
        return lambda block: [python, "-m", "layerping", *options, block]

    tools = [Tool(f"layerping --layer {name}", layerping(name), lines) for name in ("icmp", "ip", "ethernet")]
    for mode in ("inline", "thread"):
        tools.append(Tool(f"layerping icmp, sender {mode}", layerping("icmp"), lines,
                          environment={"LAYERPING_SENDER": mode}))  # fmt: skip
    for source in compare or ():  # another checkout's src/, e.g. the version before a change
        label = Path(source).resolve().parent.name or source
        for name in ("icmp", "ip", "ethernet"):
            tools.append(Tool(f"{label} --layer {name}"[:30], layerping(name), lines,
                              environment={"PYTHONPATH": str(Path(source).resolve())}))  # fmt: skip
    tools.append(Tool("fping", lambda b: ["fping", "-q", "-a", "-r0", "-i", "0", "-g", b], lines))
    nmap = ["nmap", "-sn", "-PE", "-n", "--min-rate", "100000", "--max-retries", "0", "-oG", "-"]
    tools.append(Tool("nmap -sn -PE", lambda b: [*nmap, b], nmap_up, ends=True))
    if shutil.which("zmap"):
        blacklist = f"{workdir}/empty-blacklist.conf"
        Path(blacklist).write_text("")
        mac = gateway_mac(lab)
        output = f"{workdir}/zmap.out"

        def zmap(block: str) -> list[str]:
            command = (f"zmap -q -M icmp_echoscan -i {lab.client_if} -G {mac} -S {CLIENT_IP} -r 200000 "
                       f"-c 1 -b {blacklist} --disable-syslog -o {output} {block} && sort -u {output}")
            return ["sh", "-c", command]

        tools.append(Tool("zmap icmp_echoscan", zmap, lines, ends=True, note="-r 200000, cooldown 1 s"))
    else:
        notes.append("zmap: not installed, skipped")
    slow_tools = (("scapy sr()", "scapy", SCAPY, (20,)), ("icmplib multiping", "icmplib", ICMPLIB, ()))
    for name, module, source, blocks in slow_tools:
        try:
            __import__(module)
        except ImportError:
            notes.append(f"{name}: not installed (pip install {module}), skipped")
            continue
        ends = module == "scapy"
        tools.append(Tool(name, lambda b, s=source: [python, "-c", s, b], last_int, ends=ends,
                          only_blocks=blocks if slow else (-1,)))  # fmt: skip
    return tools, notes


def hosts(block: str, ends: bool) -> int:
    size = ipaddress.ip_network(block).num_addresses
    return size if ends or size <= 2 else size - 2


def measure(lab: Lab, tools: list[Tool], blocks: list[str], runs: int, timeout_s: float) -> None:
    for block in blocks:
        prefix = int(block.split("/")[1])
        usable = [t for t in tools if not t.only_blocks or prefix in t.only_blocks]
        for t in usable:  # a short trial: warm caches, drop what cannot run
            try:
                measured, out, err = run_measured(lab, t.argv("198.18.200.0/28"), 60, t.environment)
                if measured.status not in (0, 1):
                    raise RuntimeError((err.strip().splitlines() or [f"exit {measured.status}"])[-1])
            except Exception as exc:
                t.failure[block] = f"trial failed: {exc}"
        for r in range(runs):
            for t in usable:
                if block in t.failure:
                    continue
                try:
                    measured, out, err = run_measured(lab, t.argv(block), timeout_s, t.environment)
                    measured.alive = t.count(out)
                except Exception as exc:
                    t.failure[block] = f"run {r + 1}: {exc}"
                    continue
                t.runs.setdefault(block, []).append(measured)
                print(f"  {block} run {r + 1}/{runs} {t.name:<30} {measured.wall_s:7.3f} s  "
                      f"cpu {measured.cpu_s:6.2f} s  alive {measured.alive}/{hosts(block, t.ends)}",
                      file=sys.stderr, flush=True)  # fmt: skip


def report(tools: list[Tool], blocks: list[str], runs: int) -> None:
    for block in blocks:
        base = tools[0].runs.get(block)
        base_wall = statistics.median(m.wall_s for m in base) if base else None
        print(f"\n{block} ({runs} run(s), medians)")
        print(f"| {'tool':<30} | wall s | CPU s | CPU µs/probe | peak RSS MB | alive / hosts     "
              "| wall ÷ layerping |")
        print(f"|{'-' * 32}|-------:|------:|-------------:|------------:|{'-' * 19}|-----------------:|")
        for t in tools:
            measured = t.runs.get(block)
            if not measured:
                if block in t.failure:
                    print(f"| {t.name:<30} | {t.failure[block][:90]}")
                continue
            wall = statistics.median(m.wall_s for m in measured)
            cpu = statistics.median(m.cpu_s for m in measured)
            rss = statistics.median(m.rss_kb for m in measured) / 1024
            total = hosts(block, t.ends)
            alive = sorted(m.alive for m in measured)
            found = f"{alive[0]}" if alive[0] == alive[-1] else f"{alive[0]}-{alive[-1]}"
            ratio = f"{wall / base_wall:.2f}" if base_wall else "-"
            print(f"| {t.name:<30} | {wall:6.3f} | {cpu:5.2f} | {cpu / total * 1e6:12.2f} | {rss:11.1f} | "
                  f"{found + ' / ' + str(total):<17} | {ratio:>16} |")  # fmt: skip
        for t in tools:
            if t.note and t.runs.get(block):
                print(f"  {t.name}: {t.note}")


def rss_runs(lab: Lab, timeout_s: float, with_slash_12: bool) -> None:
    python = sys.executable
    argv = [python, "-m", "layerping", "--alive", "-r", "0", "--rate", "1e9", "-W", "1"]
    measured, out, _ = run_measured(lab, [*argv, "198.18.0.0/16"], timeout_s, {})
    print(f"\nlayerping peak RSS, /16 (65 534 targets): {measured.rss_kb / 1024:.1f} MB, "
          f"{lines(out)} alive, {measured.wall_s:.2f} s")
    if with_slash_12:
        stream = "198.18.0.0/15\n" * 8
        measured, out, _ = run_measured(lab, [*argv, "--targets-file", "-"], timeout_s * 4, {}, stdin=stream)
        print(f"layerping peak RSS, a /12's worth (198.18.0.0/15 x 8 = 1 048 560 targets): "
              f"{measured.rss_kb / 1024:.1f} MB, {lines(out)} alive, {measured.wall_s:.2f} s")
    baseline, _, _ = run_measured(lab, [python, "-c", "import layerping.multicli"], 60, {})
    print(f"(a Python interpreter with layerping imported: {baseline.rss_kb / 1024:.1f} MB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="rounds per block (medians are printed)")
    parser.add_argument("--blocks", default="20,16", help="prefix lengths of 198.18.0.0/N to sweep")
    parser.add_argument("--no-slow", action="store_true", help="leave out scapy and icmplib")
    parser.add_argument("--no-rss12", action="store_true", help="leave out the /12-sized RSS run")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one tool run may take")
    parser.add_argument("--compare", action="append", metavar="SRC",
                        help="also run layerping from this src/ directory, in the same rounds")  # fmt: skip
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/sweep.py needs root (network namespaces, raw sockets)", file=sys.stderr)
        return 2
    if not os.access(TIME, os.X_OK):
        print(f"bench/sweep.py needs GNU time at {TIME} (apt-get install time)", file=sys.stderr)
        return 2
    for source in [str(ROOT / "src"), *(args.compare or ())]:
        subprocess.run([sys.executable, "-m", "compileall", "-q", source], check=False,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    blocks = [f"198.18.0.0/{int(n)}" for n in args.blocks.split(",")]
    with lab_context() as lab, tempfile.TemporaryDirectory() as workdir:
        tools, notes = build_tools(lab, workdir, not args.no_slow, args.compare)
        measure(lab, tools, blocks, args.runs, args.timeout)
        report(tools, blocks, args.runs)
        for note in notes:
            print(f"note: {note}")
        rss_runs(lab, args.timeout, not args.no_rss12)
    return 0


if __name__ == "__main__":
    sys.exit(main())
