"""Many targets from Python: :func:`multiping`, :func:`iter_events`, and asyncio variants.

All of them run one :class:`~layerping.engine.multi.MultiSession` (one socket, one sender and
one receiver for every target) and accept what the command line accepts as targets: addresses,
host names, CIDR blocks (``"198.18.0.0/24"``), ranges (``"198.18.0.1-198.18.0.20"``).

Blocking, one result per target in input order (run as root, or where the ICMP datagram socket is
allowed by ``net.ipv4.ping_group_range``)::

    import layerping

    for result in layerping.multiping(["127.0.0.1", "127.0.0.2"], count=2, interval=0.2):
        print(result.destination, result.is_alive, result.stats.received, result.stats.loss_percent)

A stream of events for a long-running caller (memory stays flat, whatever the block size)::

    from layerping.engine.multi import TargetDone
    from layerping.targets import format_address

    for event in layerping.iter_events(["127.0.0.0/29"], timeout=0.5):
        if isinstance(event, TargetDone) and event.alive:
            print(format_address(event.address))

asyncio programs await :func:`async_ping` / :func:`async_multiping`::

    import asyncio
    import layerping

    async def main() -> None:
        one, many = await asyncio.gather(
            layerping.async_ping("127.0.0.1", count=2, interval=0.2),
            layerping.async_multiping(["127.0.0.1", "127.0.0.2"], count=2, interval=0.2),
        )
        print(one.stats.received, [r.stats.received for r in many])

    asyncio.run(main())

The async variants run the blocking call in a worker thread (:func:`asyncio.to_thread`): the
event loop stays free, and each call uses its own socket. A cancelled await does not stop the
worker; it ends by itself when its probes time out (every run is bounded by count, timeout and
retries, or by ``deadline``).
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Final, TextIO, cast

from layerping._value import Record, Value, field
from layerping.engine.multi import (
    DEFAULT_RATE_PPS,
    MAX_WINDOW,
    MultiConfig,
    MultiEvent,
    MultiSession,
    MultiTotals,
    TargetDone,
    TargetEvent,
    TargetIcmpError,
    TargetReply,
    TargetSendError,
    expand_runs,
)
from layerping.engine.stats import Statistics
from layerping.errors import LayerpingError, UsageError
from layerping.inet.v4 import IPV4
from layerping.targets import Target, expand, format_address, load_excluder, parse_spec, specs_from
from layerping.transport.base import Layer, SendOptions, Transport

if TYPE_CHECKING:
    from layerping.discovery.arp import ArpResolver
    from layerping.discovery.plan import PathPlan
    from layerping.discovery.rtnetlink import Rtnetlink
    from layerping.engine.multi_runner import BatchIO, MultiRunner
    from layerping.results import PingResult

MAX_PAYLOAD = 65507


class ManyConfig(Value):
    """Everything a many-target run needs; the CLI fills it from fping-style options."""

    targets: tuple[str, ...] = ()
    targets_file: str | None = None  # one spec per line, "-" for stdin
    exclude: tuple[str, ...] = ()
    exclude_file: str | None = None
    broadcast: bool = False  # -b: also network/broadcast addresses of blocks
    layer: Layer = Layer.ICMP
    count: int | None = None  # None: alive mode (one answer is enough, with retries)
    retries: int = 1  # alive mode only
    interval_s: float = 1.0  # count mode: between two probes to one target
    timeout_s: float = 1.0  # per probe
    deadline_s: float | None = None  # stop the whole run after this long
    rate_pps: float = DEFAULT_RATE_PPS  # all targets together
    payload_size: int = 56
    ttl: int = 64
    tos: int = 0
    pmtu: str | None = None
    pattern: bytes = b""
    interface: str | None = None
    source: IPv4Address | None = None
    unprivileged: bool = False
    src_mac: bytes | None = None
    next_hop_mac: bytes | None = None
    gateway: IPv4Address | None = None
    reply_events: bool = True
    timeout_events: bool = True
    keep_rtts: bool = False
    #: Finished targets may come as TargetsDone runs (columns) in :meth:`ManyRun.batches`; the
    #: command line reads them so. :meth:`ManyRun.events` always gives one TargetDone each.
    done_runs: bool = False
    window: int = MAX_WINDOW
    #: Who makes the sendmmsg calls above 20 000 probes/s: "thread" (None), "process" (the command
    #: line's choice: no GIL to share; not for programs with threads) or "inline".
    sender: str | None = None


def validate(config: ManyConfig) -> None:
    if config.count is not None and config.count < 1:
        raise UsageError(f"invalid count {config.count}", "give -c a whole number of 1 or more")
    if not 0 <= config.payload_size <= MAX_PAYLOAD:
        raise UsageError(f"invalid packet size {config.payload_size}",
                         f"give -s a size from 0 to {MAX_PAYLOAD}")  # fmt: skip
    if config.interval_s < 0:
        raise UsageError(f"invalid interval {config.interval_s}", "give -i a positive number of seconds")
    if not config.timeout_s > 0:
        raise UsageError(f"invalid timeout {config.timeout_s}", "give -W a positive number of seconds")
    if not config.rate_pps > 0:
        raise UsageError(f"invalid rate {config.rate_pps}", "give --rate a positive number of probes/s")
    if config.retries < 0:
        raise UsageError(f"invalid retries {config.retries}", "give -r 0 or more")
    if not 0 <= config.ttl <= 255:
        raise UsageError(f"invalid ttl {config.ttl}", "give -t a value from 0 to 255")
    if config.deadline_s is not None and config.deadline_s < 0:
        raise UsageError(f"invalid -w {config.deadline_s}", "give -w a positive number of seconds")


class ManyRun:
    """A prepared run: socket open, targets streaming. Iterate :meth:`events`, then :meth:`close`."""

    def __init__(self, config: ManyConfig, runner: MultiRunner, transport: Transport,
                 name_errors: list[tuple[str, str]], next_hops: NextHops | None = None) -> None:  # fmt: skip
        self.next_hops = next_hops
        self.config = config
        self.runner = runner
        self.session: MultiSession = runner.session
        self.transport = transport
        self.name_errors = name_errors
        self.started_ns = runner.session.start_ns
        self.finished_ns: int | None = None

    def events(self, handle_signals: bool = False) -> Iterator[TargetEvent]:
        """Run, yielding events as they happen. SIGINT/SIGTERM end it early when ``handle_signals``."""
        for batch in self.batches(handle_signals):
            yield from expand_runs(batch)

    def batches(self, handle_signals: bool = False) -> Iterator[list[MultiEvent]]:
        """Run, yielding the events of each turn of the loop as a list (the CLI's cheaper path;
        with ``done_runs`` finished targets may come as :class:`TargetsDone` runs)."""
        try:
            yield from self.runner.batches(handle_signals)
        finally:
            self.finished_ns = time.monotonic_ns()

    @property
    def totals(self) -> MultiTotals:
        return self.session.totals

    @property
    def elapsed_ns(self) -> int:
        end = self.finished_ns if self.finished_ns is not None else time.monotonic_ns()
        return end - self.started_ns

    def exit_code(self) -> int:
        """0 every target answered, 1 some did not (or the run was cut short by a signal or
        ``deadline`` before every target was pinged), 2 errors (unresolvable names, no targets)."""
        totals = self.totals
        if self.name_errors or totals.targets == 0:
            return 2
        return 0 if totals.alive == totals.targets and not self.session.interrupted else 1

    def close(self) -> None:
        close_run(self.transport, self.next_hops)

    def __enter__(self) -> ManyRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def target_stream(config: ManyConfig, on_name_error: Callable[[str, str], None] | None = None,
                  stdin: TextIO | None = None) -> Iterator[Target]:  # fmt: skip
    """The targets of ``config`` as a generator of (address, name)."""
    excluder = load_excluder(config.exclude, config.exclude_file, stdin)
    specs = specs_from(config.targets, config.targets_file, stdin)

    def failed(name: str, error: UsageError) -> None:
        if on_name_error is not None:
            on_name_error(name, error.message)

    return expand(specs, excluder, broadcast=config.broadcast, on_error=failed)


def prepare_many(config: ManyConfig, *, on_name_error: Callable[[str, str], None] | None = None,
                 stdin: TextIO | None = None, fast: bool = True,
                 transport: Transport | None = None) -> ManyRun:  # fmt: skip
    """Open the socket and set up the session for ``config``; nothing is sent yet.

    ``transport`` replaces the socket (tests pass a scripted one); ``fast=False`` uses the
    generic one-probe-per-call I/O instead of ``sendmmsg``/``recvmmsg``.
    """
    from layerping.engine.multi_runner import MultiRunner

    validate(config)
    if not config.targets and config.targets_file is None:
        raise UsageError("no targets given", "give addresses, names, blocks, ranges or --targets-file")
    for text in config.targets:
        parse_spec(text)  # bad syntax is a usage error before anything is opened
    name_errors: list[tuple[str, str]] = []

    def name_error(name: str, text: str) -> None:
        name_errors.append((name, text))
        if on_name_error is not None:
            on_name_error(name, text)

    targets = target_stream(config, name_error, stdin)
    identifier = int.from_bytes(os.urandom(2), "big")
    cookie = os.urandom(8)
    next_hops: NextHops | None = None
    if transport is None:
        if config.layer is Layer.ICMP:
            transport = open_many_transport(config, identifier)
        else:
            transport, next_hops, targets = open_link(config, identifier, targets, config.window)
    try:
        session = MultiSession(
            MultiConfig(
                identifier=identifier,
                cookie=cookie,
                count=config.count,
                retries=config.retries,
                interval_ns=int(config.interval_s * 1e9),
                timeout_ns=int(config.timeout_s * 1e9),
                rate_pps=config.rate_pps,
                payload_size=config.payload_size,
                pattern=config.pattern,
                kernel_owns_id=transport.kernel_owns_id,
                # The ICMP datagram socket drops replies with a bad checksum itself.
                verify_checksum=not transport.kernel_owns_id,
                window=config.window,
                reply_events=config.reply_events,
                timeout_events=config.timeout_events,
                keep_rtts=config.keep_rtts,
                done_runs=config.done_runs,
            ),
            targets,
            time.monotonic_ns(),
            IPV4.rules,
        )
        deadline_ns = None if config.deadline_s is None else int(config.deadline_s * 1e9)
        # The transport's own batch path (sendmmsg/recvmmsg on its socket), unless the caller asks
        # for the generic one (a transport of its own, tests): the runner itself knows no layer.
        io: BatchIO | None = None
        if next_hops is not None:
            from layerping.transport.batch import MmsgLinkIO

            io = MmsgLinkIO(transport, len(session.template), config.rate_pps, next_hops,
                            sender=config.sender)  # fmt: skip
        elif fast:
            from layerping.transport.batch import batch_io_for

            io = batch_io_for(transport, len(session.template), config.rate_pps, config.sender)
        runner = MultiRunner(transport, session, lambda event: None, deadline_ns=deadline_ns, io=io)
    except BaseException:
        close_run(transport, next_hops)
        raise
    return ManyRun(config, runner, transport, name_errors, next_hops)


def close_run(transport: Transport, next_hops: NextHops | None) -> None:
    """Close the transport and the next hops' resolver together: each packet socket's close
    waits for an RCU grace period, and :func:`close_concurrently` overlaps those waits."""
    if next_hops is None:
        transport.close()
        return
    from layerping.transport.packet_socket import close_concurrently

    close_concurrently([transport.close, next_hops.close])


def open_many_transport(config: ManyConfig, identifier: int) -> Transport:
    """One socket for every target at layer icmp (the link layers go through open_link)."""
    options = SendOptions(ttl=config.ttl, tos=config.tos, pmtu=config.pmtu, allow_broadcast=config.broadcast)
    if config.layer is Layer.ICMP:
        from layerping.transport.icmp_socket import IcmpSocketTransport

        return IcmpSocketTransport(identifier, options, unprivileged=config.unprivileged,
                                   interface=config.interface, source=config.source)  # fmt: skip
    raise UsageError(f"open_many_transport opens --layer icmp, not {config.layer.value}")


# --- layers ip and ethernet: routes and neighbours for many targets --------------------------------
#
# One packet socket bound to one interface sends every probe, so each target needs the MAC of its
# next hop. The route decides it (targets behind a router share the router's MAC; targets on the
# link need their own, learnt with our ARP, many at once and bounded in time), and a lookup per
# target through rtnetlink costs ~40 µs, so the routing table is read once and searched here:
# longest prefix in the local, main and default tables, which is what the kernel does when only
# the three default policy rules exist. With other rules, or multipath routes, each target is
# looked up through the kernel instead (correct, slower).

_DEFAULT_RULES: Final = 3  # local, main, default
_LOOKUP_TABLES: Final = (255, 254, 253)  # RT_TABLE_LOCAL, MAIN, DEFAULT: the default rules' order


class Route(Value):
    """What a route says about one destination: its type, device and gateway (int or None)."""

    route_type: int
    oif: int | None
    gateway: int | None


class RouteTable:
    """Longest-prefix match over a dump of the IPv4 routing table (see the comment above)."""

    def __init__(self, rtnl: Rtnetlink) -> None:
        from layerping.wire import netlink as nl

        self._rtnl = rtnl
        self.kernel_lookups = rtnl.rule_count() > _DEFAULT_RULES
        self._tables: dict[int, dict[int, dict[int, Route | None]]] = {}
        for route in rtnl.routes():
            if route.family != socket.AF_INET:
                continue
            table = route.get_u32(nl.RTA_TABLE) or route.table
            if table not in _LOOKUP_TABLES:
                continue
            destination = route.get_ipv4(nl.RTA_DST)
            network = 0 if destination is None else int(destination)
            gateway = route.get_ipv4(nl.RTA_GATEWAY)
            entry: Route | None = Route(route.type, route.get_u32(nl.RTA_OIF),
                                        None if gateway is None else int(gateway))  # fmt: skip
            if route.get(nl.RTA_MULTIPATH) is not None or route.get(nl.RTA_NH_ID) is not None:
                entry = None  # the kernel chooses among next hops: ask it per target
            by_length = self._tables.setdefault(table, {})
            by_length.setdefault(route.dst_len, {}).setdefault(network, entry)
        self._lengths = {table: sorted(by_length, reverse=True) for table, by_length in self._tables.items()}
        # The last match, when no other route cuts into its prefix: every address in
        # [_solid_first, _solid_last] has that route, without searching (a sweep's common case).
        self._solid_first = 1
        self._solid_last = 0
        self._solid_route: Route | None = None

    def use_lookup_socket(self, rtnl: Rtnetlink) -> None:
        """Ask the kernel (policy routing) on ``rtnl`` from now on."""
        self._rtnl = rtnl

    def lookup(self, address: int) -> Route | None:
        """The route to ``address``; None when there is none."""
        if self._solid_first <= address <= self._solid_last:
            return self._solid_route
        if not self.kernel_lookups:
            for table in _LOOKUP_TABLES:
                by_length = self._tables.get(table)
                if by_length is None:
                    continue
                for length in self._lengths[table]:
                    key = address & (0xFFFF_FFFF << (32 - length)) & 0xFFFF_FFFF
                    routes = by_length[length]
                    if key in routes:
                        route = routes[key]
                        if route is None:
                            return self._ask(address)
                        if self._solid(table, length, key):
                            self._solid_first = key
                            self._solid_last = key | (0xFFFF_FFFF >> length)
                            self._solid_route = route
                        return route
        return self._ask(address)

    def covers(self, first: int, last: int) -> Route | None:
        """The route every address from ``first`` to ``last`` has, when one prefix holds them all
        and no other route cuts into it; else None (look them up one by one)."""
        route = self.lookup(first)
        if route is not None and self._solid_first <= first and last <= self._solid_last:
            return route
        return None

    def _solid(self, table: int, length: int, network: int) -> bool:
        """No route of a table searched earlier overlaps the prefix, and none of its own table is
        more specific inside it: the whole prefix has this route."""
        last = network | (0xFFFF_FFFF >> length)
        for other in _LOOKUP_TABLES:
            for other_length, routes in self._tables.get(other, {}).items():
                if other == table and other_length <= length:
                    continue
                for other_network in routes:
                    other_last = other_network | (0xFFFF_FFFF >> other_length)
                    if other_network <= last and network <= other_last:
                        return False
            if other == table:
                return True
        return True

    def _ask(self, address: int) -> Route | None:
        try:
            info = self._rtnl.route_get(IPv4Address(address))
        except LayerpingError:
            return None
        return Route(info.route_type, info.oif, None if info.gateway is None else int(info.gateway))


class NextHops:
    """The next-hop MAC of every target, for a packet socket on the plan's interface.

    :meth:`stream` wraps the target stream: it takes targets in chunks, routes each, resolves
    the on-link ones with our ARP in parallel (``attempts`` broadcasts ``interval_s`` apart, the
    kernel's neighbour settings unless overridden) and records in :attr:`macs` every target
    whose next hop is not :attr:`default`: a MAC, ``None`` when ARP got no answer (the probe is
    then reported Host Unreachable, as the kernel would), or the reason it cannot be sent from
    this interface. The record is bounded: entries older than the ring plus a chunk are dropped.
    """

    CHUNK = 1024

    def __init__(self, plan: PathPlan, config: ManyConfig, window: int, rtnl: Rtnetlink) -> None:
        from layerping.discovery.plan import NEEDS_ARP_STATES
        from layerping.transport.factory import arp_bounds

        self.plan = plan
        self.config = config
        self.default: bytes = plan.next_hop_mac or bytes(6)
        self.macs: dict[int, bytes | str | None] = {}
        self._keep = window + 2 * self.CHUNK
        self._forced = config.next_hop_mac is not None or config.gateway is not None
        self._rtnl = rtnl
        self._routes = RouteTable(rtnl) if not self._forced else None
        self._gateways: dict[int, bytes | None] = {}
        if plan.gateway is not None and plan.next_hop_mac is not None and not plan.needs_arp:
            self._gateways[int(plan.gateway)] = plan.next_hop_mac
        self._attempts, self._interval_s = arp_bounds(plan.ifname, None, None)
        self._known = {int(n.destination): n.mac for n in rtnl.neighbours(plan.ifindex)
                       if n.mac is not None and n.state not in NEEDS_ARP_STATES}  # fmt: skip
        self.arp_requests = 0
        self._resolver: ArpResolver | None = None  # opened by open_resolver(), kept until close()

    def stream(self, targets: Iterator[Target]) -> Iterator[Target]:
        """``targets`` again, each one yielded once its next hop is known."""
        if self._forced:
            yield from targets
            return
        while True:
            chunk = list(itertools.islice(targets, self.CHUNK))
            if not chunk:
                return
            self._route(chunk)
            yield from chunk

    def _route(self, chunk: list[Target]) -> None:
        from layerping.discovery.plan import multicast_mac
        from layerping.wire.ethernet import BROADCAST_MAC

        assert self._routes is not None
        macs = self.macs
        ifindex = self.plan.ifindex
        default_gateway = None if self.plan.gateway is None else int(self.plan.gateway)
        # A sweep's common case: the whole chunk lies in one prefix routed through the default
        # gateway, so every target goes to the default next hop and there is nothing to record
        # (min and max run in C; the loop below costs a µs per target).
        addresses = [address for address, _name in chunk]
        shared = self._routes.covers(min(addresses), max(addresses))
        if (
            shared is not None
            and shared.route_type == 1  # RTN_UNICAST
            and shared.oif == ifindex
            and shared.gateway is not None
            and shared.gateway == default_gateway
        ):
            return
        broadcast = self.config.broadcast
        on_link: list[int] = []
        for address, _name in chunk:
            route = self._routes.lookup(address)
            if route is None or route.route_type not in (1, 2, 3, 5):  # unicast, local, broadcast, multicast
                macs[address] = f"no route to {format_address(address)}"
            elif route.route_type == 2:  # RTN_LOCAL
                macs[address] = f"{format_address(address)} is this host: use --layer icmp for it"
            elif route.oif != ifindex:
                macs[address] = f"the route to {format_address(address)} leaves through another interface"
            elif route.route_type == 3:  # RTN_BROADCAST
                refusal = f"{format_address(address)} is a broadcast address"
                macs[address] = BROADCAST_MAC if broadcast else refusal
            elif route.route_type == 5:  # RTN_MULTICAST
                macs[address] = multicast_mac(IPv4Address(address))
            elif route.gateway is None:
                on_link.append(address)
            elif route.gateway != default_gateway:
                macs[address] = self._gateway_mac(route.gateway)
        if on_link:
            self._resolve(on_link)
        while len(macs) > self._keep:  # dicts keep insertion order: drop the oldest
            del macs[next(iter(macs))]

    def use_lookup_socket(self, rtnl: Rtnetlink) -> None:
        """Do later kernel route lookups on ``rtnl`` (the set-up socket is closed after set-up)."""
        self._rtnl = rtnl
        if self._routes is not None:
            self._routes.use_lookup_socket(rtnl)

    def open_resolver(self) -> None:
        """Open our ARP socket now, when targets may need it: up front, because the command
        drops its privileges once every socket of the run is open (layerping/privilege.py)."""
        if not self._forced and self.plan.has_link_header and self._resolver is None:
            from layerping.discovery.arp import ArpResolver

            self._resolver = ArpResolver.for_plan(self.plan)

    def learn_default_gateway(self) -> None:
        """Resolve the gateway of the first target's route now: most targets go there. (When the
        first target is on the link, every target's next hop is recorded as it is routed.)"""
        gateway = self.plan.gateway
        if gateway is not None and self.plan.needs_arp and self.config.next_hop_mac is None:
            self.default = self._gateway_mac(int(gateway)) or self.default

    def close(self) -> None:
        """Close the rtnetlink socket kept for per-target kernel lookups, and our ARP socket."""
        self._rtnl.close()
        if self._resolver is not None:
            self._resolver.close()
            self._resolver = None

    def _gateway_mac(self, gateway: int) -> bytes | None:
        if gateway not in self._gateways:
            known = self._known.get(gateway)
            self._gateways[gateway] = known if known is not None else self._arp([gateway]).get(gateway)
        return self._gateways[gateway]

    def _resolve(self, addresses: list[int]) -> None:
        macs = self.macs
        wanted = []
        for address in addresses:
            known = self._known.get(address)
            if known is not None:
                macs[address] = known
            else:
                wanted.append(address)
        if wanted:
            found = self._arp(wanted)
            for address in wanted:
                macs[address] = found.get(address)

    def _arp(self, addresses: list[int]) -> dict[int, bytes]:
        from layerping.discovery.arp import ArpResolver, drive

        # One resolver for the whole run: a packet socket closed per batch would stall the run
        # for an RCU grace period each time (see close_concurrently).
        resolver = self._resolver
        if resolver is None:
            resolver = self._resolver = ArpResolver.for_plan(self.plan)
        resolver.forget()  # self.macs keeps what earlier batches learnt
        sent_before = resolver.requests_sent
        found = drive(resolver, [IPv4Address(a) for a in addresses], attempts=self._attempts,
                      interval_s=self._interval_s)  # fmt: skip
        self.arp_requests += resolver.requests_sent - sent_before
        return {int(address): mac for address, mac in found.items()}


def open_link(config: ManyConfig, identifier: int, targets: Iterator[Target],
              window: int) -> tuple[Transport, NextHops, Iterator[Target]]:  # fmt: skip
    """Layers ip and ethernet: the packet socket, the next hops, and the targets to stream.

    The interface, source address and our MAC come from the path to the first target, as for one
    destination (``-I``, ``--source``, ``--src-mac``, ``--gateway`` and ``--next-hop-mac``
    override them); every target must leave through that interface.
    """
    from layerping.discovery.plan import plan_path
    from layerping.discovery.rtnetlink import Rtnetlink
    from layerping.inet.v4 import IPV4
    from layerping.transport.factory import check_plan
    from layerping.transport.framing import framing_for
    from layerping.transport.packet import PacketTransport
    from layerping.transport.packet_socket import close_concurrently, open_link_socket

    try:
        first = next(targets)
    except StopIteration:
        raise UsageError("no targets left to ping (all excluded?)", "check targets and --exclude") from None
    targets = itertools.chain([first], targets)
    layer = config.layer
    framing = framing_for(layer)
    with Rtnetlink() as rtnl:
        plan = plan_path(IPv4Address(first[0]), interface=config.interface, source=config.source,
                         gateway=config.gateway, src_mac=config.src_mac, next_hop_mac=config.next_hop_mac,
                         rtnl=rtnl)  # fmt: skip
        check_plan(plan, layer, config)
        # The run's packet socket comes before ARP: it reports a missing privilege first, and no
        # socket is opened only to be closed (see close_concurrently).
        sock = open_link_socket(plan, identifier, framing, None, IPV4)
        try:
            next_hops = NextHops(plan, config, window, rtnl)
            next_hops.open_resolver()
            next_hops.learn_default_gateway()
        except BaseException:
            sock.close()
            raise
    options = SendOptions(ttl=config.ttl, tos=config.tos, pmtu=config.pmtu, allow_broadcast=config.broadcast)
    try:
        # Rtnetlink is needed again only for kernel lookups: keep a socket of its own for those.
        lookup_rtnl = Rtnetlink()
        next_hops.use_lookup_socket(lookup_rtnl)
        transport = PacketTransport(plan, identifier, options, framing=framing, family=IPV4,
                                    next_hop_mac=next_hops.default, sock=sock)  # fmt: skip
    except BaseException:
        close_concurrently([sock.close, next_hops.close])
        raise
    return transport, next_hops, next_hops.stream(targets)


# --- the library calls ----------------------------------------------------------------------------


def _config(targets: str | Iterable[str], count: int | None, interval: float, timeout: float,
            layer: Layer | str, rate: float, options: dict[str, object]) -> ManyConfig:  # fmt: skip
    texts = (targets,) if isinstance(targets, str) else tuple(targets)
    return ManyConfig(
        targets=texts,
        count=count,
        interval_s=interval,
        timeout_s=timeout,
        layer=Layer(layer) if isinstance(layer, str) else layer,
        rate_pps=rate,
        **options,  # type: ignore[arg-type]
    )


def iter_events(
    targets: str | Iterable[str],
    count: int | None = None,
    interval: float = 1.0,
    timeout: float = 1.0,
    layer: Layer | str = Layer.ICMP,
    rate: float = DEFAULT_RATE_PPS,
    **options: object,
) -> Iterator[TargetEvent]:
    """Ping ``targets`` and yield each event as it happens; memory stays flat.

    Events are :class:`~layerping.engine.multi.TargetReply`, ``TargetTimeout``,
    ``TargetIcmpError``, ``TargetSendError`` and, once per target in input order,
    ``TargetDone``. ``count=None`` is alive mode: a target is done at its first reply, and a
    silent one is probed again ``retries`` times (keyword, default 1). Other keyword arguments
    are :class:`ManyConfig` fields (``retries``, ``payload_size``, ``ttl``, ``exclude``,
    ``broadcast``, ``interface``, ``deadline_s``...). Closing the generator ends the run.

    >>> from layerping.engine.multi import TargetDone
    >>> done = [e for e in iter_events(["127.0.0.1"], timeout=1.0) if isinstance(e, TargetDone)]
    >>> done[0].alive
    True
    """
    config = _config(targets, count, interval, timeout, layer, rate, options)
    run = prepare_many(config)
    try:
        yield from run.events()
    finally:
        run.close()


class _Building(Record):
    result: PingResult
    rtts: list[int] = field(default_factory=list)


def multiping(
    targets: str | Iterable[str],
    count: int | None = 1,
    interval: float = 1.0,
    timeout: float = 1.0,
    layer: Layer | str = Layer.ICMP,
    rate: float = DEFAULT_RATE_PPS,
    **options: object,
) -> list[PingResult]:
    """Ping every target; return one :class:`~layerping.results.PingResult` per target, in input order.

    ``count`` probes go to each target, ``interval`` seconds apart, each waiting ``timeout``
    seconds; ``rate`` bounds the probes per second over all targets. ``count=None`` is alive
    mode (see :func:`iter_events`). A block like ``"198.18.0.0/24"`` gives one result per
    address (network and broadcast addresses left out unless ``broadcast=True``). Names that do
    not resolve raise :class:`~layerping.errors.UsageError`.

    >>> results = multiping(["127.0.0.1", "127.0.0.2"], count=2, interval=0.1)
    >>> [(r.destination, r.stats.received) for r in results]
    [('127.0.0.1', 2), ('127.0.0.2', 2)]
    """
    from layerping.engine.session import ErrorEvent
    from layerping.output.text import icmp_error_text
    from layerping.results import IcmpErrorReport, PingResult, Reply

    config = _config(targets, count, interval, timeout, layer, rate, options)
    errors: list[tuple[str, str]] = []
    run = prepare_many(config, on_name_error=lambda name, text: errors.append((name, text)))
    building: dict[int, _Building] = {}
    results: list[PingResult] = []
    try:
        for event in run.events():
            if errors:
                raise UsageError(errors[0][1], "check the name, or give an IPv4 address")
            entry = building.get(event.target)
            if entry is None:
                address = IPv4Address(event.address)
                entry = building[event.target] = _Building(
                    PingResult(destination=event.name or format_address(event.address), address=address)
                )
            result = entry.result
            if isinstance(event, TargetReply):
                result.replies.append(Reply(event.probe + 1, result.address, event.ttl, event.rtt_ns / 1e6,
                                            event.icmp_len, event.duplicate, False))  # fmt: skip
                if not event.duplicate:
                    entry.rtts.append(event.rtt_ns)
            elif isinstance(event, TargetIcmpError):
                words = icmp_error_text(cast(ErrorEvent, event))  # iputils' words, as ping() has them
                result.errors.append(IcmpErrorReport(event.probe + 1, IPv4Address(event.source),
                                                     event.icmp_type, event.icmp_code, words))  # fmt: skip
            elif isinstance(event, TargetSendError):
                result.errors.append(IcmpErrorReport(event.probe + 1, IPv4Address(0), -1, -1, event.text))
            elif isinstance(event, TargetDone):
                del building[event.target]
                stats = Statistics(keep_samples=True)
                for rtt in entry.rtts:
                    stats.add_rtt(rtt)
                stats.transmitted = event.transmitted
                stats.received = event.received
                stats.duplicates = event.duplicates
                stats.corrupted = event.corrupted
                stats.errors = event.errors
                result.stats = stats
                result.exit_code = 0 if event.received else 1
                results.append(result)
    finally:
        run.close()
    if errors:
        raise UsageError(errors[0][1], "check the name, or give an IPv4 address")
    elapsed_ms = run.elapsed_ns / 1e6
    for result in results:
        result.elapsed_ms = elapsed_ms
    return results


async def async_ping(host: str, count: int = 4, interval: float = 1.0, timeout: float | None = None,
                     layer: Layer | str = Layer.ICMP, **options: object) -> PingResult:  # fmt: skip
    """:func:`layerping.ping` for asyncio: runs in a worker thread, the event loop stays free.

    >>> import asyncio
    >>> asyncio.run(async_ping("127.0.0.1", count=1)).stats.received
    1
    """
    import asyncio

    from layerping.results import ping

    return await asyncio.to_thread(ping, host, count, interval, timeout, layer, **options)  # type: ignore[arg-type]


async def async_multiping(
    targets: str | Iterable[str],
    count: int | None = 1,
    interval: float = 1.0,
    timeout: float = 1.0,
    layer: Layer | str = Layer.ICMP,
    rate: float = DEFAULT_RATE_PPS,
    **options: object,
) -> list[PingResult]:
    """:func:`multiping` for asyncio: runs in a worker thread, the event loop stays free.

    >>> import asyncio
    >>> [r.is_alive for r in asyncio.run(async_multiping(["127.0.0.1"], count=1))]
    [True]
    """
    import asyncio

    return await asyncio.to_thread(multiping, targets, count, interval, timeout, layer, rate, **options)
