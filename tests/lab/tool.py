"""Run the real ``layerping`` (and iputils ``ping``) inside a lab namespace."""

from __future__ import annotations

import atexit
import compileall
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.lab.netlab import Lab

SRC = str(Path(__file__).resolve().parents[2] / "src")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@functools.cache
def readable_src() -> str:
    """A copy of ``src`` that an ordinary user can read.

    A checkout may sit in a directory only root can enter (``mktemp -d`` makes them mode 700,
    and so may CI), so the unprivileged runs import layerping from a world-readable copy.
    """
    root = tempfile.mkdtemp(prefix="layerping-src-")
    atexit.register(shutil.rmtree, root, True)
    shutil.copytree(SRC, f"{root}/src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    # Compile once: this environment may set PYTHONDONTWRITEBYTECODE, and every run would
    # otherwise compile layerping again (tens of ms a run, and noise in anything timed).
    compileall.compile_dir(f"{root}/src", quiet=1)
    for directory, _subdirs, files in os.walk(root):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)
    return f"{root}/src"


def env() -> dict[str, str]:
    """The environment for layerping runs: this checkout's code, readable by every user."""
    e = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    e["PYTHONPATH"] = readable_src()
    return e


def layerping_argv(lab: Lab, *args: str, as_nobody: bool = False, ns: str | None = None) -> list[str]:
    prefix = NOBODY if as_nobody else []
    return lab.ns_argv(ns or lab.client, *prefix, sys.executable, "-m", "layerping", *args)


def run_layerping(
    lab: Lab, *args: str, as_nobody: bool = False, timeout: float = 60, ns: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        layerping_argv(lab, *args, as_nobody=as_nobody, ns=ns),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(),
    )


def run_ping(lab: Lab, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        lab.ns_argv(lab.client, "ping", *args), capture_output=True, text=True, timeout=timeout
    )


@dataclass
class Summary:
    transmitted: int
    received: int
    duplicates: int
    corrupted: int
    errors: int
    loss: str


_SUMMARY = re.compile(
    r"(?P<tx>\d+) packets transmitted, (?P<rx>\d+) received"
    r"(?:, \+(?P<dup>\d+) duplicates)?(?:, \+(?P<bad>\d+) corrupted)?(?:, \+(?P<err>\d+) errors)?"
    r", (?P<loss>[\d.]+)% packet loss"
)


def summary(stdout: str) -> Summary:
    m = _SUMMARY.search(stdout)
    assert m, f"no summary line in:\n{stdout}"
    return Summary(
        int(m["tx"]), int(m["rx"]), int(m["dup"] or 0), int(m["bad"] or 0), int(m["err"] or 0), m["loss"]
    )


def reply_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if " bytes from " in line]
