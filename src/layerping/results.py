"""What one ping run returns to a library caller, and :func:`ping` itself.

>>> import layerping
>>> result = layerping.ping("127.0.0.1", count=2, interval=0.2)
>>> result.stats.received
2
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address

from layerping._value import Record, Value, field
from layerping.api import PingConfig, prepare, run_prepared
from layerping.engine.session import ErrorEvent, Event, LocalErrorEvent, ReplyEvent
from layerping.engine.stats import Statistics
from layerping.transport.base import Address, Layer


class Reply(Value):
    """One echo reply, as a library caller sees it.

    ``seq`` is the probe's number counting from 1, in ``ping()`` and ``multiping()`` alike: the
    ``icmp_seq`` ping(8) prints (fping's text shows it minus one, as ``[0]``)."""

    seq: int
    source: Address
    ttl: int | None
    rtt_ms: float | None
    size: int
    duplicate: bool
    corrupted: bool


class IcmpErrorReport(Value):
    """One ICMP error (or local send error, type -1) for one probe; ``seq`` as in :class:`Reply`."""

    seq: int
    source: Address
    icmp_type: int
    icmp_code: int
    text: str


class PingResult(Record):
    """What one ping run found."""

    destination: str
    address: IPv4Address
    replies: list[Reply] = field(default_factory=list)
    errors: list[IcmpErrorReport] = field(default_factory=list)
    stats: Statistics = field(default_factory=Statistics)
    elapsed_ms: float = 0.0
    exit_code: int = 1

    @property
    def is_alive(self) -> bool:
        return self.stats.received > 0


def _collector(result: PingResult, forward: Callable[[Event], None] | None) -> Callable[[Event], None]:
    from layerping.output.text import icmp_error_text

    def sink(event: Event) -> None:
        if isinstance(event, ReplyEvent) and not event.late:
            result.replies.append(
                Reply(
                    event.seq,
                    event.src,
                    event.ttl,
                    None if event.rtt_ns is None else event.rtt_ns / 1e6,
                    event.icmp_len,
                    event.duplicate,
                    event.corrupted,
                )
            )
        elif isinstance(event, ErrorEvent):
            result.errors.append(
                IcmpErrorReport(
                    event.seq, event.src, event.icmp_type, event.icmp_code, icmp_error_text(event)
                )
            )
        elif isinstance(event, LocalErrorEvent):
            result.errors.append(IcmpErrorReport(event.seq, IPv4Address(0), -1, -1, event.text))
        if forward is not None:
            forward(event)

    return sink


def ping(
    host: str,
    count: int = 4,
    interval: float = 1.0,
    timeout: float | None = None,
    layer: Layer | str = Layer.ICMP,
    *,
    deadline: float | None = None,
    size: int = 56,
    ttl: int = 64,
    on_event: Callable[[Event], None] | None = None,
    **options: object,
) -> PingResult:
    """Ping ``host`` and return what came back. Blocks until done.

    ``layer`` is ``"icmp"``, ``"ip"`` or ``"ethernet"``. Other keyword arguments are
    :class:`PingConfig` fields (``interface``, ``source``, ``tos``, ``pattern``...).
    """
    import time

    config = PingConfig(
        destination=host,
        layer=Layer(layer) if isinstance(layer, str) else layer,
        count=count,
        interval_s=interval,
        timeout_s=timeout,
        deadline_s=deadline,
        payload_size=size,
        ttl=ttl,
        keep_samples=True,
        **options,  # type: ignore[arg-type]
    )
    prepared = prepare(config, time.monotonic_ns())
    result = PingResult(destination=host, address=prepared.target.address)
    try:
        run_prepared(prepared, _collector(result, on_event))
    finally:
        prepared.close()
    result.stats = prepared.session.stats
    result.elapsed_ms = prepared.session.elapsed_ns / 1e6
    result.exit_code = prepared.session.exit_code()
    return result
