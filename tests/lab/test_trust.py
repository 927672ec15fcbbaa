"""Least privilege, the caller's files, and faults (issue 15, sections 1 and 4).

The oracle for privileges is the kernel's own account, ``/proc/PID/status`` of the running
command, read after its first reply line (iputils ping shows CapEff 0 there). A sudo-started run
is a root run whose environment names the invoking user (SUDO_UID/SUDO_GID 65534, as sudo(8) sets
them). Faults are made for real: a tmpfs of one page in the test's own mount namespace
(``unshare -m``), ``/dev/full``, a pipe closed by ``head -1``, ``ulimit -n``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import tool
from tests.lab.netlab import ROUTER_SERVER_IP, SERVER_IP, Lab

pytestmark = pytest.mark.lab

LAYERS = ("icmp", "ip", "ethernet")
NOBODY = 65534
SUDO_ENV = {"SUDO_UID": str(NOBODY), "SUDO_GID": str(NOBODY), "SUDO_USER": "nobody"}


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def _run(lab: Lab, *args: str, env: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(tool.layerping_argv(lab, *args), capture_output=True, text=True,
                          timeout=timeout, env={**tool.env(), **(env or {})})  # fmt: skip


def _shell(lab: Lab, script: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``script`` in bash, with ``$LP`` the command line of layerping in the client namespace."""
    command = " ".join(shlex.quote(a) for a in tool.layerping_argv(lab))
    return subprocess.run(["bash", "-c", f"export LP={shlex.quote(command)}\n{script}"], capture_output=True,
                          text=True, timeout=timeout, env=tool.env())  # fmt: skip


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
    return proc.stderr.strip()


# --- 1. no capability once the sockets are open, at every layer, in both modes -------------------


@pytest.mark.parametrize("many", [False, True], ids=["one", "many"])
@pytest.mark.parametrize("sudo", [False, True], ids=["root", "sudo"])
@pytest.mark.parametrize("layer", LAYERS)
def test_a_running_ping_holds_no_capability(shared_lab: Lab, layer: str, sudo: bool, many: bool) -> None:
    targets = [SERVER_IP, ROUTER_SERVER_IP] if many else [SERVER_IP]
    argv = tool.layerping_argv(shared_lab, "--layer", layer, "-c", "3", "-i", "0.3", *targets)
    env = {**tool.env(), **(SUDO_ENV if sudo else {})}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # bounded: the run sends 3 probes per target, then ends
            seen.append(line)
            if "bytes" in line and ("from" in line or " : [" in line):
                break
        status = _status(proc.pid)  # `ip netns exec` execs: this is the Python process
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (seen, out, err)
    for field in ("CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"):
        assert int(status[field], 16) == 0, (field, status[field])
    user = NOBODY if sudo else 0
    assert status["Uid"].split() == [str(user)] * 4
    assert status["Gid"].split() == [str(user)] * 4
    if sudo:
        assert status["Groups"].split() == [str(NOBODY)]


# --- 1. files a user names are opened with the invoking user's rights ----------------------------


@pytest.fixture
def dirs() -> Iterator[dict[str, Path]]:
    """A root-only directory with a root-only file, a directory nobody may write, and a sticky
    world-writable one (as /tmp)."""
    base = Path(tempfile.mkdtemp(prefix="layerping-trust-"))
    os.chmod(base, 0o755)
    root_only = base / "root-only"
    root_only.mkdir(mode=0o700)
    secret = base / "secret"
    secret.write_text("secret-line-7f3a.example\n")
    os.chmod(secret, 0o600)
    users = base / "users"
    users.mkdir()
    os.chown(users, NOBODY, NOBODY)
    shared = base / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    try:
        yield {"base": base, "root_only": root_only, "secret": secret, "users": users, "shared": shared}
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_sudo_run_writes_pcap_only_where_the_user_may(shared_lab: Lab, dirs: dict[str, Path]) -> None:
    refused = dirs["root_only"] / "x.pcap"
    line = _one_line(_run(shared_lab, "-c", "1", "--pcap", str(refused), SERVER_IP, env=SUDO_ENV))
    assert "Permission denied" in line and not refused.exists()
    made = dirs["users"] / "x.pcap"
    proc = _run(shared_lab, "-c", "1", "--pcap", str(made), SERVER_IP, env=SUDO_ENV)
    assert proc.returncode == 0, proc.stderr
    info = made.stat()
    assert (info.st_uid, info.st_gid) == (NOBODY, NOBODY) and info.st_size > 24


@pytest.mark.parametrize("option", ["--targets-file", "--exclude-file", "--decode-pcap"])
def test_sudo_run_cannot_read_what_the_user_cannot(shared_lab: Lab, dirs: dict[str, Path],
                                                   option: str) -> None:  # fmt: skip
    args = [option, str(dirs["secret"])]
    if option == "--exclude-file":
        args.append(SERVER_IP)
    proc = _run(shared_lab, "-c", "1", *args, env=SUDO_ENV)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Permission denied" in proc.stderr and "Traceback" not in proc.stderr
    assert "secret-line" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("sudo", [False, True], ids=["root", "sudo"])
def test_a_planted_symlink_does_not_redirect_the_pcap(shared_lab: Lab, dirs: dict[str, Path],
                                                      sudo: bool) -> None:  # fmt: skip
    # Another user's symlink in a sticky world-writable directory, pointing at a file both root
    # and the invoking user may write: fs.protected_symlinks semantics refuse to follow it.
    victim = dirs["users"] / "victim"
    victim.write_text("keep me\n")
    os.chown(victim, NOBODY, NOBODY)
    link = dirs["shared"] / "capture.pcap"
    link.symlink_to(victim)
    os.lchown(link, 12345, 12345)
    # Where fs.protected_symlinks is on the kernel refuses too (it is off here, and a test does not
    # change a sysctl outside its namespaces): then this test cannot fail on its own.
    proc = _run(shared_lab, "-c", "1", "--pcap", str(link), SERVER_IP, env=SUDO_ENV if sudo else None)
    line = _one_line(proc)
    assert "symlink" in line or "Permission denied" in line, line
    assert victim.read_text() == "keep me\n"


# --- 4. a pcap file that cannot be written --------------------------------------------------------


@pytest.mark.parametrize("layer", LAYERS)
def test_pcap_on_a_full_disk_keeps_whole_records_and_the_ping(shared_lab: Lab, layer: str,
                                                              tmp_path: Path) -> None:  # fmt: skip
    from layerping.wire.pcap import read_pcap

    kept = tmp_path / "kept.pcap"
    # One 4 KiB page of tmpfs, mounted in a mount namespace of this test's own: 30 probes and
    # their replies (60 records of 100 to 114 bytes) do not fit.
    script = (
        "set -e; d=$(mktemp -d); mount -t tmpfs -o size=4k tmpfs $d\n"
        f"set +e; $LP --layer {layer} -q -c 30 -i 0.01 --pcap $d/x.pcap {SERVER_IP}; echo rc=$?\n"
        f"cp $d/x.pcap {kept}; umount $d; rmdir $d"
    )
    proc = _shell(shared_lab, f"unshare -m bash -c {shlex.quote(script)}")
    assert "rc=0" in proc.stdout, (proc.stdout, proc.stderr)
    assert tool.summary(proc.stdout).received == 30
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and "capture stopped" in lines[0], lines
    with open(kept, "rb") as f:
        records = list(read_pcap(f).records)  # every record whole: no Truncated
    assert 20 <= len(records) < 60
    assert kept.stat().st_size == 24 + sum(16 + len(r.data) for r in records)


def test_pcap_to_dev_full_is_one_line_and_the_ping_goes_on(shared_lab: Lab) -> None:
    proc = _run(shared_lab, "-c", "2", "-i", "0.2", "--pcap", "/dev/full", SERVER_IP)
    assert proc.returncode == 0 and tool.summary(proc.stdout).received == 2, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "No space left on device" in proc.stderr


# --- 4. standard output: broken pipe, full, closed ------------------------------------------------

_MODES = {"one": [SERVER_IP], "many": [SERVER_IP, ROUTER_SERVER_IP]}


@pytest.mark.parametrize("json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("mode", list(_MODES))
def test_a_broken_pipe_ends_quietly_as_sigpipe(shared_lab: Lab, mode: str, json: bool) -> None:
    args = " ".join(["--json"] * json + ["-c", "5", "-i", "0.2", *_MODES[mode]])
    proc = _shell(shared_lab, f"$LP {args} | head -1; echo status=${{PIPESTATUS[0]}}")
    assert proc.stderr == ""
    assert proc.stdout.splitlines()[-1] == "status=141"  # 128 + SIGPIPE, as iputils ping


@pytest.mark.parametrize("json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("mode", list(_MODES))
@pytest.mark.parametrize("stdout", ["/dev/full", "closed"])
def test_a_full_or_closed_stdout_is_one_line_at_the_end(shared_lab: Lab, mode: str, json: bool,
                                                        stdout: str) -> None:  # fmt: skip
    # iputils ping 20221126 pings on, then says "ping: write error" and exits with status 1.
    args = " ".join(["--json"] * json + ["-c", "2", "-i", "0.2", *_MODES[mode]])
    redirect = ">/dev/full" if stdout == "/dev/full" else ">&-"
    proc = _shell(shared_lab, f"$LP {args} {redirect}; echo status=$? >&2")
    lines = proc.stderr.splitlines()
    reason = "No space left on device" if stdout == "/dev/full" else "Bad file descriptor"
    # (fping-style runs print their statistics on stderr, as fping does)
    assert lines[-2:] == [f"layerping: write error: {reason}", "status=1"], lines
    assert not [line for line in lines[:-2] if line.startswith(("layerping", "Traceback", "Exception"))]


# --- 4. too few file descriptors -------------------------------------------------------------------


@pytest.mark.parametrize("many", [False, True], ids=["one", "many"])
@pytest.mark.parametrize("layer", LAYERS)
def test_too_few_file_descriptors_is_one_line(shared_lab: Lab, layer: str, many: bool) -> None:
    targets = f"{SERVER_IP} {ROUTER_SERVER_IP}" if many else SERVER_IP
    refused = 0
    for limit in range(6, 13):  # Python itself starts with 6; a run needs a few more
        proc = _shell(shared_lab, f"ulimit -n {limit}; $LP --layer {layer} -c 1 {targets}")
        if "Fatal Python error" in proc.stderr:  # the interpreter could not start: not ours
            continue
        assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, (limit, proc.stderr)
        if proc.returncode == 2:
            line = _one_line(proc)
            assert re.search(r"Too many open files: raise the limit with `ulimit -n`", line), line
            refused += 1
        else:
            assert proc.returncode == 0, (limit, proc.stdout, proc.stderr)
    assert refused, "no limit was low enough to refuse the run"


def test_privilege_module_is_command_only() -> None:
    """A program that imports layerping keeps its privileges (only the command drops them)."""
    code = (
        "import layerping, layerping.privilege as p\n"
        "r = layerping.ping('127.0.0.1', count=1, interval=0.2)\n"
        "p.drop()\n"
        "print(r.stats.received, open('/proc/self/status').read().count('CapEff:\\t0000000000000000'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                         env={"PYTHONPATH": tool.SRC})  # fmt: skip
    assert out.stdout.split() == ["1", "0"], out.stderr


def test_root_still_reads_any_targets_file(shared_lab: Lab, dirs: dict[str, Path]) -> None:
    """Root's capabilities go once the sockets are open: the targets file is opened before that,
    so root still reads a file only its owner may read (root's rights are the user's here)."""
    listed = dirs["base"] / "theirs.txt"
    listed.write_text(f"{SERVER_IP}\n{ROUTER_SERVER_IP}\n")
    os.chown(listed, 12345, 12345)
    os.chmod(listed, 0o600)
    proc = _run(shared_lab, "-c", "1", "--targets-file", str(listed))
    assert proc.returncode == 0, proc.stderr
    assert SERVER_IP in proc.stdout and ROUTER_SERVER_IP in proc.stdout
