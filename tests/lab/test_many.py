"""Many targets in the lab: real kernel, real packets; fping, nft and tcpdump as oracles.

The server answers for every address of 198.18.0.0/15, so blocks of it are all alive; the
router drops nothing unless a test asks nft to. Absent targets: 192.0.2.99 (on-link, nobody
answers ARP) and 203.0.113.7 (the router has no route: Net Unreachable).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator

import pytest

from tests.lab.netlab import (
    ABSENT_ON_LINK_IP,
    CLIENT_IP,
    ROUTER_CLIENT_IP,
    SERVER_IP,
    UNROUTED_IP,
    Capture,
    Lab,
    tshark_fields,
)
from tests.lab.tool import env, layerping_argv, run_layerping

pytestmark = pytest.mark.lab

LAYERS = ["icmp", "ip", "ethernet"]
REPLY = re.compile(r"^(?P<target>[\d.]+) +: \[(?P<probe>\d+)\], 64 bytes, (?P<rtt>[\d.]+) ms "
                   r"\((?P<avg>[\d.]+) avg, (?P<loss>\d+)% loss\)$")  # fmt: skip
SUMMARY = re.compile(r"^(?P<target>[\d.]+) +: xmt/rcv/%loss = (?P<xmt>\d+)/(?P<rcv>\d+)/(?P<loss>\d+)%"
                     r"(?:, min/avg/max = [\d.]+/[\d.]+/[\d.]+)?$")  # fmt: skip
# Drop the first echo request to every address of the sweep range, let the rest through.
FIRST_PROBE_LOST = """
table ip lossy {
  set seen { type ipv4_addr; size 65536; flags dynamic,timeout; timeout 120s; }
  chain first_probe {
    type filter hook forward priority 0; policy accept;
    ip daddr 198.18.0.0/16 icmp type echo-request ip daddr != @seen update @seen { ip daddr } counter drop
  }
}"""


def many(lab: Lab, *args: str, layer: str = "icmp", stdin: str | None = None, as_nobody: bool = False,
         timeout: float = 120, sender: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    argv = layerping_argv(lab, "--layer", layer, *args, as_nobody=as_nobody)
    environment = env()
    if sender is not None:
        environment["LAYERPING_SENDER"] = sender  # who calls sendmmsg above 20 000 probes/s
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, env=environment)


@pytest.fixture(params=LAYERS)
def layer(request: pytest.FixtureRequest, shared_lab: Lab) -> Iterator[str]:
    name: str = request.param
    if name != "icmp":
        probe = many(shared_lab, "--alive", "-W", "0.5", "198.18.0.1", "198.18.0.2", layer=name)
        if "does not take many targets" in probe.stderr:
            pytest.skip(f"--layer {name} with many targets is not implemented")
    yield name


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


def test_several_targets_count_mode_in_fping_form(shared_lab: Lab, layer: str) -> None:
    targets = [SERVER_IP, ROUTER_CLIENT_IP, "198.18.0.1"]
    out = many(shared_lab, "-c", "3", "-i", "0.05", *targets, layer=layer)
    assert out.returncode == 0, out.stderr
    replies = [REPLY.match(line) for line in lines(out.stdout)]
    assert all(replies), out.stdout
    got = sorted((m["target"], int(m["probe"])) for m in replies if m)
    assert got == sorted((t, p) for t in targets for p in range(3))
    assert all(int(m["loss"]) == 0 for m in replies if m)
    # Summaries on stderr after a blank line, in input order, names padded as fping pads them.
    summaries = [SUMMARY.match(line) for line in lines(out.stderr)]
    assert [m["target"] for m in summaries if m] == targets
    assert all(m and (m["xmt"], m["rcv"], m["loss"]) == ("3", "3", "0") for m in summaries)
    assert out.stderr.startswith("\n")
    widths = {line.index(" :") for line in lines(out.stderr)}
    assert widths == {len("198.51.100.2")}


def test_output_has_fpings_shape(shared_lab: Lab) -> None:
    """The same targets through fping 5.1 and through layerping give lines of the same shape."""
    targets = [SERVER_IP, ROUTER_CLIENT_IP]
    ours = many(shared_lab, "-c", "2", "-i", "0.05", *targets)
    theirs = subprocess.run(shared_lab.ns_argv(shared_lab.client, "fping", "-c", "2", "-p", "50", *targets),
                            capture_output=True, text=True, timeout=60)  # fmt: skip

    def shape(text: str) -> list[str]:
        return sorted(re.sub(r"\d+\.\d+", "T", line) for line in lines(text))

    assert shape(ours.stdout) == shape(theirs.stdout)
    assert shape(ours.stderr) == shape(theirs.stderr)
    assert ours.returncode == theirs.returncode == 0


def test_slash_24_sweep_finds_every_host(shared_lab: Lab, layer: str) -> None:
    out = many(shared_lab, "--alive", "-r", "0", "--rate", "20000", "198.18.3.0/24", layer=layer)
    assert out.returncode == 0, out.stderr
    assert lines(out.stdout) == [f"198.18.3.{i}" for i in range(1, 255)]  # input order, no .0 or .255


@pytest.mark.parametrize("sender", ["inline", "thread", "process"])
def test_fast_sweep_with_each_sender(shared_lab: Lab, sender: str) -> None:
    out = many(shared_lab, "--json", "-r", "0", "--rate", "1e9", "198.18.14.0/22", sender=sender)
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in lines(out.stdout)]
    done = [r for r in records if r["event"] == "target"]
    assert len(done) == 1022 and all(r["alive"] and r["rtt_min_ms"] > 0 for r in done)
    assert records[-1]["transmitted"] == records[-1]["received"] == 1022


def test_sweep_matches_fping(shared_lab: Lab) -> None:
    ours = many(shared_lab, "--alive", "-r", "0", "--rate", "20000", "198.18.4.0/26", UNROUTED_IP)
    fping = shared_lab.ns_argv(shared_lab.client, "fping", "-a", "-q", "-r", "0", "-g", "198.18.4.0/26")
    theirs = subprocess.run(fping, capture_output=True, text=True, timeout=60)
    assert lines(ours.stdout) == lines(theirs.stdout)
    assert ours.returncode == 1  # the unrouted target did not answer


def test_alive_and_unreachable_lists(shared_lab: Lab, layer: str) -> None:
    targets = [SERVER_IP, UNROUTED_IP, "198.18.0.9", ABSENT_ON_LINK_IP]
    alive = many(shared_lab, "--alive", "-r", "0", "-W", "0.5", *targets, layer=layer)
    assert lines(alive.stdout) == [SERVER_IP, "198.18.0.9"]
    assert alive.returncode == 1
    unreachable = many(shared_lab, "--unreachable", "-r", "0", "-W", "0.5", *targets, layer=layer)
    assert lines(unreachable.stdout) == [UNROUTED_IP, ABSENT_ON_LINK_IP]
    assert unreachable.returncode == 1


# The router rate-limits its Net Unreachable errors per source (ip_error, error_cost, burst 5):
# tests that must see one use a fresh lab.


def test_default_mode_lines_and_icmp_errors(lab: Lab) -> None:
    out = many(lab, "-r", "0", "-W", "0.5", SERVER_IP, UNROUTED_IP)
    assert lines(out.stdout) == [f"{SERVER_IP} is alive", f"{UNROUTED_IP} is unreachable"]
    error = f"ICMP Network Unreachable from {ROUTER_CLIENT_IP} for ICMP Echo sent to {UNROUTED_IP}"
    assert error in out.stderr
    assert out.returncode == 1


def test_retries_find_targets_whose_first_probe_is_lost(lab: Lab, layer: str) -> None:
    lab.nft(lab.router, FIRST_PROBE_LOST)
    targets = "198.18.5.0/28"
    lost = many(lab, "--alive", "-r", "0", "-W", "0.3", targets, layer=layer)
    assert lines(lost.stdout) == []
    assert lost.returncode == 1
    lab.nft_flush(lab.router)
    lab.nft(lab.router, FIRST_PROBE_LOST)
    found = many(lab, "--json", "-r", "2", "-W", "0.3", targets, layer=layer)
    assert found.returncode == 0, found.stderr
    records = [json.loads(line) for line in lines(found.stdout)]
    done = [r for r in records if r["event"] == "target"]
    assert [r["target"] for r in done] == [f"198.18.5.{i}" for i in range(1, 15)]
    assert all(r["alive"] and r["transmitted"] == 2 and r["received"] == 1 for r in done)
    timeouts = [r for r in records if r["event"] == "timeout"]
    assert sorted((r["target"], r["seq"]) for r in timeouts) == sorted((r["target"], 1) for r in done)
    # The router dropped exactly the first probe to each of the 14 targets (the flush reset it).
    assert "counter packets 14 " in lab.run(lab.router, "nft", "list", "ruleset")


def test_json_lines(lab: Lab, layer: str) -> None:
    out = many(lab, "--json", "-c", "2", "-i", "0.05", "-W", "0.5", "198.18.0.5", UNROUTED_IP,
               layer=layer)  # fmt: skip
    assert out.returncode == 1
    records = [json.loads(line) for line in lines(out.stdout)]
    assert all("target" in r for r in records[:-1])
    replies = [r for r in records if r["event"] == "reply"]
    assert [(r["target"], r["seq"], r["from"], r["bytes"], r["ttl"]) for r in replies] == [
        ("198.18.0.5", 1, "198.18.0.5", 64, 63), ("198.18.0.5", 2, "198.18.0.5", 64, 63)]  # fmt: skip
    assert all(r["rtt_ms"] > 0 and r["dup"] is False for r in replies)
    errors = [r for r in records if r["event"] == "error"]
    assert {(r["target"], r["from"], r["type"], r["code"]) for r in errors} == {
        (UNROUTED_IP, ROUTER_CLIENT_IP, 3, 0)}  # fmt: skip
    targets = [r for r in records if r["event"] == "target"]
    assert [(r["target"], r["alive"], r["transmitted"], r["received"]) for r in targets] == [
        ("198.18.0.5", True, 2, 2), (UNROUTED_IP, False, 2, 0)]  # fmt: skip
    summary = records[-1]
    assert summary["event"] == "summary"
    assert (summary["targets"], summary["alive"], summary["unreachable"]) == (2, 1, 1)


def test_exit_codes(shared_lab: Lab) -> None:
    assert many(shared_lab, "-r", "0", "198.18.0.1", "198.18.0.2").returncode == 0
    assert many(shared_lab, "-r", "0", "-W", "0.3", "198.18.0.1", UNROUTED_IP).returncode == 1
    bad_name = many(shared_lab, "-r", "0", "198.18.0.1", "nosuchhost.invalid")
    assert bad_name.returncode == 2
    assert "nosuchhost.invalid" in bad_name.stderr
    assert "198.18.0.1 is alive" in bad_name.stdout  # the other targets are still pinged
    bad_spec = many(shared_lab, "198.18.0.0/33", "198.18.0.1")
    assert bad_spec.returncode == 2 and bad_spec.stdout == ""
    assert bad_spec.stderr.startswith("layerping: bad target") and "Traceback" not in bad_spec.stderr
    everything_excluded = many(shared_lab, "--exclude", "198.18.0.0/24", "198.18.0.0/29")
    assert everything_excluded.returncode == 2
    # -w cuts a slow sweep short: what was pinged is reported, and not "all answered".
    cut = many(shared_lab, "-w", "0.3", "--alive", "--rate", "1000", "198.18.0.0/20")
    assert cut.returncode == 1
    assert 0 < len(lines(cut.stdout)) < 4094


def test_targets_file_on_stdin_and_excludes(shared_lab: Lab, tmp_path: object) -> None:
    exclude_file = f"{tmp_path}/exclude.txt"
    with open(exclude_file, "w") as f:
        f.write("198.18.6.3\n")
    out = many(shared_lab, "--alive", "-r", "0", "--targets-file", "-", "--exclude", "198.18.6.5-6",
               "--exclude-file", exclude_file, stdin="# list\n198.18.6.0/29\n198.18.6.9\n")  # fmt: skip
    assert lines(out.stdout) == ["198.18.6.1", "198.18.6.2", "198.18.6.4", "198.18.6.9"]
    assert out.returncode == 0


def test_b_includes_network_and_broadcast_addresses(shared_lab: Lab) -> None:
    out = many(shared_lab, "--alive", "-r", "0", "-b", "198.18.7.0/30")
    assert lines(out.stdout) == ["198.18.7.0", "198.18.7.1", "198.18.7.2", "198.18.7.3"]


def test_unprivileged_datagram_socket(shared_lab: Lab) -> None:
    """As nobody: the ICMP datagram socket, where the kernel owns the identifier."""
    out = many(shared_lab, "--alive", "-r", "0", "--rate", "5000", "198.18.8.0/28", UNROUTED_IP,
               as_nobody=True)  # fmt: skip
    assert lines(out.stdout) == [f"198.18.8.{i}" for i in range(1, 15)]
    assert out.returncode == 1, out.stderr
    counted = many(shared_lab, "-c", "2", "-i", "0.05", SERVER_IP, "198.18.8.1", as_nobody=True)
    assert counted.returncode == 0, counted.stderr
    assert all(REPLY.match(line) for line in lines(counted.stdout))


@pytest.mark.parametrize(
    "layer_name,sender", [("icmp", None), ("ip", None), ("ethernet", None), ("ethernet", "process")]
)
def test_the_wire_one_identifier_slot_sequence_valid_checksums(
    shared_lab: Lab, tmp_path: object, layer_name: str, sender: str | None
) -> None:
    """What a sweep puts on the wire, read back with tshark. At the link layers our own IPv4
    headers are checked too: a valid checksum and a different Identification per probe."""
    lab = shared_lab
    cap = Capture(lab, lab.client, lab.client_if, f"{tmp_path}/m.pcap", "icmp")
    rate = ["--rate", "1e6"] if sender else []  # past 20 000 probes/s the sender is offloaded
    out = many(lab, "--alive", "-r", "0", *rate, "198.18.9.0/28", layer=layer_name, sender=sender)
    path = cap.stop()
    assert out.returncode == 0
    fields = ["ip.src", "ip.dst", "icmp.ident", "icmp.seq", "icmp.checksum.status", "data.data",
              "ip.checksum.status", "ip.id", "ip.ttl", "ip.flags.df"]  # fmt: skip
    rows = tshark_fields(path, "icmp.type == 8", fields)
    assert len(rows) == 14
    assert {r[6] for r in rows} == {"1"}  # every IPv4 header checksum good (tshark verifies)
    assert {(r[8], r[9]) for r in rows} == {("64", "1")}
    if layer_name != "icmp":  # (the kernel gives the DF probes of a raw socket Identification 0)
        assert len({r[7] for r in rows}) == 14  # ours: an Identification per probe
    assert {r[0] for r in rows} == {CLIENT_IP}
    assert sorted(r[1] for r in rows) == sorted(f"198.18.9.{i}" for i in range(1, 15))
    assert len({r[2] for r in rows}) == 1  # one identifier for the whole run
    assert sorted(int(r[3]) for r in rows) == list(range(14))  # the sequence number is the ring slot
    assert {r[4] for r in rows} == {"1"}  # every checksum good
    assert len({r[5][:16] for r in rows}) == 1  # one cookie
    assert len({r[5][16:24] for r in rows}) == 14  # a serial per probe


def test_many_parallel_runs_do_not_steal_replies(shared_lab: Lab) -> None:
    procs = [subprocess.Popen(layerping_argv(shared_lab, "--alive", "-r", "0", "--rate", "5000", block),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
             for block in ("198.18.10.0/26", "198.18.11.0/26", "198.18.10.0/26")]  # fmt: skip
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [len(lines(out)) for out, _ in outputs] == [62, 62, 62]
    assert all(p.returncode == 0 for p in procs)


def test_single_target_keeps_iputils_output(shared_lab: Lab) -> None:
    out = run_layerping(shared_lab, "-c", "1", SERVER_IP)
    assert out.stdout.startswith(f"PING {SERVER_IP} ({SERVER_IP}) 56(84) bytes of data.")


LIBRARY = """
import asyncio, json
from layerping import many as lp  # exported from layerping itself by the package's __init__
from layerping.engine.multi import TargetDone
from layerping.targets import format_address

results = lp.multiping(["198.51.100.2", "198.18.0.0/30", "203.0.113.7"], count=2, interval=0.05,
                       timeout=0.5, layer=LAYER, rate=2000)
events = [e for e in lp.iter_events("198.18.12.0/29", timeout=0.5, retries=0, layer=LAYER)
          if isinstance(e, TargetDone)]

async def main():
    return await asyncio.gather(lp.async_ping("198.51.100.2", count=2, interval=0.05, layer=LAYER),
                                lp.async_multiping(["198.18.0.9", "198.18.0.10"], count=1, layer=LAYER))

one, pair = asyncio.run(main())
print(json.dumps({
    "multiping": [[r.destination, str(r.address), r.stats.transmitted, r.stats.received, r.is_alive,
                   [x.seq for x in r.replies], [e.text for e in r.errors], r.exit_code,
                   r.stats.rtt_min_ns > 0 if r.is_alive else None] for r in results],
    "iter_events": [[format_address(e.address), e.alive] for e in events],
    "async_ping": one.stats.received,
    "async_multiping": [[r.destination, r.is_alive] for r in pair],
}))
"""


def test_library_api_in_the_lab(shared_lab: Lab, layer: str) -> None:
    import sys

    code = LIBRARY.replace("LAYER", repr(layer))
    argv = shared_lab.ns_argv(shared_lab.client, sys.executable, "-c", code)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env())
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    # The router's Net Unreachable errors are rate-limited in a shared lab: any of them may be missing.
    errors = data["multiping"][3][6]
    assert len(errors) <= 2 and set(errors) <= {"Destination Net Unreachable"}
    unrouted_errors = errors
    assert data["multiping"] == [
        ["198.51.100.2", "198.51.100.2", 2, 2, True, [1, 2], [], 0, True],
        ["198.18.0.1", "198.18.0.1", 2, 2, True, [1, 2], [], 0, True],
        ["198.18.0.2", "198.18.0.2", 2, 2, True, [1, 2], [], 0, True],
        ["203.0.113.7", "203.0.113.7", 2, 0, False, [], unrouted_errors, 1, None],
    ]
    assert data["iter_events"] == [[f"198.18.12.{i}", True] for i in range(1, 7)]
    assert data["async_ping"] == 2
    assert data["async_multiping"] == [["198.18.0.9", True], ["198.18.0.10", True]]


@pytest.mark.parametrize("layer_name", ["ip", "ethernet"])
def test_on_link_targets_get_their_own_arp_in_parallel(lab: Lab, tmp_path: object, layer_name: str) -> None:
    """On-link targets are resolved with our ARP, all at once; one that never answers is unreachable;
    targets behind the router go to the router's MAC."""
    for last in (10, 11, 12):
        lab.run(lab.router, "ip", "addr", "add", f"192.0.2.{last}/24", "dev", lab.router_client_if)
    lab.sysctl(lab.client, f"net.ipv4.neigh.{lab.client_if}.retrans_time_ms", "200")
    router_mac = lab.mac(lab.router, lab.router_client_if)
    cap = Capture(lab, lab.client, lab.client_if, f"{tmp_path}/arp.pcap", "arp or icmp")
    targets = ["192.0.2.10", "192.0.2.11", ABSENT_ON_LINK_IP, "192.0.2.12", "198.18.13.1", "198.18.13.2"]
    out = many(lab, "--alive", "-r", "0", "-W", "0.5", *targets, layer=layer_name)
    path = cap.stop()
    assert lines(out.stdout) == ["192.0.2.10", "192.0.2.11", "192.0.2.12", "198.18.13.1", "198.18.13.2"]
    assert out.returncode == 1
    ours = f"arp.opcode == 1 and arp.src.proto_ipv4 == {CLIENT_IP}"
    requests = tshark_fields(path, ours, ["arp.dst.proto_ipv4"])
    asked = [r[0] for r in requests]
    for answered in ("192.0.2.10", "192.0.2.11", "192.0.2.12"):
        assert asked.count(answered) == 1
    assert 1 <= asked.count(ABSENT_ON_LINK_IP) <= 3  # the interface's mcast_solicit, 3 by default
    assert "198.18.13.1" not in asked  # behind the router: no ARP of its own
    echo = tshark_fields(path, "icmp.type == 8", ["ip.dst", "eth.dst"])
    assert {dst for dst, _ in echo} == {*targets} - {ABSENT_ON_LINK_IP}  # no probe without a neighbour
    assert {mac for _, mac in echo} == {router_mac}  # the extra addresses live on the router too
