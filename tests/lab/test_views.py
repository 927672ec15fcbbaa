"""Seeing the packets in the lab: -v, -X, --pcap, --json and --decode-pcap against tcpdump and tshark.

The decode is checked against oracles we did not write: every frame of fresh tcpdump captures of
each kind the lab can provoke (echo request and reply, net and host unreachable, time exceeded,
fragmentation needed, ARP request and reply), at least 10 frames of each, as ``layerping
--decode-pcap`` prints them, agrees field by field with ``tshark -T fields``. The probes ``-v``
shows are the ones tcpdump saw leave, byte for byte. Files written by ``--pcap`` are read by
tshark. With ``LAYERPING_WRITE_FIXTURES=1`` the captures are also copied to tests/fixtures/.

The router answers "no route" through ip_error(), rate-limited per source by a global sysctl (5 at
once, then one a second) whose tokens every other ICMP error to that source also uses up: the
net-unreachable capture comes first in a fresh lab and is paced at 0.7 s.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from layerping.wire.pcap import LINKTYPE_ETHERNET, LINKTYPE_RAW, read_pcap
from tests.lab.netlab import ROUTER_CLIENT_IP, SERVER_IP, UNROUTED_IP, Lab, tshark_fields
from tests.lab.tool import env, layerping_argv, reply_lines, run_layerping, summary
from tests.unit.test_decode import compare_with_tshark, tcpdump_lines, tshark_rows

pytestmark = pytest.mark.lab

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FRAMES_PER_KIND = 10
ROUTER_ABSENT_IP = "198.51.100.99"  # on the router's server-side link, where nobody answers ARP

#: tcpdump filters, one capture file per kind.
KINDS = {
    "net_unreachable": "icmp[icmptype] == icmp-unreach and icmp[icmpcode] == 0",
    "echo_request": "icmp[icmptype] == icmp-echo",
    "echo_reply": "icmp[icmptype] == icmp-echoreply",
    "time_exceeded": "icmp[icmptype] == icmp-timxceed",
    "host_unreachable": "icmp[icmptype] == icmp-unreach and icmp[icmpcode] == 1",
    "frag_needed": "icmp[icmptype] == icmp-unreach and icmp[icmpcode] == 4",
    "arp_request": "arp and arp[6:2] == 1",
    "arp_reply": "arp and arp[6:2] == 2",
}


def _need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")


class CountedCapture:
    """``tcpdump -c N``: stops by itself after N matching frames (or when stopped)."""

    def __init__(self, lab: Lab, path: Path, bpf_filter: str, count: int = FRAMES_PER_KIND) -> None:
        self.path = path
        argv = [
            "tcpdump",
            "-i",
            lab.client_if,
            "-U",
            "--immediate-mode",
            "-c",
            str(count),
            "-w",
            str(path),
            bpf_filter,
        ]
        self.proc = lab.popen(lab.client, argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.proc.stderr is not None
        line = ""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if "listening" in line or not line:
                break
        if "listening" not in line:
            self.proc.kill()
            raise RuntimeError(f"tcpdump did not start: {line!r}")

    def stop(self, grace_s: float = 0.3) -> Path:
        try:
            self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.path


@contextmanager
def captures(lab: Lab, tmp: Path, *kinds: str) -> Iterator[dict[str, CountedCapture]]:
    started = {kind: CountedCapture(lab, tmp / f"{kind}.pcap", KINDS[kind]) for kind in kinds}
    try:
        yield started
    finally:
        for capture in started.values():
            capture.stop()


def ok(lab: Lab, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
    out = run_layerping(lab, *args)
    if expect is not None:
        assert out.returncode == expect, (args, out.stdout, out.stderr)
    return out


def provoke_every_kind(lab: Lab, tmp: Path) -> dict[str, Path]:
    """Make the lab send at least FRAMES_PER_KIND frames of each kind; return the capture files."""
    # The router answers "no route" through ip_error(): a token bucket per source, one token a
    # second with a small burst (the global net.ipv4.route.error_cost/error_burst, which tests
    # must not change). At 0.7 s apart, 2 of 10 answers went missing once; probes more than a
    # second apart each find a token.
    with captures(lab, tmp, "net_unreachable"):
        ok(lab, "-c", "10", "-i", "1.1", "-W", "1", UNROUTED_IP, expect=1)
    with captures(lab, tmp, "echo_request", "echo_reply"):
        ok(lab, "-c", "4", "-i", "0.05", SERVER_IP)
        ok(
            lab,
            "-c",
            "3",
            "-i",
            "0.05",
            "-s",
            "100",
            "-t",
            "17",
            "-Q",
            "0x28",
            "-p",
            "abcd",
            "-M",
            "dont",
            SERVER_IP,
        )
        ok(lab, "-c", "3", "-i", "0.05", "-s", "0", ROUTER_CLIENT_IP)
    with captures(lab, tmp, "time_exceeded"):
        ok(lab, "-c", "10", "-i", "0.05", "-t", "1", SERVER_IP, expect=1)
    # The router gives up on an unanswered neighbour after one ARP request, 100 ms.
    lab.sysctl(lab.router, f"net.ipv4.neigh.{lab.router_server_if}.mcast_solicit", "1")
    lab.sysctl(lab.router, f"net.ipv4.neigh.{lab.router_server_if}.retrans_time_ms", "100")
    with captures(lab, tmp, "host_unreachable"):
        ok(lab, "-c", "10", "-i", "0.05", "-W", "2", ROUTER_ABSENT_IP, expect=1)
    # A smaller MTU beyond the router; -M do: one "fragmentation needed" per destination (the
    # kernel then knows the path MTU and refuses locally), so ten destinations the server answers.
    lab.run(lab.router, "ip", "link", "set", lab.router_server_if, "mtu", "1280")
    with captures(lab, tmp, "frag_needed"):
        for n in range(1, FRAMES_PER_KIND + 1):
            ok(lab, "-c", "1", "-s", "1400", "-M", "do", f"198.18.0.{n}", expect=1)
    with captures(lab, tmp, "arp_request", "arp_reply"):
        for _ in range(FRAMES_PER_KIND):
            lab.run(lab.client, "ip", "neigh", "flush", "dev", lab.client_if)
            ok(lab, "-c", "1", ROUTER_CLIENT_IP)
    return {kind: tmp / f"{kind}.pcap" for kind in KINDS}


def decode_pcap_in_lab(lab: Lab, path: Path) -> list[list[str]]:
    """``layerping --decode-pcap`` run in the client namespace, split into frames, stamps removed."""
    out = run_layerping(lab, "--decode-pcap", str(path))
    assert out.returncode == 0, out.stderr
    frames: list[list[str]] = []
    for line in out.stdout.splitlines():
        if re.match(r"^\d\d:\d\d:\d\d\.\d{6} ", line):
            frames.append([line.split(" ", 1)[1]])
        else:
            frames[-1].append(line)
    return frames


def test_decode_of_every_kind_agrees_with_tshark_and_tcpdump(lab: Lab, tmp_path: Path) -> None:
    _need("tshark", "tcpdump")
    files = provoke_every_kind(lab, tmp_path)
    for kind, path in files.items():
        with open(path, "rb") as stream:
            capture = read_pcap(stream)
        assert capture.linktype == LINKTYPE_ETHERNET
        assert len(capture.records) >= FRAMES_PER_KIND, kind
        ours = decode_pcap_in_lab(lab, path)
        assert compare_with_tshark(path, ours, kind) >= FRAMES_PER_KIND
        assert ours == tcpdump_lines(path), kind
        if os.environ.get("LAYERPING_WRITE_FIXTURES") == "1":
            FIXTURES.mkdir(exist_ok=True)
            shutil.copyfile(path, FIXTURES / f"{kind}.pcap")


# --- -v and -X at layer icmp --------------------------------------------------------------------------

BLOCK = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} (?P<dir>Out|In ) (?P<first>.*)$")


def blocks(stdout: str) -> list[tuple[str, list[str]]]:
    """The -v blocks: (direction, lines without the stamp), in order."""
    found: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in stdout.splitlines():
        match = BLOCK.match(line)
        if match:
            current = [match["first"]]
            found.append((match["dir"].strip(), current))
        elif current is not None and (line.startswith("    ") or line.startswith("\t")):
            current.append(line)
        else:
            current = None
    return found


def test_verbose_shows_the_header_the_kernel_really_sent(shared_lab: Lab, tmp_path: Path) -> None:
    _need("tcpdump")
    lab = shared_lab
    with captures(lab, tmp_path, "echo_request", "echo_reply") as caps:
        out = ok(lab, "-v", "-c", "3", "-i", "0.2", "-Q", "0x10", SERVER_IP)
    seen = blocks(out.stdout)
    sent = [lines for direction, lines in seen if direction == "Out"]
    received = [lines for direction, lines in seen if direction == "In"]
    assert len(sent) == 3 and len(received) == 3
    on_wire = [frame for frame in tcpdump_lines(caps["echo_request"].path) if f"> {SERVER_IP}:" in frame[1]]
    # tcpdump's line starts with the Ethernet part, which layer icmp does not show for probes.
    assert [[frame[0].split(": ", 1)[1], *frame[1:]] for frame in on_wire] == sent
    assert all("(tos 0x10," in lines[0] and "flags [DF]" in lines[0] for lines in sent)
    # Replies at layer icmp come from a raw IPv4 socket: no Ethernet line, header as received.
    replies_on_wire = tcpdump_lines(caps["echo_reply"].path)
    assert [[frame[0].split(": ", 1)[1], *frame[1:]] for frame in replies_on_wire] == received
    # The iputils line still follows each reply, whole.
    assert len(reply_lines(out.stdout)) == 3


def test_unprivileged_verbose_says_the_kernel_built_the_header(shared_lab: Lab) -> None:
    out = run_layerping(shared_lab, "-v", "-c", "2", "-i", "0.2", SERVER_IP, as_nobody=True)
    assert out.returncode == 0, out.stderr
    seen = blocks(out.stdout)
    sent = [lines for direction, lines in seen if direction == "Out"]
    assert len(sent) == 2
    assert sent[0][0] == (
        "IPv4 header written by the kernel (ICMP datagram socket: not visible without CAP_NET_RAW)"
    )
    assert re.match(
        rf"^    192\.0\.2\.2 > {re.escape(SERVER_IP)}: ICMP echo request, id \d+, seq 1, length 64$",
        sent[0][1],
    )
    received = [lines for direction, lines in seen if direction == "In"]
    assert received[0][0] == "IPv4 header not visible on an ICMP datagram socket (ttl 63 from IP_TTL)"
    # ICMP errors reach a datagram socket only as error-queue reports: said so, nothing invented.
    out = run_layerping(shared_lab, "-v", "-c", "1", "-t", "1", SERVER_IP, as_nobody=True)
    received = [lines for direction, lines in blocks(out.stdout) if direction == "In"]
    assert received == [
        [
            f"ICMP error from {ROUTER_CLIENT_IP} (type 11, code 0) reported by the kernel through "
            "IP_RECVERR; the packet itself is not visible"
        ]
    ]


def test_hex_dump_is_the_bytes_tcpdump_saw(shared_lab: Lab, tmp_path: Path) -> None:
    _need("tcpdump")
    lab = shared_lab
    with captures(lab, tmp_path, "echo_request") as caps:
        out = ok(lab, "-X", "-c", "2", "-i", "0.2", SERVER_IP)
    caps["echo_request"].stop()
    theirs = subprocess.run(
        ["tcpdump", "-n", "-X", "-r", str(caps["echo_request"].path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    dumps = [line for line in theirs.splitlines() if line.startswith("\t0x")]
    sent = [lines[1:] for direction, lines in blocks(out.stdout) if direction == "Out"]
    assert [line for lines in sent for line in lines] == dumps


def test_lines_stay_whole_at_a_fast_interval(shared_lab: Lab) -> None:
    out = ok(shared_lab, "-v", "-c", "10", "-i", "0.2", "-q", SERVER_IP)
    known = re.compile(
        r"^(PING |\d\d:\d\d:\d\d\.\d{6} (Out|In ) |    \d|\t|$|--- |\d+ packets transmitted|rtt )"
    )
    assert all(known.match(line) for line in out.stdout.splitlines()), out.stdout


def test_flood_without_v_decodes_nothing(shared_lab: Lab) -> None:
    out = ok(shared_lab, "-f", "-c", "20", SERVER_IP)
    assert "ICMP echo" not in out.stdout and " Out " not in out.stdout


# --- --pcap -------------------------------------------------------------------------------------------


def _pcap_rows(path: Path) -> list[list[str]]:
    return tshark_fields(
        str(path),
        "icmp",
        ["icmp.type", "icmp.ident", "icmp.seq", "icmp.checksum.status", "ip.checksum.status"],
    )


def _reported_ids_and_seqs(stdout: str) -> set[tuple[int, int, int]]:
    found = re.findall(r"ICMP echo (request|reply), id (\d+), seq (\d+), length", stdout)
    return {(8 if kind == "request" else 0, int(ident), int(seq)) for kind, ident, seq in found}


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the unprivileged user may write to (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="layerping-views-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def check_pcap_against_run(path: Path, stdout: str, linktype: int, count: int) -> None:
    """tshark finds ``count`` requests and replies, all checksums good, the ids and seqs -v reported."""
    with open(path, "rb") as stream:
        assert read_pcap(stream).linktype == linktype
    rows = [row for row in tshark_rows(path) if "icmp.type" in row]
    types = [row["icmp.type"][0] for row in rows]
    assert types.count("8") == count and types.count("0") == count and len(rows) == 2 * count
    assert all(row["icmp.checksum.status"] == ["1"] and row["ip.checksum.status"] == ["1"] for row in rows)
    on_file = {(int(r["icmp.type"][0]), int(r["icmp.ident"][0]), int(r["icmp.seq"][0])) for r in rows}
    assert on_file == _reported_ids_and_seqs(stdout)
    assert {seq for _, _, seq in on_file} == set(range(1, count + 1))
    assert summary(stdout).received == count


@pytest.mark.parametrize("as_nobody", [False, True], ids=["raw", "unprivileged"])
def test_pcap_at_layer_icmp_is_read_by_tshark(shared_lab: Lab, shared_dir: Path, as_nobody: bool) -> None:
    _need("tshark")
    path = shared_dir / "run.pcap"
    out = run_layerping(
        shared_lab, "-v", "--pcap", str(path), "-c", "5", "-i", "0.05", SERVER_IP, as_nobody=as_nobody
    )
    assert out.returncode == 0, out.stderr
    check_pcap_against_run(path, out.stdout, LINKTYPE_RAW, 5)


@pytest.mark.parametrize("layer", ["ip", "ethernet"])
def test_pcap_at_link_layers_is_ethernet_and_read_by_tshark(
    shared_lab: Lab, tmp_path: Path, layer: str
) -> None:
    _need("tshark")
    path = tmp_path / "run.pcap"
    out = ok(shared_lab, "--layer", layer, "-v", "--pcap", str(path), "-c", "5", "-i", "0.05", SERVER_IP)
    check_pcap_against_run(path, out.stdout, LINKTYPE_ETHERNET, 5)


@pytest.mark.parametrize("layer", ["ip", "ethernet"])
def test_verbose_at_link_layers_is_what_tcpdump_saw(shared_lab: Lab, tmp_path: Path, layer: str) -> None:
    """Probes: the whole frame at layer ethernet, our IPv4 packet at layer ip (the kernel writes the
    link header there); replies with their Ethernet line at both layers."""
    _need("tcpdump")
    lab = shared_lab
    with captures(lab, tmp_path, "echo_request", "echo_reply") as caps:
        out = ok(lab, "--layer", layer, "-v", "-c", "3", "-i", "0.2", SERVER_IP)
    seen = blocks(out.stdout)
    sent = [lines for direction, lines in seen if direction == "Out"]
    received = [lines for direction, lines in seen if direction == "In"]
    requests = [frame for frame in tcpdump_lines(caps["echo_request"].path) if f"> {SERVER_IP}:" in frame[1]]
    if layer == "ip":
        requests = [[frame[0].split(": ", 1)[1], *frame[1:]] for frame in requests]
    assert sent == requests and len(sent) == 3
    assert received == tcpdump_lines(caps["echo_reply"].path) and len(received) == 3


def test_pcap_timestamps_are_the_rtt_timestamps(shared_lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    out = ok(shared_lab, "--pcap", str(path), "-c", "3", "-i", "0.1", SERVER_IP)
    with open(path, "rb") as stream:
        records = read_pcap(stream).records
    assert len(records) == 6
    rtts_ms = [float(m) for m in re.findall(r"time=([\d.]+) ms", out.stdout)]
    file_rtts_ms = [(records[i + 1].ts_ns - records[i].ts_ns) / 1e6 for i in range(0, 6, 2)]
    # iputils prints RTTs truncated to the microsecond (3 significant decimals).
    assert all(abs(a - b) < 0.002 for a, b in zip(rtts_ms, file_rtts_ms, strict=True)), (
        rtts_ms,
        file_rtts_ms,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_stopping_a_run_leaves_a_valid_pcap(shared_lab: Lab, tmp_path: Path, sig: signal.Signals) -> None:
    _need("tshark")
    path = tmp_path / "stopped.pcap"
    proc = subprocess.Popen(
        layerping_argv(shared_lab, "--pcap", str(path), "-i", "0.05", SERVER_IP),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    time.sleep(1.0)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=10)
    assert "Traceback" not in stderr
    with open(path, "rb") as stream:
        records = read_pcap(stream).records  # raises on a cut record
    assert len(records) >= 10
    checked = subprocess.run(["tshark", "-r", str(path)], capture_output=True, text=True, timeout=60)
    assert (
        checked.returncode == 0
        and "cut short" not in checked.stderr
        and "appears to be damaged" not in checked.stderr
    )
    assert len(checked.stdout.splitlines()) == len(records)
    if sig == signal.SIGINT:
        assert summary(stdout).transmitted + summary(stdout).received == len(records)


def test_pcap_to_an_unwritable_path_is_one_line(shared_lab: Lab) -> None:
    out = run_layerping(shared_lab, "--pcap", "/nonexistent-dir/x.pcap", "-c", "1", SERVER_IP)
    assert out.returncode == 2 and out.stdout == "" and len(out.stderr.splitlines()) == 1
    assert "cannot write /nonexistent-dir/x.pcap" in out.stderr


# --- --json -------------------------------------------------------------------------------------------


def _json_objects(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]  # every line must be JSON


def test_json_replies_and_summary(shared_lab: Lab) -> None:
    out = ok(shared_lab, "--json", "-c", "4", "-i", "0.05", SERVER_IP)
    objects = _json_objects(out.stdout)
    kinds = [o["event"] for o in objects]
    assert kinds.count("probe") == 4 and kinds.count("reply") == 4 and kinds[-1] == "summary"
    reply = next(o for o in objects if o["event"] == "reply")
    assert (
        reply["from"] == SERVER_IP and reply["ttl"] == 63 and reply["bytes"] == 64 and reply["dup"] is False
    )
    final = objects[-1]
    assert (final["transmitted"], final["received"], final["loss_percent"]) == (4, 4, 0.0)
    assert isinstance(final["rtt_p90_ms"], float) and final["rtt_min_ms"] <= final["rtt_p50_ms"]  # type: ignore[operator]
    assert final["rtt_p99_ms"] == final["rtt_max_ms"]


def test_json_errors_from_the_router(lab: Lab) -> None:
    out = run_layerping(lab, "--json", "-c", "3", "-i", "0.05", UNROUTED_IP)
    assert out.returncode == 1
    errors = [o for o in _json_objects(out.stdout) if o["event"] == "error"]
    assert [(o["seq"], o["from"], o["type"], o["code"], o["name"]) for o in errors] == [
        (n, ROUTER_CLIENT_IP, 3, 0, "Destination Net Unreachable") for n in (1, 2, 3)
    ]


def test_json_timeouts(lab: Lab) -> None:
    lab.nft(
        lab.router,
        """
table inet impair {
  chain impair_forward { type filter hook forward priority 0;
    icmp type echo-reply drop
  }
}""",
    )
    out = run_layerping(lab, "--json", "-c", "2", "-i", "0.05", "-W", "0.3", SERVER_IP)
    objects = _json_objects(out.stdout)
    assert [o for o in objects if o["event"] == "timeout"] == [
        {"event": "timeout", "seq": 1},
        {"event": "timeout", "seq": 2},
    ]
    assert objects[-1]["rtt_avg_ms"] is None and objects[-1]["loss_percent"] == 100.0


def test_json_refuses_verbose(shared_lab: Lab) -> None:
    out = run_layerping(shared_lab, "--json", "-v", "-c", "1", SERVER_IP)
    assert out.returncode == 2 and out.stdout == "" and "--json" in out.stderr


@pytest.mark.parametrize("layer", ["ip", "ethernet"])
def test_our_own_arp_is_shown_and_written(lab: Lab, tmp_path: Path, layer: str) -> None:
    """After a neighbour flush, -v shows our ARP request and the router's reply, and --pcap holds
    them before the first echo request (tshark reads them)."""
    lab.run(lab.client, "ip", "neigh", "flush", "dev", lab.client_if)
    path = str(tmp_path / "arp.pcap")
    out = run_layerping(lab, "--layer", layer, "-v", "-c", "1", "--pcap", path, SERVER_IP)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    request = next(i for i, line in enumerate(lines) if "Request who-has 192.0.2.1 tell 192.0.2.2" in line)
    reply = next(i for i, line in enumerate(lines) if "Reply 192.0.2.1 is-at" in line)
    echo = next(i for i, line in enumerate(lines) if "ICMP echo request" in line)
    assert " Out " in lines[request] and " In  " in lines[reply]
    assert request < reply < echo
    rows = tshark_fields(path, "arp or icmp", ["frame.protocols", "arp.opcode", "icmp.type"])
    kinds = [("arp", r[1]) if "arp" in r[0] else ("icmp", r[2]) for r in rows]
    assert kinds == [("arp", "1"), ("arp", "2"), ("icmp", "8"), ("icmp", "0")]
