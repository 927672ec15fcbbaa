"""``--layer icmp`` in the lab: real kernel, real packets, iputils and tcpdump as oracles."""

from __future__ import annotations

import re
import signal
import subprocess
import time

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
from tests.lab.tool import env, layerping_argv, reply_lines, run_layerping, run_ping, summary

pytestmark = pytest.mark.lab

REPLY = re.compile(r"^64 bytes from (?P<src>[\d.]+): icmp_seq=(?P<seq>\d+) ttl=(?P<ttl>\d+) time=[\d.]+ ms$")


def test_server_beyond_router_matches_iputils_and_capture(shared_lab: Lab, tmp_path: object) -> None:
    lab = shared_lab
    cap = Capture(lab, lab.client, lab.client_if, f"{tmp_path}/c.pcap", "icmp")
    ours = run_layerping(lab, "-c", "5", "-i", "0.05", SERVER_IP)
    theirs = run_ping(lab, "-c", "5", "-i", "0.05", SERVER_IP)
    path = cap.stop()
    assert ours.returncode == 0 == theirs.returncode, ours.stderr
    assert ours.stdout.splitlines()[0] == f"PING {SERVER_IP} ({SERVER_IP}) 56(84) bytes of data."
    lines = reply_lines(ours.stdout)
    assert [REPLY.match(line)["seq"] for line in lines] == ["1", "2", "3", "4", "5"]  # type: ignore[index]
    assert all(REPLY.match(line)["ttl"] == "63" for line in lines)  # type: ignore[index]
    assert summary(ours.stdout) == summary(theirs.stdout)
    assert re.search(r"^rtt min/avg/max/mdev = [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms$", ours.stdout, re.M)
    # The wire: ten requests (ours and iputils'), ten replies, all checksums good.
    rows = tshark_fields(path, "icmp.type == 0 or icmp.type == 8", ["icmp.type", "icmp.checksum.status"])
    assert sorted(r[0] for r in rows).count("8") == 10
    assert sorted(r[0] for r in rows).count("0") == 10
    assert {r[1] for r in rows} == {"1"}


def test_router_answers_with_ttl_64(shared_lab: Lab) -> None:
    out = run_layerping(shared_lab, "-c", "2", "-i", "0.05", ROUTER_CLIENT_IP)
    assert out.returncode == 0
    assert all(" ttl=64 " in line for line in reply_lines(out.stdout))


def test_options_reach_the_wire(shared_lab: Lab, tmp_path: object) -> None:
    """-s, -t, -Q, -p and -M do as a capture decodes them (tshark)."""
    lab = shared_lab
    cap = Capture(lab, lab.client, lab.client_if, f"{tmp_path}/o.pcap", "icmp")
    out = run_layerping(
        lab,
        "-c",
        "2",
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
        "do",
        SERVER_IP,
    )
    path = cap.stop()
    assert out.returncode == 0, out.stderr
    assert "PING 198.51.100.2 (198.51.100.2) 100(128) bytes of data." in out.stdout
    assert all(line.startswith("108 bytes from") for line in reply_lines(out.stdout))
    rows = tshark_fields(
        path, "icmp.type == 8", ["ip.ttl", "ip.dsfield", "ip.flags.df", "ip.len", "data.data"]
    )
    assert len(rows) == 2
    for ttl, dsfield, df, length, data in rows:
        assert (ttl, dsfield, df, length) == ("17", "0x28", "1", "128")
        # 8-byte per-run cookie, then the -p pattern repeated.
        assert data[16:].startswith("abcdabcd") and len(data) == 200


# The router answers "no route" through ip_error(), whose rate limit (net.ipv4.route.error_cost,
# 1 s a token, burst 5, global and not per namespace, so tests must not change it) is shared
# per source with every other ICMP error: tests of Net Unreachable use a fresh lab each.


def test_net_unreachable_from_router(lab: Lab) -> None:
    out = run_layerping(lab, "-c", "2", "-i", "0.05", UNROUTED_IP)
    assert out.returncode == 1
    assert f"From {ROUTER_CLIENT_IP} icmp_seq=1 Destination Net Unreachable" in out.stdout
    assert f"From {ROUTER_CLIENT_IP} icmp_seq=2 Destination Net Unreachable" in out.stdout
    s = summary(out.stdout)
    assert (s.transmitted, s.received, s.errors) == (2, 0, 2)


def test_ttl_exceeded_from_router(shared_lab: Lab) -> None:
    out = run_layerping(shared_lab, "-c", "2", "-i", "0.05", "-t", "1", SERVER_IP)
    assert out.returncode == 1
    assert f"From {ROUTER_CLIENT_IP} icmp_seq=1 Time to live exceeded" in out.stdout


@pytest.mark.parametrize("as_nobody", [False, True], ids=["raw", "unprivileged"])
def test_absent_host_on_link(shared_lab: Lab, as_nobody: bool) -> None:
    out = run_layerping(shared_lab, "-c", "2", "-i", "0.2", ABSENT_ON_LINK_IP, as_nobody=as_nobody)
    assert out.returncode == 1, out.stderr
    assert f"From {CLIENT_IP} icmp_seq=1 Destination Host Unreachable" in out.stdout
    assert summary(out.stdout).errors == 2


def test_unprivileged_user_through_datagram_socket(shared_lab: Lab) -> None:
    lab = shared_lab
    out = run_layerping(lab, "-c", "3", "-i", "0.05", SERVER_IP, as_nobody=True)
    assert out.returncode == 0, out.stderr
    assert summary(out.stdout).received == 3
    assert all(" ttl=63 " in line for line in reply_lines(out.stdout))
    # Errors reach the unprivileged path through IP_RECVERR and the error queue.
    out = run_layerping(lab, "-c", "1", "-t", "1", SERVER_IP, as_nobody=True)
    assert f"From {ROUTER_CLIENT_IP} icmp_seq=1 Time to live exceeded" in out.stdout
    # Flooding is for root only, as in iputils.
    out = run_layerping(lab, "-f", "-c", "1", SERVER_IP, as_nobody=True)
    assert out.returncode == 2 and "minimal interval allowed for user is 2ms" in out.stderr


def test_unprivileged_net_unreachable(lab: Lab) -> None:
    out = run_layerping(lab, "-c", "2", "-i", "0.05", UNROUTED_IP, as_nobody=True)
    assert out.returncode == 1
    assert f"From {ROUTER_CLIENT_IP} icmp_seq=2 Destination Net Unreachable" in out.stdout
    assert summary(out.stdout).errors == 2


def test_no_permission_at_all_says_how(lab: Lab) -> None:
    lab.sysctl(lab.client, "net.ipv4.ping_group_range", "1 0")
    out = run_layerping(lab, "-c", "1", SERVER_IP, as_nobody=True)
    assert out.returncode == 2
    assert out.stdout == ""
    line = out.stderr.strip()
    assert "\n" not in line and "ping_group_range" in line and "sudo" in line and "setcap" not in line


def test_message_too_long_with_df(shared_lab: Lab) -> None:
    out = run_layerping(shared_lab, "-c", "1", "-s", "1473", "-M", "do", SERVER_IP)
    assert out.returncode == 1
    assert "local error: message too long, mtu=1500" in out.stderr
    assert summary(out.stdout).errors == 1
    out = run_layerping(shared_lab, "-c", "1", "-s", "1472", "-M", "do", SERVER_IP)
    assert out.returncode == 0 and reply_lines(out.stdout)[0].startswith("1480 bytes from")


def test_eight_instances_at_once_count_exactly(shared_lab: Lab) -> None:
    procs = [
        subprocess.Popen(
            layerping_argv(shared_lab, "-c", "30", "-i", "0.01", "-q", SERVER_IP),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for _ in range(8)
    ]
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        s = summary(stdout)
        assert (s.transmitted, s.received, s.duplicates, s.corrupted) == (30, 30, 0, 0)


def _count_replies(path: str) -> int:
    return len(tshark_fields(path, "icmp.type == 0", ["icmp.seq"]))


def test_loss_counted_as_the_capture_shows(lab: Lab, tmp_path: object) -> None:
    lab.nft(
        lab.router,
        """
table inet impair {
  chain impair_forward { type filter hook forward priority 0;
    icmp type echo-reply numgen random mod 100 < 30 drop
  }
}""",
    )
    cap = Capture(lab, lab.client, lab.client_if, f"{tmp_path}/l.pcap", "icmp")
    out = run_layerping(lab, "-c", "60", "-i", "0.01", "-W", "1", "-q", SERVER_IP)
    path = cap.stop()
    s = summary(out.stdout)
    on_wire = _count_replies(path)
    assert s.transmitted == 60
    assert s.received == on_wire
    assert 0 < s.received < 60  # 30 % loss over 60 probes: both extremes are astronomically unlikely
    assert out.returncode == 0


def test_duplicates_counted_as_the_capture_shows(lab: Lab, tmp_path: object) -> None:
    lab.nft(
        lab.router,
        f"""
table ip impair {{
  chain impair_post {{ type filter hook postrouting priority 0;
    oifname "{lab.router_client_if}" icmp type echo-reply icmp sequence < 4 \\
      dup to {CLIENT_IP} device "{lab.router_client_if}"
  }}
}}""",
    )
    cap = Capture(lab, lab.client, lab.client_if, f"{tmp_path}/d.pcap", "icmp")
    out = run_layerping(lab, "-c", "6", "-i", "0.05", SERVER_IP)
    path = cap.stop()
    s = summary(out.stdout)
    on_wire = _count_replies(path)
    assert on_wire == 9  # seq 1, 2, 3 doubled
    assert (s.received, s.duplicates) == (6, on_wire - 6)
    assert sum(line.endswith(" (DUP!)") for line in out.stdout.splitlines()) == 3


def test_corruption_counted_never_received(lab: Lab, tmp_path: object) -> None:
    # Overwrite payload byte 12 of replies with even sequence numbers: the ICMP checksum
    # no longer matches (nft does not fix it for raw payload writes).
    lab.nft(
        lab.router,
        """
table ip impair {
  chain impair_forward { type filter hook forward priority 0;
    icmp type echo-reply icmp sequence & 1 == 0 @th,160,8 set 0xff
  }
}""",
    )
    cap = Capture(lab, lab.client, lab.client_if, f"{tmp_path}/x.pcap", "icmp")
    out = run_layerping(lab, "-c", "6", "-i", "0.05", "-W", "1", SERVER_IP)
    path = cap.stop()
    bad_on_wire = len(tshark_fields(path, "icmp.type == 0 && icmp.checksum.status == 0", ["icmp.seq"]))
    s = summary(out.stdout)
    assert bad_on_wire == 3
    assert (s.received, s.corrupted) == (3, 3)
    assert sum("(BAD CHECKSUM!)" in line for line in out.stdout.splitlines()) == 3


def test_interrupt_prints_summary_and_quit_prints_status(shared_lab: Lab) -> None:
    proc = subprocess.Popen(
        layerping_argv(shared_lab, "-i", "0.05", SERVER_IP),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    time.sleep(0.6)
    proc.send_signal(signal.SIGQUIT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert f"--- {SERVER_IP} ping statistics ---" in stdout
    assert re.search(r"^\r?\d+/\d+ packets, \d+% loss, min/avg/ewma/max = [\d./]+ ms$", stderr, re.M), stderr
    assert "Traceback" not in stderr


def test_deadline_and_count(lab: Lab) -> None:
    start = time.monotonic()
    out = run_layerping(lab, "-w", "1", "-i", "0.2", ABSENT_ON_LINK_IP)
    assert out.returncode == 1
    assert 0.9 < time.monotonic() - start < 5
    # With -w, the first error ends the run (iputils), and -c counts replies.
    out = run_layerping(lab, "-w", "5", "-i", "0.2", UNROUTED_IP)
    assert out.returncode == 1 and summary(out.stdout).errors == 1
    out = run_layerping(lab, "-w", "3", "-c", "2", "-i", "0.05", SERVER_IP)
    assert out.returncode == 0 and summary(out.stdout).received == 2


def test_interface_and_source_in_header(shared_lab: Lab) -> None:
    out = run_layerping(shared_lab, "-c", "1", "-I", shared_lab.client_if, SERVER_IP)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(
        f"PING {SERVER_IP} ({SERVER_IP}) from {CLIENT_IP} {shared_lab.client_if}: 56(84)"
    )
    out = run_layerping(shared_lab, "-c", "1", "-I", CLIENT_IP, SERVER_IP)
    assert out.stdout.startswith(f"PING {SERVER_IP} ({SERVER_IP}) from {CLIENT_IP}: 56(84)")


BAD_INPUTS = [
    (["-c", "1", "nosuchhost.invalid"], "nosuchhost.invalid"),
    (["-c", "x", SERVER_IP], "count"),
    (["-c", "0", SERVER_IP], "count"),
    (["-i", "abc", SERVER_IP], "interval"),
    (["-s", "65508", SERVER_IP], "size"),
    (["-t", "256", SERVER_IP], "ttl"),
    (["-Q", "300", SERVER_IP], "TOS"),
    (["-p", "xyz", SERVER_IP], "hex digits"),
    (["-M", "sometimes", SERVER_IP], "-M"),
    (["-I", "nosuch0", SERVER_IP], "nosuch0"),
    (["-c", "1", "198.51.100.300"], "198.51.100.300"),
    (["-c", "1", "192.0.2.255"], "-b"),
    ([], "destination"),
]


@pytest.mark.parametrize(("args", "word"), BAD_INPUTS, ids=[" ".join(a) or "none" for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2(shared_lab: Lab, args: list[str], word: str) -> None:
    out = run_layerping(shared_lab, *args)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerping: ") and word in lines[0], out.stderr


def test_no_route_is_one_line_exit_2(lab: Lab) -> None:
    lab.run(lab.client, "ip", "route", "del", "203.0.113.0/24")
    out = run_layerping(lab, "-c", "1", UNROUTED_IP)
    assert out.returncode == 2
    assert len(out.stderr.splitlines()) == 1 and "no route" in out.stderr


def test_interval_below_2ms_refused_for_users(shared_lab: Lab) -> None:
    out = run_layerping(shared_lab, "-c", "1", "-i", "0.001", SERVER_IP, as_nobody=True)
    assert out.returncode == 2 and "2ms" in out.stderr


def test_timestamps_outstanding_preload_and_version(shared_lab: Lab) -> None:
    lab = shared_lab
    out = run_layerping(lab, "-c", "2", "-i", "0.05", "-D", SERVER_IP)
    lines = reply_lines(out.stdout)
    assert len(lines) == 2
    assert all(
        re.match(r"^\[\d{10}\.\d{6}\] 64 bytes from 198\.51\.100\.2: icmp_seq=\d ", line) for line in lines
    )
    # -O: the absent host never answers (its ARP fails only after 3 s), so each new probe
    # reports the previous one.
    out = run_layerping(lab, "-c", "3", "-i", "0.1", "-W", "0.5", "-O", ABSENT_ON_LINK_IP)
    assert "no answer yet for icmp_seq=1" in out.stdout and "no answer yet for icmp_seq=2" in out.stdout
    # -l 3: three probes leave at once, so three are in flight together ("pipe 3").
    out = run_layerping(lab, "-c", "3", "-l", "3", "-i", "5", SERVER_IP)
    assert out.returncode == 0 and summary(out.stdout).received == 3
    assert "time 0ms" in out.stdout  # all three went at the start, none waited for -i 5
    out = run_layerping(lab, "-V")
    assert out.returncode == 0 and out.stdout.startswith("layerping ")


def test_broadcast_needs_b_and_then_gets_replies(lab: Lab) -> None:
    lab.sysctl(lab.router, "net.ipv4.icmp_echo_ignore_broadcasts", "0")
    out = run_layerping(lab, "-c", "1", "192.0.2.255")
    assert out.returncode == 2 and "-b" in out.stderr
    out = run_layerping(lab, "-b", "-c", "2", "-i", "0.1", "192.0.2.255")
    assert out.returncode == 0, out.stderr
    assert f"64 bytes from {ROUTER_CLIENT_IP}: icmp_seq=1 " in out.stdout


def test_names_are_resolved_and_shown_like_iputils(shared_lab: Lab) -> None:
    out = run_layerping(shared_lab, "-c", "1", "localhost")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("PING localhost (127.0.0.1) 56(84) bytes of data.")
    assert "64 bytes from localhost (127.0.0.1): icmp_seq=1 ttl=64 time=" in out.stdout
    assert "--- localhost ping statistics ---" in out.stdout
    out = run_layerping(shared_lab, "-n", "-c", "1", "localhost")
    assert "64 bytes from 127.0.0.1: icmp_seq=1 " in out.stdout


def test_fping_options_with_one_target_give_fping_output(shared_lab: Lab) -> None:
    """-r, --rate and --exclude are fping's: never parsed and ignored, even for one target."""
    out = run_layerping(shared_lab, "-r", "0", "-W", "0.5", SERVER_IP)
    assert (out.returncode, out.stdout) == (0, f"{SERVER_IP} is alive\n"), out.stderr
    out = run_layerping(shared_lab, "--rate", "10", "--exclude", SERVER_IP, SERVER_IP)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1
