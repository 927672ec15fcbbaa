"""The event loop for many targets: :class:`MultiRunner`, and the batch I/O it drives.

Kept apart from :mod:`layerping.engine.runner` so that a one-shot single-target ping does not
import (or pay for) the batch machinery. The loop knows no layer: it moves batches through a
:class:`BatchIO`. :class:`GenericBatchIO` fits any transport (one ``send``/``recv`` per probe);
the fast ones, with ``sendmmsg``/``recvmmsg`` on a transport's own socket, belong to the
transports (:mod:`layerping.transport.batch`), and the caller picks one.
"""

from __future__ import annotations

import selectors
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from layerping.engine.multi import MultiEvent, MultiSession, TargetEvent, expand_runs
from layerping.engine.runner import _SignalWakeup
from layerping.transport.base import Address, SendFailed, Transport, drain

# --- many targets ---------------------------------------------------------------------------------
#
# MultiRunner is the event loop for :class:`layerping.engine.multi.MultiSession`. It moves probes
# in batches: the session writes a batch into a buffer, a batch I/O adapter hands it to the kernel,
# and received messages go back to the session without building an ``Inbound`` each.

MultiSink = Callable[[MultiEvent], None]

SendResult = tuple[int | list[int], dict[int, str]]
"""What a batch send returns: tx_ns (one for the batch, or one per probe) and refusals by index."""


class BatchIO(Protocol):
    """What MultiRunner needs from a batch I/O adapter."""

    offset: int
    stride: int
    capacity: int  # most probes per send batch

    @property
    def buffer(self) -> bytearray | memoryview:
        """Probe k is written at ``offset + k * stride``."""
        ...

    def fileno(self) -> int: ...

    def prepare(self, template: bytes) -> None:
        """Copy the probe template into every probe position of ``buffer`` once."""
        ...

    def send(self, n: int, destinations: list[int], session: MultiSession) -> SendResult:
        """Send the first ``n`` probes of ``buffer``; return (tx_ns, {batch index: refusal})."""
        ...

    def receive(self, session: MultiSession) -> int:
        """Hand what has arrived to ``session`` without blocking; return how many messages."""
        ...

    def close(self) -> None: ...


class GenericBatchIO:
    """Any :class:`Transport`: one ``send`` per probe and one ``recv`` per message."""

    def __init__(self, transport: Transport, template_len: int, address_from_int: Callable[[int], Address],
                 capacity: int = 64) -> None:  # fmt: skip
        self.transport = transport
        self._address_from_int = address_from_int
        self.stride = max(template_len, 1)
        self.capacity = capacity
        self.offset = 0
        self.buffer = bytearray(self.stride * capacity)
        self.max_receive = 4096

    def fileno(self) -> int:
        return self.transport.fileno()

    def prepare(self, template: bytes) -> None:
        for k in range(self.capacity):
            self.buffer[k * self.stride : k * self.stride + len(template)] = template

    def send(self, n: int, destinations: list[int], session: MultiSession) -> SendResult:
        stamps: list[int] = []
        failures: dict[int, str] = {}
        stride = self.stride
        address_from_int = self._address_from_int
        for k in range(n):
            icmp = bytes(self.buffer[k * stride : (k + 1) * stride])
            try:
                stamps.append(self.transport.send(icmp, address_from_int(destinations[k])))
            except SendFailed as exc:
                stamps.append(time.time_ns())
                failures[k] = exc.text
        return stamps, failures

    def receive(self, session: MultiSession) -> int:
        return drain(self.transport, session.on_inbound, self.max_receive)

    def close(self) -> None:
        pass


class MultiRunner:
    """Drive one :class:`MultiSession` over one transport until every target is reported."""

    def __init__(
        self,
        transport: Transport,
        session: MultiSession,
        sink: MultiSink,
        clock: Callable[[], int] = time.monotonic_ns,
        *,
        io: BatchIO | None = None,
        deadline_ns: int | None = None,
    ) -> None:
        self.transport = transport
        self.session = session
        self.sink = sink
        self.clock = clock
        self.deadline_ns = deadline_ns  # -w: stop this long after the start
        #: ``io`` is the transport's fast batch path when the caller has one
        #: (:func:`layerping.transport.batch.batch_io_for`); else one send and recv per message.
        self.io: BatchIO = io if io is not None else GenericBatchIO(
            transport, len(session.template), session.rules.address_from_int
        )
        self._stop = False
        self._status = False
        self.on_status: Callable[[], None] | None = None
        #: Called before the loop waits (select) and at the end: where buffered output is flushed.
        self.on_idle: Callable[[], None] | None = None

    def request_stop(self) -> None:
        self._stop = True

    def request_status(self) -> None:
        self._status = True

    def run(self, handle_signals: bool = True) -> None:
        """Run to the end, handing every event to the sink."""
        sink = self.sink
        for batch in self.batches(handle_signals):
            for event in batch:
                sink(event)

    def events(self, handle_signals: bool = False) -> Iterator[TargetEvent]:
        """Run, yielding events as they happen (closing the generator ends the run early); a
        :class:`~layerping.engine.multi.TargetsDone` run comes as its TargetDone events."""
        for batch in self.batches(handle_signals):
            yield from expand_runs(batch)

    def batches(self, handle_signals: bool = False) -> Iterator[list[MultiEvent]]:
        """Run, yielding the events of each turn of the loop as one list (cheaper per event)."""
        try:
            if handle_signals:
                with _SignalWakeup(self) as wakeup:  # type: ignore[arg-type]
                    yield from self._loop(wakeup)
            else:
                yield from self._loop(None)
        finally:
            self.io.close()

    def _loop(self, wakeup: _SignalWakeup | None) -> Iterator[list[MultiEvent]]:
        session = self.session
        io = self.io
        clock = self.clock
        io.prepare(session.template)
        end_ns = None if self.deadline_ns is None else session.start_ns + self.deadline_ns
        selector = selectors.DefaultSelector()
        selector.register(io.fileno(), selectors.EVENT_READ, "transport")
        if wakeup is not None:
            selector.register(wakeup.fileno(), selectors.EVENT_READ, "wakeup")
        destinations: list[int] = []
        capacity = io.capacity
        try:
            while True:
                now = clock()
                if self._stop or (end_ns is not None and now >= end_ns):
                    io.receive(session)
                    session.stop(now)
                    yield session.drain_events()
                    break
                if self._status and self.on_status is not None:
                    self._status = False
                    self.on_status()
                session.expire(now)
                destinations.clear()
                sent = session.fill(now, capacity, io.buffer, io.offset, io.stride, destinations)
                if sent:
                    tx_ns, failures = io.send(sent, destinations, session)
                    session.commit(tx_ns, failures)
                io.receive(session)
                events = session.drain_events()
                if events:
                    yield events
                if session.done:
                    break
                if sent == capacity:
                    continue  # more may be due at once: no sleep
                if self.on_idle is not None:
                    self.on_idle()
                deadline = session.next_deadline(clock())
                if end_ns is not None:
                    deadline = end_ns if deadline is None else min(deadline, end_ns)
                timeout = None if deadline is None else max(deadline - clock(), 0) / 1e9
                for key, _mask in selector.select(timeout):
                    if key.data == "wakeup":
                        assert wakeup is not None
                        wakeup.drain()
        finally:
            selector.close()
            if self.on_idle is not None:
                self.on_idle()
