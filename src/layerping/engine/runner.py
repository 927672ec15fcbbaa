"""The one event loop: a transport, a clock and the sans-IO session(s).

Nothing else in layerping waits on a socket. The loop sends every probe that is due, drains the
transport right after a send and whenever it is readable, hands each message to the session, and
sleeps in ``epoll`` exactly until the session's next deadline. Signals are turned into flags and a
wake-up byte (``signal.set_wakeup_fd``), so Ctrl-C ends the run with a summary instead of a
traceback.
"""

from __future__ import annotations

import select
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType

from layerping.engine.session import Event, Session
from layerping.transport.base import SendFailed, Transport

EventSink = Callable[[Event], None]


class Runner:
    """Drive one :class:`Session` over one :class:`Transport` until it is done or stopped."""

    def __init__(
        self,
        transport: Transport,
        session: Session,
        sink: EventSink,
        clock: Callable[[], int] = time.monotonic_ns,
        on_status: Callable[[], None] | None = None,
    ) -> None:
        self.transport = transport
        self.session = session
        self.sink = sink
        self.clock = clock
        self.on_status = on_status
        self._stop = False
        self._status = False

    def request_stop(self) -> None:
        self._stop = True

    def request_status(self) -> None:
        self._status = True

    def run(self, handle_signals: bool = True) -> None:
        if handle_signals:
            with _SignalWakeup(self) as wakeup:
                self._loop(wakeup)
        else:
            self._loop(None)

    def _loop(self, wakeup: _SignalWakeup | None) -> None:
        session = self.session
        transport = self.transport
        sink = self.sink
        clock = self.clock
        destination = session.destination
        # epoll directly: the loop runs once per probe in a flood, and selectors' key objects
        # and lists cost more than the system call.
        poller = select.epoll()
        transport_fd = transport.fileno()
        poller.register(transport_fd, select.EPOLLIN)
        wakeup_fd = -1
        if wakeup is not None:
            wakeup_fd = wakeup.fileno()
            poller.register(wakeup_fd, select.EPOLLIN)
        try:
            while True:
                now = clock()
                if self._stop:
                    session.stop(now)
                    break
                if self._status and self.on_status is not None:
                    self._status = False
                    self.on_status()
                probe = session.due(now)
                sent = probe is not None
                while probe is not None:
                    try:
                        tx_ns = transport.send(probe.icmp, destination)
                    except SendFailed as exc:
                        sink(session.on_send_failed(probe, exc.text))
                    else:
                        sink(session.on_sent(probe, tx_ns, now))
                    now = clock()
                    probe = session.due(now)
                if sent:
                    # Read before waiting: the answer to what was just sent is often queued
                    # already (on a veth or loopback path the kernel runs the whole round trip in
                    # softirq inside the send call), and asking epoll first would cost a system
                    # call per probe of a flood for nothing; read before the session may call
                    # the run done, too, so that an answer already here always counts. At most
                    # one extra read per send.
                    received = False
                    while (inbound := transport.recv()) is not None:
                        received = True
                        event = session.on_inbound(inbound, clock())
                        if event is not None:
                            sink(event)
                    if received:
                        continue
                for expired in session.expire(now):
                    sink(expired)
                if session.done:
                    break
                deadline = session.next_deadline()
                timeout = -1.0 if deadline is None else max(deadline - now, 0) / 1e9
                for fd, _mask in poller.poll(timeout):
                    if fd == wakeup_fd:
                        assert wakeup is not None
                        wakeup.drain()
                        continue
                    while (inbound := transport.recv()) is not None:
                        event = session.on_inbound(inbound, clock())
                        if event is not None:
                            sink(event)
            session.finish(clock())
        finally:
            poller.close()


class _SignalWakeup:
    """SIGINT/SIGTERM stop the run, SIGQUIT asks for a status line (as in iputils ping)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._old: dict[int, object] = {}
        self._old_fd = -1

    def fileno(self) -> int:
        return self._reader.fileno()

    def drain(self) -> None:
        try:
            while self._reader.recv(512):
                pass
        except BlockingIOError:
            pass

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.runner.request_stop()

    def _on_status(self, signum: int, frame: FrameType | None) -> None:
        self.runner.request_status()

    def __enter__(self) -> _SignalWakeup:
        self._old_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for signum, handler in (
            (signal.SIGINT, self._on_stop),
            (signal.SIGTERM, self._on_stop),
            (signal.SIGQUIT, self._on_status),
        ):
            self._old[signum] = signal.signal(signum, handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._old.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._old_fd)
        self._reader.close()
        self._writer.close()
