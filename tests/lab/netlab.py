"""A real network of Linux namespaces for tests and benchmarks.

Topology (addresses only from the documentation and benchmarking ranges)::

    client                      router                         server
    veth c0 192.0.2.2/24  ---  r0 192.0.2.1/24
            2001:db8:1::2/64       2001:db8:1::1/64
                               r1 198.51.100.1/24  ---  s0 198.51.100.2/24
                                  2001:db8:2::1/64          2001:db8:2::2/64
                                                        lo: local 198.18.0.0/15 and 2001:2::/48
                                                            (every address in them answers)

The client's only routes lead into the lab: 192.0.2.0/24 and 2001:db8:1::/64 on-link, and
198.51.100.0/24, 203.0.113.0/24, 198.18.0.0/15, 2001:db8:2::/64, 2001:2::/48 and
2001:db8:ff::/48 via the router. The router has no route for 203.0.113.0/24 or 2001:db8:ff::/48,
so probes there come back as Destination Net Unreachable (IPv6: "No route"). Nothing here can
reach the outside. Duplicate address detection is off in every namespace (RFC 4862 DAD would
leave addresses, link-local ones included, unusable for a second after they are added).

Every resource is registered for teardown the moment it is created, so a failing test still
leaves no namespace behind.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

_counter = itertools.count()

CLIENT_IP = "192.0.2.2"
ROUTER_CLIENT_IP = "192.0.2.1"
ROUTER_SERVER_IP = "198.51.100.1"
SERVER_IP = "198.51.100.2"
ABSENT_ON_LINK_IP = "192.0.2.99"  # nobody answers ARP for it
UNROUTED_IP = "203.0.113.7"  # the router has no route for 203.0.113.0/24
SWEEP_RANGE = "198.18.0.0/15"  # the server answers for every address in it

CLIENT_IP6 = "2001:db8:1::2"
ROUTER_CLIENT_IP6 = "2001:db8:1::1"
ROUTER_SERVER_IP6 = "2001:db8:2::1"
SERVER_IP6 = "2001:db8:2::2"
ABSENT_ON_LINK_IP6 = "2001:db8:1::99"  # nobody answers neighbour solicitations for it
UNROUTED_IP6 = "2001:db8:ff::7"  # the router has no route for 2001:db8:ff::/48
SWEEP_RANGE6 = "2001:2::/48"  # RFC 5180 benchmarking prefix; the server answers for all of it


def sh(*argv: str, check: bool = True, timeout: float = 30, input: str | None = None) -> str:
    """Run a command and return its stdout; raise with its stderr on failure."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


@dataclass
class Lab:
    """Handles to a built lab; use :func:`build_lab` to get one."""

    prefix: str
    client: str
    router: str
    server: str
    client_if: str = "c0"
    router_client_if: str = "r0"
    router_server_if: str = "r1"
    server_if: str = "s0"
    _cleanup: list[list[str]] = field(default_factory=list)

    # -- helpers ---------------------------------------------------------------------------
    def ns_argv(self, ns: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def run(self, ns: str, *argv: str, check: bool = True, timeout: float = 30) -> str:
        return sh(*self.ns_argv(ns, *argv), check=check, timeout=timeout)

    def popen(self, ns: str, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[str]:
        return subprocess.Popen(self.ns_argv(ns, *argv), text=True, **kwargs)  # type: ignore[call-overload,no-any-return]

    def sysctl(self, ns: str, name: str, value: str) -> None:
        self.run(ns, "sysctl", "-qw", f"{name}={value}")

    def nft(self, ns: str, script: str) -> None:
        sh(*self.ns_argv(ns, "nft", "-f", "-"), input=script)

    def nft_flush(self, ns: str) -> None:
        self.run(ns, "nft", "flush", "ruleset")

    def mac(self, ns: str, ifname: str) -> str:
        import json

        return str(json.loads(self.run(ns, "ip", "-j", "link", "show", "dev", ifname))[0]["address"])

    def teardown(self) -> None:
        for argv in reversed(self._cleanup):
            subprocess.run(argv, capture_output=True, timeout=30)
        self._cleanup.clear()


def _add_ns(lab: Lab, name: str) -> None:
    sh("ip", "netns", "add", name)
    lab._cleanup.append(["ip", "netns", "del", name])
    # Before any interface exists, so that every one (and its link-local address) inherits it.
    for scope in ("all", "default"):
        lab.sysctl(name, f"net.ipv6.conf.{scope}.accept_dad", "0")
        lab.sysctl(name, f"net.ipv6.conf.{scope}.dad_transmits", "0")
        lab.sysctl(name, f"net.ipv6.conf.{scope}.accept_ra", "0")
    sh("ip", "-n", name, "link", "set", "lo", "up")


def _veth(lab: Lab, ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
    # Create inside ns_a so the host namespace never holds the pair, then move one end.
    sh("ip", "-n", ns_a, "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
    sh("ip", "-n", ns_a, "link", "set", if_a, "up")
    sh("ip", "-n", ns_b, "link", "set", if_b, "up")


def build_lab() -> Lab:
    """Build the client — router — server lab and return it (call ``teardown`` after)."""
    n = next(_counter)
    prefix = f"lp{os.getpid()}x{n}"
    lab = Lab(prefix=prefix, client=f"{prefix}c", router=f"{prefix}r", server=f"{prefix}s")
    try:
        for ns in (lab.client, lab.router, lab.server):
            _add_ns(lab, ns)
        _veth(lab, lab.client, lab.client_if, lab.router, lab.router_client_if)
        _veth(lab, lab.router, lab.router_server_if, lab.server, lab.server_if)
        sh("ip", "-n", lab.client, "addr", "add", f"{CLIENT_IP}/24", "dev", lab.client_if)
        sh("ip", "-n", lab.router, "addr", "add", f"{ROUTER_CLIENT_IP}/24", "dev", lab.router_client_if)
        sh("ip", "-n", lab.router, "addr", "add", f"{ROUTER_SERVER_IP}/24", "dev", lab.router_server_if)
        sh("ip", "-n", lab.server, "addr", "add", f"{SERVER_IP}/24", "dev", lab.server_if)
        for dst in ("198.51.100.0/24", "203.0.113.0/24", SWEEP_RANGE):
            sh("ip", "-n", lab.client, "route", "add", dst, "via", ROUTER_CLIENT_IP)
        sh("ip", "-n", lab.router, "route", "add", SWEEP_RANGE, "via", SERVER_IP)
        sh("ip", "-n", lab.server, "route", "add", "192.0.2.0/24", "via", ROUTER_SERVER_IP)
        sh("ip", "-n", lab.server, "route", "add", "local", SWEEP_RANGE, "dev", "lo")
        for ns, address, ifname in ((lab.client, CLIENT_IP6, lab.client_if),
                                    (lab.router, ROUTER_CLIENT_IP6, lab.router_client_if),
                                    (lab.router, ROUTER_SERVER_IP6, lab.router_server_if),
                                    (lab.server, SERVER_IP6, lab.server_if)):  # fmt: skip
            sh("ip", "-n", ns, "-6", "addr", "add", f"{address}/64", "dev", ifname, "nodad")
        for dst in ("2001:db8:2::/64", SWEEP_RANGE6, "2001:db8:ff::/48"):
            sh("ip", "-n", lab.client, "-6", "route", "add", dst, "via", ROUTER_CLIENT_IP6)
        sh("ip", "-n", lab.router, "-6", "route", "add", SWEEP_RANGE6, "via", SERVER_IP6)
        sh("ip", "-n", lab.server, "-6", "route", "add", "2001:db8:1::/64", "via", ROUTER_SERVER_IP6)
        sh("ip", "-n", lab.server, "-6", "route", "add", "local", SWEEP_RANGE6, "dev", "lo")
        lab.sysctl(lab.router, "net.ipv6.conf.all.forwarding", "1")
        lab.sysctl(lab.router, "net.ipv4.ip_forward", "1")
        for ns in (lab.client, lab.router, lab.server):
            # ICMP errors and echo replies must not be rate limited, or counts become flaky.
            lab.sysctl(ns, "net.ipv4.icmp_ratelimit", "0")
            # (icmp_msgs_per_sec=0 would mean "send none": raise the global budget instead.)
            lab.sysctl(ns, "net.ipv4.icmp_msgs_per_sec", "10000000")
            lab.sysctl(ns, "net.ipv4.icmp_msgs_burst", "10000000")
            lab.sysctl(ns, "net.ipv6.icmp.ratelimit", "0")
            # Allow every group to open ICMP datagram sockets (per-namespace setting).
            lab.sysctl(ns, "net.ipv4.ping_group_range", "0 2147483647")
        # Redirects from the router would muddle TTL and route tests.
        lab.sysctl(lab.router, "net.ipv4.conf.all.send_redirects", "0")
    except BaseException:
        lab.teardown()
        raise
    return lab


@contextmanager
def lab_context() -> Iterator[Lab]:
    lab = build_lab()
    try:
        yield lab
    finally:
        lab.teardown()


class Capture:
    """tcpdump in a namespace, started with --immediate-mode and waited for until it listens."""

    def __init__(self, lab: Lab, ns: str, ifname: str, path: str, bpf_filter: str = "icmp or arp",
                 snaplen: int = 0) -> None:
        self.path = path
        argv = ["tcpdump", "-i", ifname, "-U", "--immediate-mode", "-w", path]
        if snaplen:
            argv += ["-s", str(snaplen)]
        argv.append(bpf_filter)
        self.proc = lab.popen(ns, argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 10
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if "listening" in line or not line:
                break
        if "listening" not in line:
            self.proc.kill()
            raise RuntimeError(f"tcpdump did not start: {line!r}")

    def stop(self) -> str:
        """Stop the capture (after a short grace so the last packets land) and return the path."""
        time.sleep(0.2)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return self.path


def tshark_fields(path: str, display_filter: str, fields: Sequence[str]) -> list[list[str]]:
    """Rows of ``tshark -T fields`` for the packets of a capture that match a display filter."""
    # IPv4 header checksums are verified only when asked (ip.checksum.status is 2, unverified, else).
    argv = ["tshark", "-o", "ip.check_checksum:TRUE", "-r", path, "-Y", display_filter, "-T", "fields",
            "-E", "separator=\t"]  # fmt: skip
    for name in fields:
        argv += ["-e", name]
    out = sh(*argv)
    return [line.split("\t") for line in out.splitlines() if line]


def have_root() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None
