"""Unit checks of issue 15's file opening, hints and stdout guard (the lab tests run the command)."""

from __future__ import annotations

import errno
import io
import os
import socket
from pathlib import Path

import pytest

from layerping import errors
from layerping._stdio import GuardedStream
from layerping.privilege import open_user_file


def test_netlink_refused_hint_is_true(monkeypatch: pytest.MonkeyPatch) -> None:
    from layerping.discovery.rtnetlink import Rtnetlink

    def refuse(*args: object, **kwargs: object) -> socket.socket:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(socket, "socket", refuse)
    with pytest.raises(errors.DiscoveryError) as info:
        Rtnetlink()
    hint = info.value.hint
    # Overrides cannot help: --layer ip and ethernet ask rtnetlink whatever is given by hand.
    assert "by hand" not in hint and "security policy" in hint and "--layer icmp" in hint


def test_no_hint_suggests_a_file_capability() -> None:
    for hint in (errors.ICMP_PERMISSION_HINT, errors.PACKET_PERMISSION_HINT):
        assert "setcap" not in hint and "sudo" in hint
    assert "ping_group_range" in errors.ICMP_PERMISSION_HINT


def test_guarded_stream_keeps_the_first_error_and_never_raises() -> None:
    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    guard = GuardedStream(Full())
    assert guard.write("abc") == 3 and guard.write("de") == 2
    guard.flush()
    assert guard.error is not None and guard.error.errno == errno.ENOSPC
    closed = GuardedStream(None)
    closed.write("x")
    assert closed.error is not None and closed.error.errno == errno.EBADF


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_planted_file_in_a_sticky_directory_is_not_reused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    planted = shared / "run.pcap"
    planted.write_bytes(b"theirs")
    os.chown(planted, 12345, 12345)
    with pytest.raises(OSError) as info:
        open_user_file(str(planted), "wb")
    assert info.value.errno == errno.EACCES and planted.read_bytes() == b"theirs"
    own = shared / "mine.pcap"
    with open_user_file(str(own), "wb") as f:
        f.write(b"ok")
    assert own.read_bytes() == b"ok" and own.stat().st_uid == os.geteuid()
    assert open_user_file(str(own), "r").name == str(own)
