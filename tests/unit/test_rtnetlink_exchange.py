"""layerping.discovery.rtnetlink: how a request waits for its answer.

The kernel answers a NETLINK_ROUTE request inside our ``sendto``, so ``_exchange`` reads first
without waiting and polls only when nothing is queued. A real kernel always answers at once,
so these tests put a socket pair in the netlink socket's place: the "kernel" end answers with a
captured answer (tests/unit/test_netlink.py) at once, late, or never.
"""

from __future__ import annotations

import os
import resource
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest

from layerping import errors
from layerping.discovery.rtnetlink import Rtnetlink
from tests.unit.test_netlink import ROUTE_VIA_ANS

pytestmark = pytest.mark.skipif(sys.byteorder != "little", reason="vectors are in x86-64 host order")

_SEQ: struct.Struct = struct.Struct("=I")  # nlmsghdr.nlmsg_seq, at byte 8


class FakeKernel:
    """Stands in for the NETLINK_ROUTE socket: answers each request after ``delay_s`` (None:
    never) with the captured route answer, renumbered to the request's sequence number."""

    def __init__(self, delay_s: float | None, fd: int | None = None) -> None:
        self.delay_s = delay_s
        self._ours, self._kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        if fd is not None:  # our end moved to descriptor ``fd``
            os.dup2(self._ours.fileno(), fd)
            self._ours.close()
            self._ours = socket.socket(fileno=fd)
        self.receive_calls = 0
        self._timers: list[threading.Timer] = []

    def fileno(self) -> int:
        return self._ours.fileno()

    def sendto(self, request: bytes, _address: tuple[int, int]) -> int:
        answer = bytearray(ROUTE_VIA_ANS)
        _SEQ.pack_into(answer, 8, _SEQ.unpack_from(request, 8)[0])
        if self.delay_s == 0:
            self._kernel.send(answer)  # what the kernel does: queued before sendto returns
        elif self.delay_s is not None:
            timer = threading.Timer(self.delay_s, self._kernel.send, (bytes(answer),))
            self._timers.append(timer)
            timer.start()
        return len(request)

    def recvmsg(
        self, size: int, ancillary: int = 0, flags: int = 0
    ) -> tuple[bytes, list[object], int, tuple[int, int]]:
        self.receive_calls += 1
        data, _ancillary, msg_flags, _address = self._ours.recvmsg(size, ancillary, flags)
        return data, [], msg_flags, (0, 0)  # port id 0: the kernel

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._ours.close()
        self._kernel.close()


@pytest.fixture
def netlink(request: pytest.FixtureRequest) -> Iterator[tuple[Rtnetlink, FakeKernel]]:
    delay_s, fd = request.param if isinstance(request.param, tuple) else (request.param, None)
    kernel = FakeKernel(delay_s, fd)
    rt = Rtnetlink(timeout_s=0.3)
    rt._sock.close()
    rt._sock = kernel  # type: ignore[assignment]
    try:
        yield rt, kernel
    finally:
        kernel.close()


def _expected(rt: Rtnetlink) -> None:
    route = rt.route_get(IPv4Address("198.51.100.2"))
    assert (route.oif, route.gateway) == (2, IPv4Address("192.0.2.1"))
    assert route.prefsrc == IPv4Address("192.0.2.2")


@pytest.mark.parametrize("netlink", [0], indirect=True)
def test_a_queued_answer_is_read_without_polling(
    netlink: tuple[Rtnetlink, FakeKernel], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, kernel = netlink

    def no_poll(*_args: object) -> object:
        raise AssertionError("polled although the answer was queued")

    monkeypatch.setattr(select, "poll", no_poll)
    _expected(rt)
    assert kernel.receive_calls == 1


_HIGH_FD = 1500  # beyond select()'s FD_SETSIZE (1024): a library caller may have many files open


@pytest.mark.parametrize(
    "netlink",
    [
        0.05,
        pytest.param(
            (0.05, _HIGH_FD),
            marks=pytest.mark.skipif(
                resource.getrlimit(resource.RLIMIT_NOFILE)[0] <= _HIGH_FD, reason="RLIMIT_NOFILE too low"
            ),
            id="descriptor-above-1023",
        ),
    ],
    indirect=True,
)
def test_a_late_answer_is_waited_for(netlink: tuple[Rtnetlink, FakeKernel]) -> None:
    rt, kernel = netlink
    _expected(rt)
    assert kernel.receive_calls == 2  # nothing queued at first, then the answer


@pytest.mark.parametrize("netlink", [None], indirect=True)
def test_no_answer_ends_at_the_timeout(netlink: tuple[Rtnetlink, FakeKernel]) -> None:
    rt, kernel = netlink
    started = time.monotonic()
    with pytest.raises(errors.DiscoveryError, match=r"no complete answer from the kernel within 0.3 s"):
        rt.route_get(IPv4Address("198.51.100.2"))
    assert 0.3 <= time.monotonic() - started < 3
    assert kernel.receive_calls == 1
