"""Layers ip and ethernet on a real kernel: issue 3, section 4.

Every run is the real CLI (``python3 -m layerping``) inside the lab's client namespace, so
nothing leaves namespaces these tests created. Captures (tcpdump) on the router's and the
server's side, read with tshark, are the oracle for what went on the wire; ``ip -j`` is the
oracle for detection. The client's ARP timing is shortened through its own neighbour sysctls
(mcast_solicit, retrans_time_ms), which layerping reads like the kernel does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab.netlab import (
    ABSENT_ON_LINK_IP,
    CLIENT_IP,
    ROUTER_CLIENT_IP,
    ROUTER_SERVER_IP,
    SERVER_IP,
    UNROUTED_IP,
    Capture,
    Lab,
    sh,
)

pytestmark = pytest.mark.lab

SRC = str(Path(__file__).resolve().parents[2] / "src")
LINK_LAYERS = ("ip", "ethernet")
ALL_LAYERS = ("icmp", "ip", "ethernet")
ARP_INTERVAL_MS = 200  # the client's retrans_time_ms in these tests: ARP gives up in 0.6 s
SPOOFED_MAC = "02:00:00:00:00:aa"
BOGUS_MAC = "02:00:00:00:00:01"

_SUMMARY = re.compile(
    r"(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?(?:, \+(\d+) corrupted)?"
    r"(?:, \+(\d+) errors)?"
)


@dataclass(frozen=True)
class Run:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def counts(self) -> dict[str, int]:
        match = _SUMMARY.search(self.stdout)
        assert match is not None, f"no summary in {self.stdout!r} (stderr {self.stderr!r})"
        keys = ("transmitted", "received", "duplicates", "corrupted", "errors")
        return {k: int(v or 0) for k, v in zip(keys, match.groups(), strict=True)}

    def __str__(self) -> str:
        return f"{' '.join(self.argv)} -> {self.returncode}\n{self.stdout}\n{self.stderr}"


def layerping_argv(lab: Lab, ns: str, args: Sequence[str]) -> list[str]:
    return lab.ns_argv(ns, "env", f"PYTHONPATH={SRC}", sys.executable, "-m", "layerping", *args)


def layerping(lab: Lab, *args: str, ns: str | None = None, timeout: float = 60) -> Run:
    """Run the CLI in the client namespace (or ``ns``) and collect what it printed."""
    argv = layerping_argv(lab, ns or lab.client, args)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return Run(list(args), proc.returncode, proc.stdout, proc.stderr)


def tshark(path: str, display_filter: str, fields: Sequence[str]) -> list[list[str]]:
    """``tshark -T fields`` with IPv4 header checksums verified (off by default in tshark)."""
    argv = [
        "tshark",
        "-o",
        "ip.check_checksum:TRUE",
        "-r",
        path,
        "-Y",
        display_filter,
        "-T",
        "fields",
        "-E",
        "separator=\t",
    ]
    for name in fields:
        argv += ["-e", name]
    out = sh(*argv)
    return [line.split("\t") for line in out.splitlines() if line]


def ip_json(lab: Lab, ns: str, *args: str) -> list[dict[str, object]]:
    out = lab.run(ns, "ip", "-j", *args).strip()
    return json.loads(out) if out else []  # type: ignore[no-any-return]


def one_error_line(run: Run) -> str:
    assert run.returncode == 2, str(run)
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerping: "), str(run)
    assert "Traceback" not in run.stderr
    return lines[0]


def fast_arp(lab: Lab) -> None:
    lab.sysctl(lab.client, f"net.ipv4.neigh.{lab.client_if}.mcast_solicit", "3")
    lab.sysctl(lab.client, f"net.ipv4.neigh.{lab.client_if}.retrans_time_ms", str(ARP_INTERVAL_MS))


@pytest.fixture
def client_lab(lab: Lab) -> Lab:
    fast_arp(lab)
    return lab


@pytest.fixture(scope="module")
def shared(shared_lab: Lab) -> Lab:
    fast_arp(shared_lab)
    return shared_lab


# --- 1. to the server beyond the router, after flushing the client's neighbour table ------------


@pytest.mark.parametrize("layer", LINK_LAYERS)
def test_remote_target_after_neighbour_flush(client_lab: Lab, tmp_path: Path, layer: str) -> None:
    lab = client_lab
    lab.run(lab.client, "ip", "neigh", "flush", "dev", lab.client_if)
    lab.run(lab.router, "ip", "neigh", "flush", "dev", lab.router_client_if)
    client_mac = lab.mac(lab.client, lab.client_if)
    router_mac = lab.mac(lab.router, lab.router_client_if)
    router_side = Capture(lab, lab.router, lab.router_client_if, str(tmp_path / "r0.pcap"))
    server_side = Capture(lab, lab.server, lab.server_if, str(tmp_path / "s0.pcap"), "icmp")
    try:
        run = layerping(lab, "--layer", layer, "-c", "3", "-i", "0.2", SERVER_IP)
    finally:
        r0 = router_side.stop()
        s0 = server_side.stop()
    assert run.returncode == 0, str(run)
    # The kernel never resolved the router (no entry at all, not even INCOMPLETE): the ARP
    # request below was layerping's own, and the kernel's table was left alone.
    assert ip_json(lab, lab.client, "neigh", "show", "to", ROUTER_CLIENT_IP, "dev", lab.client_if) == []
    assert run.counts == {"transmitted": 3, "received": 3, "duplicates": 0, "corrupted": 0, "errors": 0}
    for seq in (1, 2, 3):
        assert re.search(
            rf"^64 bytes from {SERVER_IP}: icmp_seq={seq} ttl=63 time=[\d.]+ ms$", run.stdout, re.M
        )

    # Our ARP request: from the client's MAC, for the router's address, before any echo request.
    arp = tshark(
        r0,
        "arp.opcode == 1 && arp.src.proto_ipv4 == 192.0.2.2",
        ["frame.number", "eth.src", "arp.src.hw_mac", "arp.dst.proto_ipv4"],
    )
    assert arp, "no ARP request from the client on the router's side"
    assert all(row[1:] == [client_mac, client_mac, ROUTER_CLIENT_IP] for row in arp), arp
    requests_r0 = tshark(
        r0,
        f"icmp.type == 8 && ip.dst == {SERVER_IP}",
        [
            "frame.number",
            "eth.src",
            "eth.dst",
            "ip.src",
            "ip.ttl",
            "ip.checksum.status",
            "icmp.checksum.status",
            "ip.flags.df",
            "ip.id",
        ],
    )
    assert len(requests_r0) == 3
    assert int(arp[0][0]) < int(requests_r0[0][0]), "echo request before our ARP request"
    # Detection on the wire: our MAC (ip -j link), the router's MAC, the route's source address.
    assert {tuple(row[1:4]) for row in requests_r0} == {(client_mac, router_mac, CLIENT_IP)}
    assert {row[4] for row in requests_r0} == {"64"}
    assert len({row[8] for row in requests_r0}) == 3, "identification must change per packet"
    assert {row[7] for row in requests_r0} == {"1"}  # DF, as the kernel sets for ping by default

    # On the server's side: valid IP and ICMP checksums (tshark: 1 = good), TTL one less.
    requests_s0 = tshark(
        s0,
        f"icmp.type == 8 && ip.src == {CLIENT_IP}",
        ["ip.ttl", "ip.checksum.status", "icmp.checksum.status"],
    )
    assert requests_s0 == [["63", "1", "1"]] * 3


# --- 2. detection equals ip -j -------------------------------------------------------------------

_PLAN_SNIPPET = """
import json, sys
from ipaddress import IPv4Address
from layerping.discovery.plan import plan_path
p = plan_path(IPv4Address(sys.argv[1]), interface=sys.argv[2] or None)
print(json.dumps({"ifname": p.ifname, "source": str(p.source), "gateway": p.gateway and str(p.gateway),
    "src_mac": p.src_mac and p.src_mac.hex(":"), "next_hop": str(p.next_hop),
    "next_hop_mac": p.next_hop_mac and p.next_hop_mac.hex(":"), "mtu": p.mtu}))
"""


@pytest.mark.parametrize(
    "destination,interface",
    [(ROUTER_CLIENT_IP, ""), (SERVER_IP, ""), (SERVER_IP, "c0"), ("198.18.0.9", "c0")],
)
def test_detection_equals_ip_json(shared: Lab, destination: str, interface: str) -> None:
    lab = shared
    # Let the kernel resolve the router first so `ip -j neigh` has an entry to compare with.
    lab.run(lab.client, "ping", "-c", "1", "-W", "2", ROUTER_CLIENT_IP)
    argv = lab.ns_argv(
        lab.client, "env", f"PYTHONPATH={SRC}", sys.executable, "-c", _PLAN_SNIPPET, destination, interface
    )
    plan = json.loads(sh(*argv))
    route_args = ["route", "get", destination] + (["oif", interface] if interface else [])
    (route,) = ip_json(lab, lab.client, *route_args)
    (link,) = ip_json(lab, lab.client, "link", "show", "dev", str(route["dev"]))
    assert plan["ifname"] == route["dev"]
    assert plan["source"] == route["prefsrc"]
    assert plan["gateway"] == route.get("gateway")
    assert plan["src_mac"] == link["address"]
    assert plan["mtu"] == link["mtu"]
    next_hop = route.get("gateway", destination)
    assert plan["next_hop"] == next_hop
    neighbours = ip_json(lab, lab.client, "neigh", "show", "to", str(next_hop), "dev", str(route["dev"]))
    assert neighbours and plan["next_hop_mac"] == neighbours[0]["lladdr"]
    assert plan["next_hop_mac"] == lab.mac(lab.router, lab.router_client_if)


# --- 3. errors from the network and from our own ARP ----------------------------------------------


@pytest.mark.parametrize("layer", LINK_LAYERS)
def test_absent_host_is_host_unreachable_after_our_arp(shared: Lab, tmp_path: Path, layer: str) -> None:
    lab = shared
    capture = Capture(lab, lab.client, lab.client_if, str(tmp_path / "c0.pcap"), "arp or icmp")
    started = time.monotonic()
    try:
        run = layerping(lab, "--layer", layer, "-c", "3", "-i", "0.2", ABSENT_ON_LINK_IP)
    finally:
        path = capture.stop()
    elapsed = time.monotonic() - started
    assert run.returncode == 1, str(run)
    lines = [line for line in run.stdout.splitlines() if line.startswith("From ")]
    assert lines == [f"From {CLIENT_IP} icmp_seq={seq} Destination Host Unreachable" for seq in (1, 2, 3)]
    assert run.counts == {"transmitted": 3, "received": 0, "duplicates": 0, "corrupted": 0, "errors": 3}
    arp = tshark(path, f"arp.opcode == 1 && arp.dst.proto_ipv4 == {ABSENT_ON_LINK_IP}", ["eth.src"])
    # mcast_solicit (3) requests at open, then at most one more per probe while it keeps failing.
    assert 3 <= len(arp) <= 6, arp
    assert tshark(path, f"ip.dst == {ABSENT_ON_LINK_IP}", ["frame.number"]) == []  # nothing sent blindly
    assert elapsed < 10


@pytest.mark.parametrize("layer", LINK_LAYERS)
def test_unrouted_is_net_unreachable_from_router(client_lab: Lab, layer: str) -> None:
    # A fresh lab: the router's "no route" answers are rate limited per source (ip_error()).
    run = layerping(client_lab, "--layer", layer, "-c", "2", "-i", "0.2", UNROUTED_IP)
    assert run.returncode == 1, str(run)
    assert f"From {ROUTER_CLIENT_IP} icmp_seq=1 Destination Net Unreachable" in run.stdout.splitlines()
    assert f"From {ROUTER_CLIENT_IP} icmp_seq=2 Destination Net Unreachable" in run.stdout.splitlines()
    assert run.counts["errors"] == 2 and run.counts["received"] == 0


@pytest.mark.parametrize("layer", LINK_LAYERS)
def test_ttl_1_is_time_exceeded_from_router(shared: Lab, layer: str) -> None:
    run = layerping(shared, "--layer", layer, "-c", "2", "-i", "0.2", "-t", "1", SERVER_IP)
    assert run.returncode == 1, str(run)
    assert f"From {ROUTER_CLIENT_IP} icmp_seq=1 Time to live exceeded" in run.stdout.splitlines()
    assert run.counts["errors"] == 2


@pytest.mark.parametrize("layer", LINK_LAYERS)
def test_mtu_sized_with_df(shared: Lab, layer: str) -> None:
    fits = layerping(shared, "--layer", layer, "-c", "2", "-i", "0.2", "-s", "1472", "-M", "do", SERVER_IP)
    assert fits.returncode == 0, str(fits)
    assert re.search(rf"^1480 bytes from {SERVER_IP}: icmp_seq=1 ttl=63", fits.stdout, re.M)
    assert fits.counts["received"] == 2

    too_big = layerping(shared, "--layer", layer, "-c", "2", "-i", "0.2", "-s", "1473", "-M", "do", SERVER_IP)
    assert too_big.returncode == 1, str(too_big)
    assert too_big.stderr.splitlines() == ["layerping: local error: message too long, mtu=1500"] * 2
    assert too_big.counts == {"transmitted": 2, "received": 0, "duplicates": 0, "corrupted": 0, "errors": 2}


@pytest.mark.parametrize("layer", LINK_LAYERS)
def test_beyond_mtu_without_df_is_refused(shared: Lab, layer: str) -> None:
    line = one_error_line(layerping(shared, "--layer", layer, "-c", "1", "-s", "1473", SERVER_IP))
    assert "does not fragment" in line and "-s 1472" in line


# --- 4. loopback ------------------------------------------------------------------------------------


def test_loopback_at_every_layer(client_lab: Lab) -> None:
    lab = client_lab
    for layer in LINK_LAYERS:  # first without the sysctls: a clear one-line refusal
        line = one_error_line(layerping(lab, "--layer", layer, "-c", "1", "127.0.0.1"))
        assert "net.ipv4.conf.lo.accept_local=1" in line and "net.ipv4.conf.lo.route_localnet=1" in line
    for name in ("accept_local", "route_localnet"):
        lab.sysctl(lab.client, f"net.ipv4.conf.lo.{name}", "1")
    for layer in ALL_LAYERS:
        run = layerping(lab, "--layer", layer, "-c", "3", "-i", "0.1", "127.0.0.1")
        assert run.returncode == 0, str(run)
        assert run.counts == {"transmitted": 3, "received": 3, "duplicates": 0, "corrupted": 0, "errors": 0}
        assert re.search(r"^64 bytes from 127\.0\.0\.1: icmp_seq=3 ttl=64 time=", run.stdout, re.M)
    # Our own address on c0 also goes through lo (a local route): accept_local covers it.
    run = layerping(lab, "--layer", "ethernet", "-c", "2", "-i", "0.1", CLIENT_IP)
    assert run.counts["received"] == 2, str(run)


# --- 5. a tun interface: no link header, no MAC --------------------------------------------------

_TUN_ECHO = r"""
import fcntl, os, select, struct, sys, time
from layerping.wire.checksum import internet_checksum
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000  # include/uapi/linux/if_tun.h
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tun0", IFF_TUN | IFF_NO_PI))
print("ready", flush=True)
answered = 0
deadline = time.monotonic() + 20
while answered < int(sys.argv[1]) and time.monotonic() < deadline:
    if not select.select([fd], [], [], 0.2)[0]:
        continue
    packet = os.read(fd, 65536)
    if packet[0] >> 4 != 4 or packet[9] != 1 or packet[20] != 8:
        continue  # IPv6 router solicitations and the like
    print(packet.hex(), flush=True)
    header = bytearray(packet[:20])
    header[12:16], header[16:20], header[10:12] = packet[16:20], packet[12:16], b"\0\0"
    header[10:12] = internet_checksum(header).to_bytes(2, "big")
    icmp = bytearray(packet[20:])
    icmp[0], icmp[2:4] = 0, b"\0\0"
    icmp[2:4] = internet_checksum(icmp).to_bytes(2, "big")
    os.write(fd, bytes(header) + bytes(icmp))
    answered += 1
"""


@pytest.fixture
def tun_namespace() -> Iterator[tuple[Lab, str]]:
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        pytest.skip("needs root and /dev/net/tun")
    ns = f"lp{os.getpid()}tun"
    sh("ip", "netns", "add", ns)
    try:
        for argv in (
            ["link", "set", "lo", "up"],
            ["tuntap", "add", "mode", "tun", "name", "tun0"],
            ["addr", "add", f"{CLIENT_IP}/24", "dev", "tun0"],
            ["link", "set", "tun0", "up"],
        ):
            sh("ip", "-n", ns, *argv)
        yield Lab(prefix=ns, client=ns, router=ns, server=ns), ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def test_tun_at_layer_ip(tun_namespace: tuple[Lab, str]) -> None:
    lab, ns = tun_namespace
    destination = "192.0.2.7"
    responder = subprocess.Popen(
        lab.ns_argv(ns, "env", f"PYTHONPATH={SRC}", sys.executable, "-c", _TUN_ECHO, "3"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert responder.stdout is not None
        assert responder.stdout.readline().strip() == "ready"
        run = layerping(
            lab, "--layer", "ip", "-c", "3", "-i", "0.1", "-Q", "0x10", "-t", "7", destination, ns=ns
        )
        out, _ = responder.communicate(timeout=25)
    finally:
        responder.kill()
    assert run.returncode == 0, str(run)
    assert run.counts["received"] == 3
    packets = [bytes.fromhex(line) for line in out.splitlines() if line]
    assert len(packets) == 3
    from layerping.wire.icmpv4 import icmp_checksum_ok
    from layerping.wire.ipv4 import Ipv4Header

    ids = set()
    for packet in packets:  # the bytes that left: exactly our IPv4 header, no link header at all
        header = Ipv4Header.parse(packet, verify=True)
        assert (str(header.source), str(header.destination)) == (CLIENT_IP, destination)
        assert (header.tos, header.ttl, header.protocol, header.total_length) == (0x10, 7, 1, 84)
        assert header.dont_fragment and len(packet) == 84
        assert icmp_checksum_ok(packet[20:])
        ids.add(header.identification)
    assert len(ids) == 3

    line = one_error_line(layerping(lab, "--layer", "ethernet", "-c", "1", destination, ns=ns))
    assert "tun0" in line and "--layer ip" in line


_RING_SNIPPET = """
import json, sys, time
from layerping.api import PingConfig, prepare
from layerping.transport.base import Layer
uses_ring = {}
for name, options in (("flood", {"flood": True}), ("fast", {"interval_s": 0.005}), ("normal", {})):
    config = PingConfig(destination=sys.argv[1], layer=Layer(sys.argv[2]), count=1, **options)
    prepared = prepare(config, time.monotonic_ns())
    uses_ring[name] = prepared.transport._ring is not None
    prepared.close()
print(json.dumps(uses_ring))
"""


@pytest.mark.parametrize("layer", LINK_LAYERS)
def test_fast_runs_receive_through_the_ring(shared: Lab, layer: str) -> None:
    """-f and intervals under 10 ms read replies from PACKET_RX_RING; slower runs do not pay
    for setting one up (an RCU grace period each way). The flood, options and impairment tests
    check what comes out of it."""
    lab = shared
    code = ["env", f"PYTHONPATH={SRC}", sys.executable, "-c", _RING_SNIPPET, SERVER_IP, layer]
    argv = lab.ns_argv(lab.client, *code)
    assert json.loads(sh(*argv)) == {"flood": True, "fast": True, "normal": False}
    run = layerping(lab, "--layer", layer, "-f", "-c", "500", "-W", "1", SERVER_IP)
    assert run.returncode == 0 and run.counts["received"] == 500, str(run)


# --- 6. eight at once --------------------------------------------------------------------------------


def test_eight_concurrent_instances_at_layer_ethernet(shared: Lab) -> None:
    lab = shared
    count = 200
    args = ["--layer", "ethernet", "-q", "-c", str(count), "-i", "0.005", "-W", "2", SERVER_IP]
    procs = [
        subprocess.Popen(
            layerping_argv(lab, lab.client, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    runs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        runs.append(Run(args, proc.returncode, out, err))
    for run in runs:
        assert run.returncode == 0, str(run)
        assert run.counts == {
            "transmitted": count,
            "received": count,
            "duplicates": 0,
            "corrupted": 0,
            "errors": 0,
        }, str(run)


# --- 7. impairments on the router, counted exactly as the client's capture shows ----------------

_REPLIES_TO_CLIENT = 'oifname "r0" icmp type echo-reply numgen random mod 100 < 40'
_IMPAIRMENTS = {
    "loss": "ip protocol icmp numgen random mod 100 < 30 drop",  # requests and replies
    "duplication": f'{_REPLIES_TO_CLIENT} dup to {CLIENT_IP} device "r0"',
    # @th,160,8 is byte 20 of the ICMP message (payload byte 12, past our cookie); nft does not
    # fix the checksum of a raw payload write, so the reply arrives with a bad ICMP checksum.
    "corruption": f"{_REPLIES_TO_CLIENT} @th,160,8 set 0xff",
}


def capture_counts(path: str, count: int) -> dict[str, int]:
    """What layerping should report, from the capture: iputils' rules applied to the wire."""
    requests = tshark(path, f"icmp.type == 8 && ip.dst == {SERVER_IP}", ["icmp.seq"])
    replies = tshark(path, f"icmp.type == 0 && ip.src == {SERVER_IP}", ["icmp.seq", "icmp.checksum.status"])
    good = Counter(int(seq) for seq, status in replies if status == "1" and int(seq) <= count)
    corrupted = sum(1 for seq, status in replies if status == "0" and int(seq) <= count)
    return {
        "transmitted": len(requests),
        "received": len(good),
        "duplicates": sum(n - 1 for n in good.values()),
        "corrupted": corrupted,
        "errors": 0,
    }


@pytest.mark.parametrize(
    "layer,interval",
    # Below 10 ms the link layers receive through the ring (transport/ring.py), above through
    # recvmsg: both paths count the same.
    [("icmp", "0.01"), ("ip", "0.01"), ("ethernet", "0.01"), ("ip", "0.004"), ("ethernet", "0.004")],
)
@pytest.mark.parametrize("impairment", sorted(_IMPAIRMENTS))
def test_impairments_are_counted_exactly(
    lab: Lab, tmp_path: Path, impairment: str, layer: str, interval: str
) -> None:
    count = 100
    rule = _IMPAIRMENTS[impairment]
    lab.nft(
        lab.router,
        "table ip impair {\n chain forward_impair {\n"
        f"  type filter hook forward priority 0; policy accept;\n  {rule}\n }}\n}}\n",
    )
    capture = Capture(lab, lab.client, lab.client_if, str(tmp_path / "c0.pcap"), "icmp")
    try:
        run = layerping(lab, "--layer", layer, "-c", str(count), "-i", interval, "-W", "1", SERVER_IP)
    finally:
        path = capture.stop()
        lab.nft_flush(lab.router)
    expected = capture_counts(path, count)
    assert expected["transmitted"] == count
    assert run.counts == expected, str(run)
    # The impairment did happen (else the test proves nothing).
    key = {"loss": "received", "duplication": "duplicates", "corruption": "corrupted"}[impairment]
    if impairment == "loss":
        assert 0 < expected["received"] < count
    else:
        assert expected[key] > 0


# --- 8. overrides ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", LINK_LAYERS)
def test_next_hop_mac_override_skips_arp(client_lab: Lab, tmp_path: Path, layer: str) -> None:
    lab = client_lab
    lab.run(lab.client, "ip", "neigh", "flush", "dev", lab.client_if)
    router_mac = lab.mac(lab.router, lab.router_client_if)
    capture = Capture(lab, lab.router, lab.router_client_if, str(tmp_path / "r0.pcap"))
    try:
        good = layerping(
            lab, "--layer", layer, "--next-hop-mac", router_mac, "-c", "2", "-i", "0.1", SERVER_IP
        )
        bogus = layerping(
            lab, "--layer", layer, "--next-hop-mac", BOGUS_MAC, "-c", "2", "-i", "0.1", "-W", "0.5", SERVER_IP
        )
    finally:
        path = capture.stop()
    assert good.returncode == 0 and good.counts["received"] == 2, str(good)
    assert bogus.returncode == 1 and bogus.counts["received"] == 0, str(bogus)
    assert tshark(path, f"arp.opcode == 1 && arp.src.proto_ipv4 == {CLIENT_IP}", ["eth.src"]) == []
    dst_macs = [row[0] for row in tshark(path, f"icmp.type == 8 && ip.src == {CLIENT_IP}", ["eth.dst"])]
    assert dst_macs == [router_mac] * 2 + [BOGUS_MAC] * 2


def test_src_mac_override_at_layer_ethernet(client_lab: Lab, tmp_path: Path) -> None:
    lab = client_lab
    lab.run(lab.client, "ip", "neigh", "flush", "dev", lab.client_if)
    capture = Capture(lab, lab.router, lab.router_client_if, str(tmp_path / "r0.pcap"))
    try:
        run = layerping(
            lab, "--layer", "ethernet", "--src-mac", SPOOFED_MAC, "-c", "3", "-i", "0.1", SERVER_IP
        )
    finally:
        path = capture.stop()
    # Our ARP request announced the spoofed MAC too, so the router answers to it; veth hands the
    # frames to the client anyway (as PACKET_OTHERHOST), and the packet socket sees them.
    assert run.returncode == 0 and run.counts["received"] == 3, str(run)
    arp = tshark(path, f"arp.opcode == 1 && arp.src.proto_ipv4 == {CLIENT_IP}", ["eth.src", "arp.src.hw_mac"])
    assert arp and all(row == [SPOOFED_MAC, SPOOFED_MAC] for row in arp)
    assert [r[0] for r in tshark(path, f"icmp.type == 8 && ip.src == {CLIENT_IP}", ["eth.src"])] == [
        SPOOFED_MAC
    ] * 3
    assert [r[0] for r in tshark(path, f"icmp.type == 0 && ip.dst == {CLIENT_IP}", ["eth.dst"])] == [
        SPOOFED_MAC
    ] * 3


@pytest.mark.parametrize("layer", LINK_LAYERS)
def test_gateway_and_interface_overrides(shared: Lab, tmp_path: Path, layer: str) -> None:
    lab = shared
    # An absent gateway: we ARP for it, not for the route's router, and report as the kernel would.
    run = layerping(lab, "--layer", layer, "--gateway", ABSENT_ON_LINK_IP, "-c", "2", "-i", "0.2", SERVER_IP)
    assert run.returncode == 1, str(run)
    assert f"From {CLIENT_IP} icmp_seq=1 Destination Host Unreachable" in run.stdout.splitlines()
    # The real router given explicitly, to an address only the server answers for.
    run = layerping(
        lab, "--layer", layer, "--gateway", ROUTER_CLIENT_IP, "-c", "2", "-i", "0.1", "198.18.0.5"
    )
    assert run.returncode == 0 and run.counts["received"] == 2, str(run)
    for interface in (lab.client_if, CLIENT_IP):
        run = layerping(lab, "--layer", layer, "-I", interface, "-c", "2", "-i", "0.1", SERVER_IP)
        assert run.returncode == 0 and run.counts["received"] == 2, str(run)
        assert f"from {CLIENT_IP}" in run.stdout.splitlines()[0] or interface == lab.client_if


# --- 9. errors: one line on stderr, exit 2 --------------------------------------------------------------


def test_interface_down_is_one_line(shared: Lab) -> None:
    lab = shared
    lab.run(lab.client, "ip", "link", "add", "c9", "type", "veth", "peer", "name", "c9p")
    try:
        for layer in LINK_LAYERS:
            line = one_error_line(layerping(lab, "--layer", layer, "-I", "c9", "-c", "1", SERVER_IP))
            assert "c9" in line and "down" in line
    finally:
        lab.run(lab.client, "ip", "link", "del", "c9", check=False)


@pytest.mark.parametrize(
    "args,words",
    [
        (["--layer", "ethernet", "--gateway", ROUTER_SERVER_IP], "not on-link"),
        (["--layer", "ip", "--gateway", ROUTER_SERVER_IP], "not on-link"),
        (["--layer", "ip", "--src-mac", SPOOFED_MAC], "--src-mac needs --layer ethernet"),
        (["--layer", "ethernet", "--source", SERVER_IP], "not an address"),
        (["--layer", "ethernet", "-I", "nosuch0"], "nosuch0"),
        (["--layer", "ip", "-I", "lo"], "not an address of this host"),
    ],
)
def test_contradicting_overrides_are_one_line(shared: Lab, args: list[str], words: str) -> None:
    line = one_error_line(layerping(shared, *args, "-c", "1", SERVER_IP))
    assert words in line, line


@pytest.mark.parametrize("layer", LINK_LAYERS)
def test_without_cap_net_raw_is_one_line(shared: Lab, layer: str) -> None:
    # Root without CAP_NET_RAW in its bounding set: exec leaves the capability out (capabilities(7)).
    argv = shared.ns_argv(shared.client, "setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw",
                          "env", f"PYTHONPATH={SRC}", sys.executable, "-m", "layerping",
                          "--layer", layer, "-c", "1", SERVER_IP)  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    line = one_error_line(Run(argv, proc.returncode, proc.stdout, proc.stderr))
    assert "root or through sudo" in line and "--layer icmp" in line and "setcap" not in line


# --- 10. options, output, statistics and exit codes are the same at all three layers -------------

_OPTION_SETS = {
    "size-pattern-tos-ttl": [
        "-c",
        "3",
        "-i",
        "0.1",
        "-s",
        "100",
        "-p",
        "ff00",
        "-Q",
        "0x10",
        "-t",
        "9",
        SERVER_IP,
    ],
    "empty-payload": ["-c", "2", "-i", "0.1", "-s", "0", SERVER_IP],
    "no-df": ["-c", "2", "-i", "0.1", "-M", "dont", "-s", "1000", SERVER_IP],
    "deadline": ["-w", "1", "-i", "0.3", SERVER_IP],
    "flood-quiet": ["-f", "-q", "-c", "300", SERVER_IP],
    "timeout-unrouted": ["-c", "2", "-i", "0.1", "-W", "0.3", UNROUTED_IP],
    "ttl-exceeded-preload": ["-c", "3", "-l", "3", "-t", "1", "-W", "0.5", SERVER_IP],
}
_VARYING = (
    (re.compile(r" time=[\d.]+ ms"), " time=X ms"),
    (re.compile(r"time \d+ms"), "time Xms"),
    (re.compile(r"^rtt min/avg/max/mdev = .*$", re.M), "rtt X"),
)


def _normalized(stdout: str) -> str:
    for pattern, replacement in _VARYING:
        stdout = pattern.sub(replacement, stdout)
    return stdout


@pytest.mark.parametrize("name", sorted(_OPTION_SETS))
def test_options_behave_the_same_at_every_layer(shared: Lab, tmp_path: Path, name: str) -> None:
    lab = shared
    runs: dict[str, Run] = {}
    on_wire: dict[str, list[list[str]]] = {}
    for layer in ALL_LAYERS:
        capture = Capture(lab, lab.server, lab.server_if, str(tmp_path / f"{layer}.pcap"), "icmp")
        try:
            runs[layer] = layerping(lab, "--layer", layer, *_OPTION_SETS[name])
        finally:
            path = capture.stop()
        on_wire[layer] = tshark(path, f"icmp.type == 8 && ip.src == {CLIENT_IP}",
                                ["ip.dsfield", "ip.ttl", "ip.len", "ip.flags.df", "ip.checksum.status",
                                 "icmp.checksum.status", "icmp.seq"])  # fmt: skip
    reference = runs["icmp"]
    assert reference.returncode in (0, 1), str(reference)
    for layer in LINK_LAYERS:
        assert runs[layer].returncode == reference.returncode, str(runs[layer])
        assert _normalized(runs[layer].stdout) == _normalized(reference.stdout), str(runs[layer])
        assert runs[layer].stderr == reference.stderr
        # Our IPv4 header carries what the kernel's carried for the same options. (A capture
        # may miss packets of a flood, so there only the header values are compared.)
        assert {tuple(row[:6]) for row in on_wire[layer]} == {tuple(row[:6]) for row in on_wire["icmp"]}
        if name != "flood-quiet":
            assert on_wire[layer] == on_wire["icmp"]
