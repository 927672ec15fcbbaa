"""The library API: what the CLI is a thin layer over.

>>> import layerping
>>> result = layerping.ping("127.0.0.1", count=2, interval=0.2)
>>> result.stats.received
2
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable
from ipaddress import IPv4Address

from layerping._value import Record, Value
from layerping.engine.runner import Runner
from layerping.engine.session import (
    Event,
    Session,
    SessionConfig,
)
from layerping.errors import NoRoute, PermissionDenied, UsageError, refuse_broadcast
from layerping.inet.v4 import IPV4
from layerping.transport.base import Layer, SendOptions, Transport

MAX_PAYLOAD = 65507  # 65535 - 20 (IPv4 header) - 8 (ICMP header)


class PingConfig(Value):
    """Everything one ping run needs; the CLI fills it from ping(8)-style options."""

    destination: str
    layer: Layer = Layer.ICMP
    count: int | None = None
    interval_s: float = 1.0
    timeout_s: float | None = None
    deadline_s: float | None = None
    payload_size: int = 56
    ttl: int = 64
    tos: int = 0
    pmtu: str | None = None
    pattern: bytes = b""
    preload: int = 1
    flood: bool = False
    broadcast: bool = False
    interface: str | None = None
    source: IPv4Address | None = None
    unprivileged: bool = False
    # layer-2 overrides (``--layer ip`` / ``--layer ethernet``)
    src_mac: bytes | None = None
    next_hop_mac: bytes | None = None
    gateway: IPv4Address | None = None
    keep_samples: bool = False


class Target(Value):
    """A resolved destination: what the user typed and the address it stands for."""

    name: str
    address: IPv4Address
    is_numeric: bool


def resolve_target(host: str) -> Target:
    """Resolve a host name or dotted quad to one IPv4 address (getaddrinfo, AF_INET)."""
    try:
        return Target(host, IPv4Address(host), True)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_RAW)
    except socket.gaierror as exc:
        raise UsageError(f"{host}: {exc.strerror}", "check the name, or give an IPv4 address") from None
    except UnicodeError:
        raise UsageError(
            f"{host}: not a valid host name", "check the name, or give an IPv4 address"
        ) from None
    return Target(host, IPv4Address(infos[0][4][0]), False)


def is_privileged() -> bool:
    """True when raw sockets are likely allowed (root); capabilities are checked by trying."""
    return os.geteuid() == 0


def route_source(
    destination: IPv4Address, interface: str | None, source: IPv4Address | None
) -> tuple[IPv4Address, bool]:
    """The source address the kernel would pick, and whether the route is a broadcast one.

    Found as iputils does, by connecting a UDP socket: that sends nothing, runs the route lookup,
    fails with ENETUNREACH when there is no route, and with EACCES when the destination is a
    broadcast address and SO_BROADCAST is off (ip(7)). Cheaper than loading rtnetlink.
    """
    from layerping.transport.icmp_socket import bind_source, bind_to_device  # layer icmp's module

    broadcast = False
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    try:
        if interface is not None:
            try:
                bind_to_device(probe, interface)
            except PermissionDenied:
                pass  # old kernels: the ICMP socket will say so when it binds for real
        if source is not None:
            bind_source(probe, source)
        try:
            probe.connect((str(destination), 1025))
        except OSError as exc:
            if exc.errno == errno.EACCES:  # a broadcast route, and SO_BROADCAST is off
                broadcast = True
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                probe.connect((str(destination), 1025))
            else:
                raise NoRoute(
                    f"no route to {destination}: {exc.strerror}",
                    "check `ip route`, or choose an interface with -I",
                ) from None
        return IPv4Address(probe.getsockname()[0]), broadcast
    finally:
        probe.close()


def session_config(config: PingConfig, identifier: int, cookie: bytes, kernel_owns_id: bool) -> SessionConfig:
    interval_ns = int(config.interval_s * 1e9)
    return SessionConfig(
        identifier=identifier,
        cookie=cookie,
        count=config.count,
        interval_ns=interval_ns,
        timeout_ns=None if config.timeout_s is None else int(config.timeout_s * 1e9),
        deadline_ns=None if config.deadline_s is None else int(config.deadline_s * 1e9),
        payload_size=config.payload_size,
        pattern=config.pattern,
        preload=config.preload,
        flood=config.flood,
        kernel_owns_id=kernel_owns_id,
        keep_samples=config.keep_samples,
    )


class Prepared(Record):
    """A transport and session ready to run, plus what the header line shows."""

    config: PingConfig
    target: Target
    transport: Transport
    session: Session
    source: IPv4Address | None
    device: str | None

    def close(self) -> None:
        self.transport.close()


def open_transport(
    config: PingConfig, target: Target, identifier: int
) -> tuple[Transport, IPv4Address | None]:
    """Pick and open the transport for ``config.layer``; returns it and the source address."""
    options = SendOptions(ttl=config.ttl, tos=config.tos, pmtu=config.pmtu, allow_broadcast=config.broadcast)
    if config.layer is Layer.ICMP:
        from layerping.transport.icmp_socket import IcmpSocketTransport

        source, broadcast = route_source(target.address, config.interface, config.source)
        if broadcast:
            refuse_broadcast(target.address, config.broadcast)
        transport = IcmpSocketTransport(
            identifier,
            options,
            unprivileged=config.unprivileged,
            interface=config.interface,
            source=config.source,
            receive_buffer=4 << 20 if config.flood or config.interval_s < 0.01 else None,
        )
        return transport, source
    from layerping.transport.factory import open_link_transport

    return open_link_transport(config, target, identifier, options)


def prepare(config: PingConfig, now_ns: int) -> Prepared:
    validate(config)
    target = resolve_target(config.destination)
    identifier = int.from_bytes(os.urandom(2), "big")
    cookie = os.urandom(8)
    transport, source = open_transport(config, target, identifier)
    try:
        session = Session(
            session_config(config, identifier, cookie, transport.kernel_owns_id),
            target.address,
            now_ns,
            IPV4.rules,
        )
    except BaseException:
        transport.close()
        raise
    return Prepared(config, target, transport, session, source, config.interface)


def validate(config: PingConfig) -> None:
    """Reject values ping(8) rejects, with what to do instead."""
    if config.count is not None and config.count < 1:
        raise UsageError(f"invalid count {config.count}", "give -c a whole number of 1 or more")
    if not 0 <= config.payload_size <= MAX_PAYLOAD:
        raise UsageError(
            f"invalid packet size {config.payload_size}", f"give -s a size from 0 to {MAX_PAYLOAD}"
        )
    if not 0 <= config.ttl <= 255:
        raise UsageError(f"invalid ttl {config.ttl}", "give -t a value from 0 to 255")
    if not 0 <= config.tos <= 255:
        raise UsageError(f"invalid TOS {config.tos}", "give -Q a value from 0 to 255 (or 0x00 to 0xff)")
    if config.interval_s < 0:
        raise UsageError(f"invalid interval {config.interval_s}", "give -i a positive number of seconds")
    if not is_privileged():
        if config.flood or config.interval_s < 0.002:
            raise UsageError(
                "cannot flood; minimal interval allowed for user is 2ms",
                "use -i 0.002 or more, or run as root",
            )
        if config.preload > 3:
            raise UsageError(
                f"cannot set preload to value greater than 3: {config.preload}",
                "use -l 3 or less, or run as root",
            )
    if not 1 <= config.preload <= 65536:
        raise UsageError(f"invalid preload {config.preload}", "give -l a value from 1 to 65536")
    for name, seconds in (("-W", config.timeout_s), ("-w", config.deadline_s)):
        if seconds is not None and seconds < 0:
            raise UsageError(f"invalid {name} {seconds}", f"give {name} a positive number of seconds")


def run_prepared(
    prepared: Prepared,
    sink: Callable[[Event], None],
    handle_signals: bool = False,
    on_status: Callable[[], None] | None = None,
) -> Runner:
    runner = Runner(prepared.transport, prepared.session, sink, on_status=on_status)
    runner.run(handle_signals=handle_signals)
    return runner
