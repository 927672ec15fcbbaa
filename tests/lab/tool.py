"""Run the real ``layerping`` (and iputils ``ping``) inside a lab namespace."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.lab.netlab import Lab

SRC = str(Path(__file__).resolve().parents[2] / "src")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    e["PYTHONPATH"] = SRC
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
