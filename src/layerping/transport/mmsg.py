"""The ``sendmmsg(2)``/``recvmmsg(2)`` plumbing of the batch adapters (transport/batch.py):
ctypes layouts, one batch's send buffers, control-message reading, socket buffer sizing and
reaping a sender process. Python's socket module has neither call, so they go through ctypes
(imported on first use: it costs 2 ms).
"""

from __future__ import annotations

import errno
import functools
import os
import select
import socket
import struct
import time
from typing import Any, Final

from layerping import _linux

_CMSG_HEAD: Final = struct.Struct("=Qii")
_TIMESPEC: Final = struct.Struct("=qq")
_INT: Final = struct.Struct("=i")
MSG_LEN_OFFSET: Final = 56  # offsetof(struct mmsghdr, msg_len) on LP64
_SOL_SOCKET: Final = int(socket.SOL_SOCKET)
_SCM_TIMESTAMPNS: Final = _linux.SCM_TIMESTAMPNS


@functools.cache
def mmsg_types() -> tuple[Any, Any]:
    """ctypes ``struct iovec`` and ``struct mmsghdr`` (imported on first use: ctypes costs 2 ms)."""
    import ctypes

    class Iovec(ctypes.Structure):
        _fields_ = (("base", ctypes.c_void_p), ("len", ctypes.c_size_t))

    class Msghdr(ctypes.Structure):
        _fields_ = (
            ("name", ctypes.c_void_p),
            ("namelen", ctypes.c_uint32),
            ("iov", ctypes.c_void_p),
            ("iovlen", ctypes.c_size_t),
            ("control", ctypes.c_void_p),
            ("controllen", ctypes.c_size_t),
            ("flags", ctypes.c_int),
        )

    class Mmsghdr(ctypes.Structure):
        _fields_ = (("hdr", Msghdr), ("len", ctypes.c_uint))

    if ctypes.sizeof(Mmsghdr) != 64 or Mmsghdr.len.offset != MSG_LEN_OFFSET:
        raise OSError("unexpected struct mmsghdr layout (not LP64 Linux)")
    return Iovec, Mmsghdr




_ERRNO_TEXT = {
    errno.EACCES: "sendmsg: Permission denied (broadcast needs -b; else check firewall rules)",
    errno.EMSGSIZE: "local error: message too long",
}


def send_error_text(err: int) -> str:
    return _ERRNO_TEXT.get(err) or f"sendmsg: {os.strerror(err)}"


class TxSet:
    """One batch worth of probes for ``sendmmsg``: buffer, ``sockaddr_in`` names, headers.

    With ``shared`` (an anonymous ``MAP_SHARED`` mapping) everything lives there, so a forked
    sender process sees what the loop writes; the pointers inside stay valid across fork().
    """

    def __init__(self, capacity: int, stride: int, shared: Any = None, name: bytes = b"") -> None:
        import ctypes

        iovec_type, mmsghdr_type = mmsg_types()
        name_stride = _name_stride(name)
        data_type = ctypes.c_char * (stride * capacity)
        names_type = ctypes.c_char * (name_stride * capacity or 1)
        iov_type = iovec_type * capacity
        hdrs_type = mmsghdr_type * capacity
        if shared is None:
            self.data = data_type()
            self.names = names_type()
            self.iov = iov_type()
            self.hdrs = hdrs_type()
        else:
            memory, offset = shared
            self.data = data_type.from_buffer(memory, offset)
            offset += ctypes.sizeof(data_type)
            self.names = names_type.from_buffer(memory, offset)
            offset += ctypes.sizeof(names_type)
            self.iov = iov_type.from_buffer(memory, offset)
            offset += ctypes.sizeof(iov_type)
            self.hdrs = hdrs_type.from_buffer(memory, offset)
        self.view = memoryview(self.data).cast("B")
        self.names_view = memoryview(self.names).cast("B")
        data_base = ctypes.addressof(self.data)
        names_base = ctypes.addressof(self.names)
        self.name_stride = name_stride
        for k in range(capacity):
            self.iov[k].base = data_base + k * stride
            self.iov[k].len = stride
            hdr = self.hdrs[k].hdr
            if name:  # else msg_name stays NULL: the socket is bound (or connected)
                hdr.name = names_base + name_stride * k
                hdr.namelen = len(name)
                self.names_view[name_stride * k : name_stride * k + len(name)] = name
            hdr.iov = ctypes.addressof(self.iov[k])
            hdr.iovlen = 1
        self.hdrs_addr = ctypes.addressof(self.hdrs)
        self.busy = False
        self.slots: list[int] = []
        self.first_serial = 0
        #: Slots whose next-hop MAC is not the default one (MmsgLinkIO restores them).
        self.other_next_hop: list[int] = []

    @staticmethod
    def size(capacity: int, stride: int, name: bytes = b"") -> int:
        """Bytes one set takes in a shared mapping (each part 8-byte aligned)."""
        import ctypes

        iovec_type, mmsghdr_type = mmsg_types()
        return stride * capacity + (_name_stride(name) * capacity or 8) + (
            ctypes.sizeof(iovec_type) * capacity + ctypes.sizeof(mmsghdr_type) * capacity
        )


def _name_stride(name: bytes) -> int:
    return (len(name) + 7) & ~7


def reaped_within(pid: int, timeout_s: float) -> bool:
    """Wait for child ``pid`` to exit, at most ``timeout_s``; True once it is reaped.

    A pidfd becomes readable the moment the child exits (pidfd_open(2), Linux 5.3), so the
    wait ends then, not at the next tick of a polling loop (which cost up to 10 ms per run).
    """
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = -1
    try:
        deadline = time.monotonic() + timeout_s
        for _ in range(10_000):  # bounded; each round waits for the pidfd or 10 ms
            if os.waitpid(pid, os.WNOHANG)[0]:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if pidfd >= 0:
                select.select((pidfd,), (), (), remaining)
            else:
                time.sleep(min(remaining, 0.01))
        return False
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def control_fields(ctl: memoryview, offset: int, size: int) -> tuple[int, int | None]:
    """(rx_ns, ttl) from one message's control buffer: SO_TIMESTAMPNS and IP_TTL cmsgs."""
    rx_ns = 0
    ttl: int | None = None
    position = offset
    end = offset + size
    while position + 16 <= end:
        length, level, kind = _CMSG_HEAD.unpack_from(ctl, position)
        if length < 16:
            break
        if level == _SOL_SOCKET and kind == _SCM_TIMESTAMPNS and length >= 32:
            sec, nsec = _TIMESPEC.unpack_from(ctl, position + 16)
            rx_ns = sec * 1_000_000_000 + nsec
        elif level == socket.IPPROTO_IP and kind == socket.IP_TTL and length >= 20:
            (ttl,) = _INT.unpack_from(ctl, position + 16)
        position += (length + 7) & ~7
    return (rx_ns or time.time_ns()), ttl


def size_buffers(sock: socket.socket, rate_pps: float) -> None:
    """Socket buffers for a run at ``rate_pps``: half a second of replies, 4 MiB to 64 MiB.

    A reply to a 64-byte probe takes about 1 KiB of receive buffer (skb truesize), and the
    kernel drops what does not fit. As root the FORCE options pass net.core.rmem_max.
    """
    want = int(min(max(rate_pps * 512, 4 << 20), 64 << 20))
    options = ((_linux.SO_RCVBUFFORCE, socket.SO_RCVBUF), (_linux.SO_SNDBUFFORCE, socket.SO_SNDBUF))
    for force, plain in options:
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, want)
        except OSError:
            try:
                sock.setsockopt(socket.SOL_SOCKET, plain, want)
            except OSError:
                pass
