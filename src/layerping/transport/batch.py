"""Batch I/O for many targets on a transport's own socket: one system call moves a whole batch.

The engine's :class:`~layerping.engine.multi_runner.MultiRunner` drives a
:class:`~layerping.engine.multi_runner.BatchIO`; the adapters here are the fast ones, and they
belong with the transports because they use what only a transport knows (its socket, whether the
kernel owns the identifier, its path plan and IPv4 header settings):

* :class:`MmsgIcmpIO` is layer icmp at speed: ``sendmmsg(2)``/``recvmmsg(2)`` (through ctypes,
  which Python's socket module lacks) on the socket of an ``IcmpSocketTransport``, so one system
  call moves up to ``capacity`` probes and one drains up to as many replies; above 20 000
  probes/s a sender thread or process makes the sendmmsg calls.
* :class:`MmsgLinkIO` does the same on the packet socket of layers ip and ethernet, writing our
  IPv4 (and Ethernet) header around every probe and sending each to its own next hop's MAC.

They hand what they receive to the session through :class:`BatchSession`, the few methods of
:class:`~layerping.engine.multi.MultiSession` they call.
"""

from __future__ import annotations

import collections
import errno
import os
import select
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, Protocol

from layerping import _linux
from layerping.errors import TransportError
from layerping.inet.v4 import IPV4
from layerping.transport.base import Inbound, Transport, drain
from layerping.transport.mmsg import (
    MSG_LEN_OFFSET,
    TxSet,
    control_fields,
    mmsg_types,
    reaped_within,
    send_error_text,
    size_buffers,
)
from layerping.wire.columns import write_columns

if TYPE_CHECKING:
    import queue  # the thread sender's queues; imported when a thread sender starts

    from layerping.engine.multi_runner import BatchIO, SendResult
    from layerping.inet.family import Family, Received

class BatchSession(Protocol):
    """What the adapters call on the session (:class:`~layerping.engine.multi.MultiSession`)."""

    def last_batch(self) -> tuple[list[int], int]:
        """The slots of the batch just filled, and its first probe serial."""
        ...

    def refused(self, slot: int, serial: int, text: str) -> None:
        """The kernel refused to send probe ``serial`` of ``slot``."""
        ...

    def on_messages(self, data: bytes | bytearray | memoryview, messages: Iterable[Received]) -> None:
        """ICMP messages (no IP header) found at the given offsets of ``data``."""
        ...

    def count_foreign(self, count: int) -> None:
        """``count`` received datagrams were not ours (not whole ICMP datagrams)."""
        ...

    def on_inbound(self, inbound: Inbound) -> None:
        """One message the transport received and parsed."""
        ...


# Layouts the batch paths read and write (struct cmsghdr and struct
# sockaddr_in as Linux lays them out on 64-bit machines, checked through ctypes).
_SOCKADDR_LL: Final = struct.Struct("=HHiHBB8s")  # struct sockaddr_ll (packet(7))
_CTL_ROW: Final = struct.Struct("=QiiqQ32x")  # one message's 64-byte control buffer, stamp first
_CMSG_HEAD: Final = struct.Struct("=Qii")
_TIMESPEC: Final = struct.Struct("=qq")
_INT: Final = struct.Struct("=i")
_MSG_LEN: Final = struct.Struct("=I")
_SOCKADDR_FAMILY: Final = struct.Struct("=H")
_SOCKADDR_ADDR: Final = struct.Struct("!I")  # sin_addr, 4 bytes into struct sockaddr_in
_JOB: Final = struct.Struct("=II")  # to a sender process: (set index, probes)
_DONE: Final = struct.Struct("=II")  # back: (set index, refusals), then (batch index, errno) each
_PR_SET_PDEATHSIG: Final = 1  # include/uapi/linux/prctl.h
_SOL_SOCKET: Final = int(socket.SOL_SOCKET)
_SCM_TIMESTAMPNS: Final = _linux.SCM_TIMESTAMPNS
_MSG_DONTWAIT: Final = int(socket.MSG_DONTWAIT)


def batch_io_for(transport: Transport, template_len: int, rate_pps: float,
                 sender: str | None = None) -> BatchIO | None:  # fmt: skip
    """The fastest adapter for ``transport``; None when only the generic one fits.

    ``sender`` is MmsgIcmpIO's choice of who calls sendmmsg (None: its default).
    """
    from layerping.transport.icmp_socket import IcmpSocketTransport

    if isinstance(transport, IcmpSocketTransport):
        try:
            return MmsgIcmpIO(transport, template_len, rate_pps, sender=sender)
        except (OSError, AttributeError):  # no sendmmsg in this libc: stay generic
            return None
    return None


class MmsgIcmpIO:
    """Layer icmp with ``sendmmsg``/``recvmmsg``: one system call per batch each way.

    Probes sit in a ctypes buffer, ``stride`` bytes apart, each with its own ``sockaddr_in``;
    replies land in another, each with its control buffer for the ``SO_TIMESTAMPNS`` stamp
    (and ``IP_TTL`` on the datagram socket). Raw socket: the reply carries its IPv4 header, read
    in one ``unpack_from`` (RFC 791: IHL, total length, TTL, source). Datagram socket: the ICMP
    message alone, the source from ``msg_name``. Socket buffers are enlarged (``SO_RCVBUFFORCE``
    and ``SO_SNDBUFFORCE`` as root) so that a fast sweep does not overflow them.

    Who makes the ``sendmmsg`` calls (``sender``):

    * ``"inline"``: the loop itself, ``tx_ns`` taken right before the system call;
    * ``"thread"``: one sender thread, while the loop goes on receiving and writing the next
      batch into a second buffer (ctypes releases the GIL during the call);
    * ``"process"``: one forked sender process, the same with no GIL to share; the buffers are
      in a shared mapping and the two talk through pipes.

    Offloading matters at full speed: inside ``sendmmsg`` the kernel routes every probe and, on
    a veth path, runs the whole round trip in softirq context, which the sender then does on
    the other core. A probe's ``tx_ns`` is taken when its batch is handed over, so RTTs include
    the wait for the previous batch (at most one batch of kernel work, about a millisecond for
    256 probes). Below ``offload_from_pps`` the loop always sends itself; above it ``sender``
    decides (the ``LAYERPING_SENDER`` environment variable overrides it, for benchmarks), and
    ``None`` means ``thread``: fork() is no option for a library. The command line asks for
    ``process`` (it falls back to a thread when the program has threads). Medians of 5 on the
    2-core lab (bench/sweep.py, /16): inline 0.75 s, thread 0.68 s, process 0.57 s; after the
    batch paths of the session (medians of 3): inline 0.62 s, thread 0.47 s, process 0.48 s,
    the sender's kernel work (~0.3 s of round trips in softirq) now the longer half.
    """

    offload_from_pps: float = 20_000.0

    def __init__(self, transport: Transport, template_len: int, rate_pps: float, *,
                 capacity: int = 256, rx_capacity: int = 256, sender: str | None = None,
                 family: Family = IPV4) -> None:  # fmt: skip
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        self._ctypes = ctypes
        self._sendmmsg = libc.sendmmsg
        self._sendmmsg.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int)
        self._sendmmsg.restype = ctypes.c_int
        self._recvmmsg = libc.recvmmsg
        self._recvmmsg.argtypes = (
            ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p
        )  # fmt: skip
        self._recvmmsg.restype = ctypes.c_int
        _iovec_type, mmsghdr_type = mmsg_types()
        self.transport = transport
        sock = transport.sock
        if sock is None:
            raise OSError("the transport has no socket to batch on")
        self.sock = sock
        self.fd = sock.fileno()
        self.datagram = not transport.receives_ip_header
        self._unframe_batch = family.unframe_batch
        self._local_errors: collections.deque[Inbound] = collections.deque()
        size_buffers(self.sock, rate_pps)
        self._hdr_size = ctypes.sizeof(mmsghdr_type)
        # -- send side: probe k's frame at k * stride, the ICMP message ``offset`` bytes into it
        self.offset = self._frame_offset()
        self.template_len = template_len
        self.frame_len = self.offset + template_len
        self.stride = (max(self.frame_len, 8) + 7) & ~7
        self.capacity = max(1, min(capacity, (8 << 20) // self.stride))
        name = self._sockaddr_template()
        if rate_pps < self.offload_from_pps:
            sender = "inline"
        else:
            sender = os.environ.get("LAYERPING_SENDER") or sender or "thread"
        if sender not in self._senders:
            sender = "thread" if "thread" in self._senders and sender != "inline" else "inline"
        if sender == "process" and threading.active_count() > 1:
            sender = "thread"  # fork() from a threaded program is not safe
        if sender not in ("inline", "thread", "process"):
            raise ValueError(f"unknown sender {sender!r}")
        self.sender = sender
        self._shared: Any = None
        sets = 1 if sender == "inline" else 2
        if sender == "process":
            import mmap

            set_size = TxSet.size(self.capacity, self.stride, name)
            self._shared = mmap.mmap(-1, set_size * sets, mmap.MAP_SHARED)
            self._sets = [TxSet(self.capacity, self.stride, (self._shared, k * set_size), name)
                          for k in range(sets)]  # fmt: skip
        else:
            self._sets = [TxSet(self.capacity, self.stride, None, name) for _ in range(sets)]
        self._current = 0
        self.buffer: memoryview = self._sets[0].view
        self._thread: threading.Thread | None = None
        self._jobs: queue.SimpleQueue[tuple[int, int, dict[int, str | None]] | None] | None = None
        self._completed: queue.SimpleQueue[tuple[int, dict[int, int]]] | None = None
        if sender == "thread":
            import queue  # (and heapq with it: two extension modules a sweep otherwise skips)

            self._jobs = queue.SimpleQueue()
            self._completed = queue.SimpleQueue()
        self._child = 0
        self._job_pipe = -1
        self._done_pipe = -1
        # -- receive side
        self.rx_size = (max(2048, self.frame_len + 60 + 64) + 63) & ~63
        rcap = max(1, min(rx_capacity, (16 << 20) // self.rx_size))
        self.rx_capacity = rcap
        self._rx = (ctypes.c_char * (self.rx_size * rcap + 64))()  # + room for a link header's shift
        self._rx_view = memoryview(self._rx).cast("B")
        self._ctl_size = 64
        self._ctl = (ctypes.c_char * (self._ctl_size * rcap))()
        self._ctl_view = memoryview(self._ctl).cast("B")
        self._rx_names = (ctypes.c_char * (16 * rcap))()
        self._rx_names_view = memoryview(self._rx_names).cast("B")
        self._rx_iov = (_iovec_type * rcap)()
        self._rx_hdrs = (mmsghdr_type * rcap)()
        self._rx_pristine = (mmsghdr_type * rcap)()
        rx_base = ctypes.addressof(self._rx)
        ctl_base = ctypes.addressof(self._ctl)
        rx_names_base = ctypes.addressof(self._rx_names)
        for k in range(rcap):
            self._rx_iov[k].base = rx_base + k * self.rx_size
            self._rx_iov[k].len = self.rx_size
            hdr = self._rx_pristine[k].hdr
            hdr.iov = ctypes.addressof(self._rx_iov[k])
            hdr.iovlen = 1
            hdr.control = ctl_base + k * self._ctl_size
            hdr.controllen = self._ctl_size
            if self.datagram:
                hdr.name = rx_names_base + 16 * k
                hdr.namelen = 16
        self._rx_hdrs_addr = ctypes.addressof(self._rx_hdrs)
        self._rx_pristine_addr = ctypes.addressof(self._rx_pristine)
        self._rx_hdrs_bytes = ctypes.sizeof(self._rx_hdrs)
        self._rx_hdrs_view = memoryview(self._rx_hdrs).cast("B")
        self._ctl_addr = ctl_base
        self._ctl_bytes = self._ctl_size * rcap
        self.max_rounds = 16

    _senders: tuple[str, ...] = ("inline", "thread", "process")  # who may make the sendmmsg calls

    def _frame_offset(self) -> int:
        """Where the ICMP message starts in what is sent: the kernel writes IPv4 here."""
        return 0

    def _sockaddr_template(self) -> bytes:
        """msg_name of every probe: a ``struct sockaddr_in`` whose address :meth:`send` fills in."""
        return _SOCKADDR_FAMILY.pack(socket.AF_INET) + bytes(14)

    def _frame_template(self, template: bytes) -> bytes:
        """What goes around the ICMP template in each probe's frame (nothing at this layer)."""
        return template

    def fileno(self) -> int:
        return self.fd

    def prepare(self, template: bytes) -> None:
        frame = self._frame_template(template)
        length = len(frame)
        for tx_set in self._sets:
            for k in range(self.capacity):
                tx_set.view[k * self.stride : k * self.stride + length] = frame
                tx_set.iov[k].len = length
        if self.sender == "thread" and self._thread is None:
            self._thread = threading.Thread(target=self._sender_thread, name="layerping-sender", daemon=True)
            self._thread.start()
        elif self.sender == "process" and not self._child:
            self._fork_sender()

    def _address(self, tx_set: TxSet, n: int, destinations: list[int]) -> dict[int, str | None]:
        """Address the first ``n`` probes of ``tx_set``; return those that must not go out."""
        # sin_addr of every sockaddr_in (4 bytes in), in network byte order.
        stride = tx_set.name_stride
        write_columns(tx_set.names_view, 0, stride * n, stride, ((4, "I", destinations[:n]),))
        return {}

    def send(self, n: int, destinations: list[int], session: BatchSession) -> SendResult:
        tx_set = self._sets[self._current]
        held = self._address(tx_set, n, destinations)
        # A sender process gets only (set, count) through its pipe: a batch with probes held
        # back (no ARP answer, no route) is rare and is sent from here instead.
        if self.sender == "inline" or (held and self.sender == "process"):
            tx_ns = time.time_ns()
            failures = self._send_set(tx_set, n, session, held)
            texts = {index: send_error_text(err) for index, err in failures.items()}
            if held:
                texts.update(self._held(tx_set, held, tx_ns))
            return tx_ns, texts
        tx_set.slots, tx_set.first_serial = session.last_batch()
        tx_set.busy = True
        tx_ns = time.time_ns()
        refused = self._held(tx_set, held, tx_ns) if held else {}
        if self._jobs is not None:  # the thread sender
            self._jobs.put((self._current, n, held))
        else:
            os.write(self._job_pipe, _JOB.pack(self._current, n))
        self._current ^= 1
        following = self._sets[self._current]
        # The other buffer is written next: wait until the sender is done with it, receiving
        # meanwhile (replies to the batch being sent arrive now), a bounded number of times.
        for _ in range(100_000):
            self._completions(session, 0.0)
            if not following.busy:
                break
            if not self.receive(session):
                self._completions(session, 0.0005)
                self._check_sender()
        else:
            raise TransportError("the sender did not finish a batch within 50 s")
        self.buffer = following.view
        return tx_ns, refused

    def _check_sender(self) -> None:
        """A sender that died would leave the loop waiting: say so instead."""
        if self._thread is not None and not self._thread.is_alive():
            raise TransportError("the sender thread stopped (see the error above)")
        if self._child and os.waitpid(self._child, os.WNOHANG)[0]:
            self._child = 0
            raise TransportError("the sender process stopped")

    def _completions(self, session: BatchSession, timeout_s: float) -> None:
        """Take the sender's reports of finished batches (waiting up to ``timeout_s``)."""
        if self._completed is not None:  # the thread sender
            import queue

            try:
                index, failures = self._completed.get(block=timeout_s > 0, timeout=timeout_s or None)
            except queue.Empty:
                return
            self._complete(index, failures, session)
            while True:
                try:
                    index, failures = self._completed.get_nowait()
                except queue.Empty:
                    return
                self._complete(index, failures, session)
        if timeout_s and not select.select((self._done_pipe,), (), (), timeout_s)[0]:
            return
        try:
            data = os.read(self._done_pipe, 1 << 16)
        except BlockingIOError:
            return
        position = 0
        while position + _DONE.size <= len(data):
            index, count = _DONE.unpack_from(data, position)
            position += _DONE.size
            failures = {}
            for _ in range(count):
                batch_index, err = _DONE.unpack_from(data, position)
                position += _DONE.size
                failures[batch_index] = err
            self._complete(index, failures, session)

    def _complete(self, index: int, failures: dict[int, int], session: BatchSession) -> None:
        tx_set = self._sets[index]
        for batch_index, err in failures.items():
            text = send_error_text(err)
            session.refused(tx_set.slots[batch_index], tx_set.first_serial + batch_index, text)
        tx_set.busy = False

    def _sender_thread(self) -> None:
        """The sender thread: sendmmsg what the loop hands over, report refusals back."""
        jobs, completed = self._jobs, self._completed
        assert jobs is not None and completed is not None
        while True:
            job = jobs.get()
            if job is None:
                return
            index, n, held = job
            completed.put((index, self._send_set(self._sets[index], n, None, held)))

    def _fork_sender(self) -> None:
        """Start the sender process; it exits when the job pipe closes (or its parent dies)."""
        job_read, job_write = os.pipe()
        done_read, done_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: only system calls from here on, then _exit
            status = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGQUIT, signal.SIG_IGN)
                os.close(job_write)
                os.close(done_read)
                self._ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                for _ in range(1 << 40):
                    job = os.read(job_read, _JOB.size)
                    if len(job) < _JOB.size:
                        break
                    index, n = _JOB.unpack(job)
                    failures = self._send_set(self._sets[index], n, None)
                    report = _DONE.pack(index, len(failures)) + b"".join(
                        _DONE.pack(batch_index, err) for batch_index, err in failures.items()
                    )
                    os.write(done_write, report)
            except BaseException:
                status = 1
            finally:
                os._exit(status)
        os.close(job_read)
        os.close(done_write)
        os.set_blocking(done_read, False)
        self._child = pid
        self._job_pipe = job_write
        self._done_pipe = done_read

    def _held(self, tx_set: TxSet, held: dict[int, str | None], tx_ns: int) -> dict[int, str]:
        """What becomes of probes :meth:`_address` held back: refusals (batch index -> text)."""
        return {index: reason or "not sent" for index, reason in held.items()}

    def _send_set(self, tx_set: TxSet, n: int, session: BatchSession | None,
                  held: dict[int, str | None] | None = None) -> dict[int, int]:  # fmt: skip
        """sendmmsg all ``n`` probes of ``tx_set`` but the ``held`` ones; a full send buffer is
        waited for (bounded). Returns the refused probes: batch index -> errno.
        """
        failures: dict[int, int] = {}
        ctypes = self._ctypes
        sendmmsg = self._sendmmsg
        fd = self.fd
        base = tx_set.hdrs_addr
        size = self._hdr_size
        done = 0
        waits = 0
        while done < n:
            if held:
                if done in held:
                    done += 1
                    continue
                end = done + 1
                while end < n and end not in held:
                    end += 1
            else:
                end = n
            result = sendmmsg(fd, base + done * size, end - done, 0)
            if result > 0:
                done += result
                continue
            err = ctypes.get_errno()
            if err == errno.EINTR:
                continue
            if err in (errno.EAGAIN, errno.ENOBUFS) and waits < 10_000:
                # The send buffer is full: wait a little for room (a bounded number of times),
                # letting replies in first when this is the loop's own thread.
                waits += 1
                if session is not None:
                    self.receive(session)
                select.select((), (fd,), (), 0.001)
                continue
            failures[done] = err
            done += 1
        return failures

    def receive(self, session: BatchSession) -> int:
        ctypes = self._ctypes
        recvmmsg = self._recvmmsg
        fd = self.fd
        hdrs = self._rx_hdrs_addr
        rcap = self.rx_capacity
        rx = self._rx_view
        ctl = self._ctl_view
        rx_size = self.rx_size
        ctl_size = self._ctl_size
        on_messages = session.on_messages
        unframe_batch = self._unframe_batch
        link = max(self._link_offset, 0)
        total = 0
        local = self._local_errors
        while local:  # errors this host generated itself (an unanswered ARP)
            session.on_inbound(local.popleft())
            total += 1
        for _ in range(self.max_rounds):
            ctypes.memmove(hdrs, self._rx_pristine_addr, self._rx_hdrs_bytes)
            ctypes.memset(self._ctl_addr, 0, self._ctl_bytes)
            n = recvmmsg(fd, hdrs, rcap, _MSG_DONTWAIT, None)
            if n <= 0:
                if n < 0 and ctypes.get_errno() not in (errno.EAGAIN, errno.EINTR):
                    # A pending socket error (IP_RECVERR): the transport reads its error queue.
                    total += self._via_transport(session)
                    continue
                break
            if self.datagram:
                self._parse_datagram(n, session)
            else:
                # Raw and packet sockets: whole IP datagrams, unframed by the family in one
                # pass; the stamps from the control buffers (SO_TIMESTAMPNS), one iter_unpack.
                now_ns = 0
                stamps = [
                    sec * 1_000_000_000 + nsec if level == _SOL_SOCKET and kind == _SCM_TIMESTAMPNS
                    else now_ns or (now_ns := time.time_ns())
                    for _length, level, kind, sec, nsec in _CTL_ROW.iter_unpack(ctl[: n * ctl_size])
                ]  # fmt: skip
                messages, foreign = unframe_batch(rx, n, rx_size, stamps, link)
                on_messages(rx, messages)
                if foreign:
                    session.count_foreign(foreign)
            total += n
            if n < rcap:
                break
        return total

    _link_offset = -1  # packet sockets: where the IP header starts in what is received

    def _parse_datagram(self, n: int, session: BatchSession) -> None:
        rx = self._rx_view
        ctl = self._ctl_view
        names = self._rx_names_view
        hdrs = self._rx_hdrs_view
        hdr_size = self._hdr_size
        messages: list[Received] = []
        for k in range(n):
            off = k * self.rx_size
            (length,) = _MSG_LEN.unpack_from(hdrs, k * hdr_size + MSG_LEN_OFFSET)
            (source,) = _SOCKADDR_ADDR.unpack_from(names, 16 * k + 4)
            rx_ns, ttl = control_fields(ctl, k * self._ctl_size, self._ctl_size)
            messages.append((off, min(length, self.rx_size), source, ttl, rx_ns))
        session.on_messages(rx, messages)

    def _via_transport(self, session: BatchSession) -> int:
        return drain(self.transport, session.on_inbound, 1024)

    def close(self) -> None:
        """Stop the sender thread or process (it finishes the batch in hand first)."""
        thread = self._thread
        if thread is not None and self._jobs is not None:
            self._jobs.put(None)
            thread.join(timeout=10)
            self._thread = None
        if self._child:
            os.close(self._job_pipe)  # the sender exits when it reads end-of-file
            os.close(self._done_pipe)
            if not reaped_within(self._child, 2.0):
                os.kill(self._child, signal.SIGKILL)
                os.waitpid(self._child, 0)
            self._child = 0


class NextHopMacs(Protocol):
    """Where MmsgLinkIO sends each target (layerping.many.NextHops has this shape)."""

    default: bytes
    #: Targets whose next hop is not ``default``: a MAC, None when ARP got no answer, or the
    #: reason the probe cannot leave through this interface.
    macs: dict[int, bytes | str | None]


class MmsgLinkIO(MmsgIcmpIO):
    """Layers ip and ethernet with ``sendmmsg``/``recvmmsg`` on the transport's packet socket.

    Each probe's frame is built once from templates, with the transport's own framing and IP
    header writer (the ones its single-probe :meth:`~.packet.PacketTransport.send` uses): at
    ``--layer ethernet`` the Ethernet II header (next hop's MAC, ours, the family's EtherType),
    then the IP header (``writer.batch_template``), then the ICMP message the session writes.
    Per probe only the writer's columns change (IPv4: destination, Identification and header
    checksum, RFC 1624) and the next hop's MAC: in the frame at layer ethernet, in the
    ``sockaddr_ll`` at layer ip (the kernel writes the link header from it). A target whose
    neighbour never answered ARP is not sent to: it gets the Destination Host Unreachable the
    kernel would have generated (the family's ``host_unreachable``), from our own address.
    Sending may be offloaded to a thread or a process, as at layer icmp; a batch with such held
    probes is sent by the loop itself.
    """

    def __init__(self, transport: Transport, template_len: int, rate_pps: float, next_hops: NextHopMacs, *,
                 capacity: int = 256, rx_capacity: int = 256, sender: str | None = None) -> None:  # fmt: skip
        from layerping.transport.packet import PacketTransport

        if not isinstance(transport, PacketTransport):
            raise TypeError("MmsgLinkIO needs a packet-socket transport (layers ip and ethernet)")
        plan = transport.plan
        self.link = transport
        self.framing = transport.framing
        self.writer = transport.writer
        self._family = transport.family
        self.ethernet = self.framing.writes_link_header
        self._link_offset = self.framing.link_header_len
        self._ifindex: int = plan.ifindex
        self._src_mac: bytes | None = plan.src_mac
        self._source = plan.source
        self.next_hops = next_hops
        super().__init__(transport, template_len, rate_pps, capacity=capacity, rx_capacity=rx_capacity,
                         sender=sender, family=transport.family)  # fmt: skip

    def _frame_offset(self) -> int:
        return self._link_offset + self.writer.header_len

    def _sockaddr_template(self) -> bytes:
        if self.ethernet:
            return b""  # bound to (interface, EtherType): the frame says where it goes
        # struct sockaddr_ll (packet(7)): family, protocol (network order), ifindex, hatype,
        # pkttype, halen, addr[8]; the next hop's MAC goes in addr for each probe.
        protocol = socket.htons(self._family.ethertype)
        return _SOCKADDR_LL.pack(socket.AF_PACKET, protocol, self._ifindex, 0, 0, 6, self.next_hops.default)

    def _frame_template(self, template: bytes) -> bytes:
        link = self.framing.link_header(self.next_hops.default, self._src_mac, self._family.ethertype)
        return link + self.writer.batch_template(len(template)) + template

    def _address(self, tx_set: TxSet, n: int, destinations: list[int]) -> dict[int, str | None]:
        """Write each probe's changing IP header fields, a column at a time (the writer's
        :meth:`~layerping.inet.family.HeaderWriter.columns`, written with
        :func:`~layerping.wire.columns.write_columns`); the rest of every frame is the
        template :meth:`prepare` wrote."""
        targets = destinations[:n]
        columns = self.writer.columns(targets)
        write_columns(tx_set.view, self._link_offset, self.stride * n, self.stride, columns)
        return self._next_hop_macs(tx_set, targets)

    def _next_hop_macs(self, tx_set: TxSet, targets: list[int]) -> dict[int, str | None]:
        """Put each probe's next hop in place; return the probes that must not go out.

        Every slot holds the default next hop (the router most targets share) from the template;
        slots that an earlier batch pointed elsewhere are restored first, so only targets with a
        next hop of their own (on the link, or behind another gateway) cost anything here.
        """
        default = self.next_hops.default
        for k in tx_set.other_next_hop:
            self._write_mac(tx_set, k, default)
        tx_set.other_next_hop = []
        macs = self.next_hops.macs
        held: dict[int, str | None] = {}
        if not macs:
            return held
        for k, destination in enumerate(targets):
            mac = macs.get(destination, default)
            if not isinstance(mac, bytes):
                held[k] = mac  # None (no ARP answer) or the reason it cannot be sent
            elif mac != default:
                self._write_mac(tx_set, k, mac)
                tx_set.other_next_hop.append(k)
        return held

    def _write_mac(self, tx_set: TxSet, k: int, mac: bytes) -> None:
        if self.ethernet:  # the frame's destination MAC
            tx_set.view[k * self.stride : k * self.stride + 6] = mac
        else:  # sll_addr of the sockaddr_ll: the kernel writes the link header from it
            position = k * tx_set.name_stride + 12
            tx_set.names_view[position : position + 6] = mac

    def _held(self, tx_set: TxSet, held: dict[int, str | None], tx_ns: int) -> dict[int, str]:
        refused: dict[int, str] = {}
        host_unreachable = self._family.host_unreachable
        for index, reason in held.items():
            if reason is None:  # ARP got no answer: what the kernel would say
                start = index * self.stride + self._link_offset
                packet = bytes(tx_set.view[start : index * self.stride + self.frame_len])
                self._local_errors.append(host_unreachable(packet, self._source, tx_ns))
            else:
                refused[index] = reason
        return refused


