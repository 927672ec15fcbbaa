#!/usr/bin/env python3
"""Start-to-exit time of a one-shot ``layerping -c 1 127.0.0.1`` against the interpreter and other pings.

Run as root: ``python3 bench/startup.py [--runs 15]``.

Builds its own namespace lab (tests/lab/netlab.py) and starts one timing process inside the
client namespace (this script with ``--inner``), so ``ip netns exec`` is paid once and not per
measurement. That process runs each command once to warm caches, then ``--runs`` rounds of
every command in turn, timing each from just before the spawn to the reaped exit:

* ``python3 -c pass`` (the floor for anything written in Python),
* ``python3 -m layerping -c 1 127.0.0.1`` and the ``layerping`` console script if on PATH,
* iputils ``ping -c 1 127.0.0.1``,
* one-ping scripts for icmplib, pythonping and scapy when they are installed.

Printed: median, min and max in ms, and the median minus ``python3 -c pass`` (the issue's
budget for layerping is ≤ ~30 ms over the interpreter). Then ``python3 -X importtime -m
layerping -V`` (and the same for ``-c 1 127.0.0.1``), medians of 5 runs: the 10 imports with the
largest cumulative time. No assertions: figures only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
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
from tests.lab.netlab import lab_context  # noqa: E402

TARGET = "127.0.0.1"
BUDGET_MS = 30

ONE_PING = {
    "icmplib": "from icmplib import ping\n"
               "raise SystemExit(0 if ping('127.0.0.1', count=1, privileged=True).is_alive else 1)\n",
    "pythonping": "from pythonping import ping\n"
                  "raise SystemExit(0 if ping('127.0.0.1', count=1, timeout=2).success() else 1)\n",
    "scapy": "from scapy.all import ICMP, IP, L3RawSocket, conf, sr1\n"
             "conf.L3socket = L3RawSocket  # loopback needs the raw IP socket\n"
             "raise SystemExit(0 if sr1(IP(dst='127.0.0.1') / ICMP(), timeout=2, verbose=0) else 1)\n",
}

_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


NO_PYC = "python3 -m layerping -c 1 (no .pyc)"


def commands(compare: list[str] | None = None) -> tuple[dict[str, list[str]], dict[str, str], list[str]]:
    """The commands to time, the PYTHONPATH override of those that run another src/, and notes."""
    py = sys.executable
    cmds = {
        "python3 -c pass": [py, "-c", "pass"],
        "python3 -m layerping -c 1": [py, "-m", "layerping", "-c", "1", TARGET],
        NO_PYC: [py, "-m", "layerping", "-c", "1", TARGET],
    }
    paths: dict[str, str] = {}
    for source in compare or ():  # another checkout's src/, e.g. the version before a change
        name = f"{Path(source).resolve().parent.name} -c 1"[:36]
        cmds[name] = [py, "-m", "layerping", "-c", "1", TARGET]
        paths[name] = str(Path(source).resolve())
    notes = []
    script = shutil.which("layerping")
    if script:
        cmds["layerping -c 1 (script)"] = [script, "-c", "1", TARGET]
    else:
        notes.append("the layerping console script is not on PATH, skipped")
    cmds["iputils ping -c 1"] = ["ping", "-c", "1", TARGET]
    for name, code in ONE_PING.items():
        if importlib.util.find_spec(name) is None:
            notes.append(f"{name}: not installed (pip install {name}), skipped")
        else:
            cmds[f"{name} one ping"] = [py, "-c", code]
    return cmds, paths, notes


# -- inside the namespace -----------------------------------------------------------------
def no_pyc_env() -> dict[str, str]:
    """The environment as this checkout runs without a bytecode cache: every module compiled each start."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def time_once(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, env=env)
    return time.perf_counter() - t0, proc.returncode, proc.stderr


def importtime(args: list[str], runs: int) -> dict[str, float]:
    """Median cumulative import time (µs) per module over several runs."""
    samples: dict[str, list[int]] = {}
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-X", "importtime", *args],
                              capture_output=True, text=True, timeout=30)
        for m in _IMPORTTIME.finditer(proc.stderr):
            samples.setdefault(m[4], []).append(int(m[2]))
    return {name: statistics.median(v) for name, v in samples.items()}


def command_env(name: str, paths: dict[str, str]) -> dict[str, str] | None:
    if name == NO_PYC:
        return no_pyc_env()
    if name in paths:
        return {**os.environ, "PYTHONPATH": paths[name]}
    return None


def inner(spec: dict[str, object]) -> None:
    cmds: dict[str, list[str]] = spec["cmds"]  # type: ignore[assignment]
    paths: dict[str, str] = spec["paths"]  # type: ignore[assignment]
    runs: int = spec["runs"]  # type: ignore[assignment]
    timeout: float = spec["timeout"]  # type: ignore[assignment]
    times: dict[str, list[float]] = {name: [] for name in cmds}
    failures: dict[str, str] = {}
    for name, argv in cmds.items():  # warm-up: .pyc files, page cache
        try:
            _, rc, err = time_once(argv, timeout, command_env(name, paths))
        except subprocess.TimeoutExpired:
            rc, err = -1, f"timed out after {timeout:.0f} s"
        if rc != 0:
            failures[name] = f"exit {rc}: {(err.strip().splitlines() or ['no message'])[-1]}"
    for _ in range(runs):
        for name, argv in cmds.items():
            if name in failures:
                continue
            try:
                wall, rc, err = time_once(argv, timeout, command_env(name, paths))
            except subprocess.TimeoutExpired:
                failures[name] = f"timed out after {timeout:.0f} s"
                continue
            if rc != 0:
                failures[name] = f"exit {rc}: {(err.strip().splitlines() or ['no message'])[-1]}"
                continue
            times[name].append(wall)
    result = {
        "times": times,
        "failures": failures,
        "importtime": {
            "-c pass": importtime(["-c", "pass"], 5),
            "-m layerping -V": importtime(["-m", "layerping", "-V"], 5),
            f"-m layerping -c 1 {TARGET}": importtime(["-m", "layerping", "-c", "1", TARGET], 5),
        },
    }
    print(json.dumps(result))


# -- outside ------------------------------------------------------------------------------
def report(result: dict[str, object], runs: int, notes: list[str]) -> None:
    times: dict[str, list[float]] = result["times"]  # type: ignore[assignment]
    failures: dict[str, str] = result["failures"]  # type: ignore[assignment]
    base = statistics.median(times["python3 -c pass"]) * 1000 if times.get("python3 -c pass") else None
    print(f"\nOne-shot start-to-exit time in ms, {runs} runs each inside the client namespace "
          f"(ping of {TARGET})")
    header = f"{'command':<36} {'median':>8} {'min':>8} {'max':>8} {'− python3 -c pass':>18}"
    print(header)
    print("-" * len(header))
    for name, values in times.items():
        if not values:
            continue
        ms = [v * 1000 for v in values]
        med = statistics.median(ms)
        extra = f"{med - base:>+18.1f}" if base is not None else f"{'-':>18}"
        print(f"{name:<36} {med:>8.1f} {min(ms):>8.1f} {max(ms):>8.1f} {extra}")
    lp = times.get("python3 -m layerping -c 1")
    if lp and base is not None:
        over = statistics.median(lp) * 1000 - base
        verdict = "met" if over <= BUDGET_MS else "NOT met"
        print(f"layerping over the interpreter: {over:.1f} ms vs budget ≤ {BUDGET_MS} ms: {verdict}")
    imports: dict[str, dict[str, float]] = result["importtime"]  # type: ignore[assignment]
    interpreter = imports.pop("-c pass")
    for args, table in imports.items():
        print(f"\npython3 -X importtime {args}: top 10 by cumulative µs (median of 5; "
              "* = python3 -c pass imports it too)")
        top = sorted(table.items(), key=lambda kv: kv[1], reverse=True)[:10]
        for name, us in top:
            print(f"  {us:>9,.0f} µs  {name}{' *' if name in interpreter else ''}")
    for name, why in failures.items():
        notes.append(f"{name}: {why}")
    for note in notes:
        print(f"note: {note}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="timed runs per command (default 15)")
    ap.add_argument("--timeout", type=float, default=30, help="seconds allowed per run (default 30)")
    ap.add_argument("--compare", action="append", metavar="SRC",
                    help="also time layerping from this src/ directory, in the same rounds")
    ap.add_argument("--inner", help=argparse.SUPPRESS)  # JSON spec: the timing process in the namespace
    args = ap.parse_args()
    if args.inner:
        inner(json.loads(args.inner))
        return 0
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if os.geteuid() != 0:
        print("startup.py needs root (network namespaces)", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    cmds, paths, notes = commands(args.compare)
    for source in args.compare or ():
        subprocess.run([sys.executable, "-m", "compileall", "-q", source], check=False,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    spec = json.dumps({"cmds": cmds, "paths": paths, "runs": args.runs, "timeout": args.timeout})
    budget = (len(cmds) + 2) * (args.runs + 1) * args.timeout
    with tempfile.TemporaryDirectory(prefix="lp-pyc-") as pycache, lab_context() as lab:
        # Installed packages come with .pyc files; this checkout may not (PYTHONDONTWRITEBYTECODE),
        # so every command gets a fresh bytecode cache outside the repository, filled by the warm-up.
        env = {k: v for k, v in tool.env().items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pycache
        proc = subprocess.run(lab.ns_argv(lab.client, sys.executable, str(Path(__file__).resolve()),
                                          "--inner", spec),
                              capture_output=True, text=True, timeout=budget, env=env)
    if proc.returncode != 0:
        print(f"timing process failed ({proc.returncode}): {proc.stderr.strip()[-500:]}", file=sys.stderr)
        return 1
    report(json.loads(proc.stdout), args.runs, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
