"""Open the transport for ``--layer ip`` or ``--layer ethernet``: plan, resolve, check, open.

1. :func:`layerping.discovery.plan.plan_path` asks the kernel how it would send to the target
   (route, device, neighbour entry), with the user's overrides (``-I``, ``--source``,
   ``--gateway``, ``--src-mac``, ``--next-hop-mac``).
2. When the plan says the next hop's MAC is missing or unconfirmed, we resolve it ourselves
   with ARP (RFC 826), bounded as the kernel bounds it: ``mcast_solicit`` broadcast requests,
   ``retrans_time_ms`` apart, both read from ``/proc/sys/net/ipv4/neigh/<ifname>/`` (so a
   test can make it fast for its own namespace without touching the code). No answer is not an
   error: the transport then reports every probe as Destination Host Unreachable, as the
   kernel does, and the run ends with exit status 1.
3. Situations the kernel would refuse anyway are one-line :class:`UsageError` values (exit 2):
   ``--layer ethernet`` on a link without hardware addresses, ``--src-mac`` at ``--layer ip``,
   a probe beyond the MTU without ``-M do`` (layerping does not fragment), and frames to this
   host through ``lo`` that the kernel would drop as martians.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Final

from layerping.errors import UsageError, refuse_broadcast
from layerping.inet.v4 import IP_HEADER_LEN, IPV4, forbids_fragmentation
from layerping.transport.base import Layer, SendOptions, Transport
from layerping.transport.framing import framing_for
from layerping.transport.packet import PacketTransport
from layerping.transport.packet_socket import close_concurrently, open_link_socket

if TYPE_CHECKING:
    from typing import Protocol

    from layerping.api import PingConfig, Target
    from layerping.discovery.arp import ArpResolver
    from layerping.discovery.plan import PathPlan

    # A Protocol class costs start-up time: it exists for the type checker only.
    class ProbeShape(Protocol):
        """What :func:`check_plan` needs of a run's options: one target's ``PingConfig`` and the
        many-target ``ManyConfig`` both have it, so both paths are checked by the same code."""

        @property
        def payload_size(self) -> int: ...
        @property
        def pmtu(self) -> str | None: ...
        @property
        def src_mac(self) -> bytes | None: ...


#: The kernel's defaults for neigh/*/mcast_solicit and retrans_time_ms (ip-sysctl.rst).
DEFAULT_ARP_ATTEMPTS: Final = 3
DEFAULT_ARP_INTERVAL_S: Final = 1.0
_MAX_ARP_ATTEMPTS: Final = 10
_MAX_ARP_INTERVAL_S: Final = 10.0
#: Receive buffer for fast runs, as at layer icmp: replies must not be dropped in bursts.
FAST_RECEIVE_BUFFER: Final = 4 << 20
_RTN_LOCAL: Final = 2  # include/uapi/linux/rtnetlink.h
_RTN_BROADCAST: Final = 3
ICMP_HEADER_LEN: Final = 8


def open_link_transport(
    config: PingConfig,
    target: Target,
    identifier: int,
    options: SendOptions,
    *,
    arp_attempts: int | None = None,
    arp_interval_s: float | None = None,
) -> tuple[Transport, IPv4Address]:
    """Open the ``config.layer`` transport (ip or ethernet) to ``target``; return it and the source.

    ``arp_attempts`` and ``arp_interval_s`` override the interface's neighbour sysctls.
    Raises :class:`~layerping.errors.LayerpingError` subclasses (one line each) for what cannot
    work; an unanswered ARP is not one of them (see the module docstring).
    """
    from layerping.discovery.plan import plan_path

    layer = config.layer
    if layer not in (Layer.IP, Layer.ETHERNET):
        raise UsageError(f"open_link_transport opens --layer ip or ethernet, not {layer.value}")
    plan = plan_path(
        target.address,
        interface=config.interface,
        source=config.source,
        gateway=config.gateway,
        src_mac=config.src_mac,
        next_hop_mac=config.next_hop_mac,
    )
    check_plan(plan, layer, config)
    if plan.route_type == _RTN_BROADCAST:
        refuse_broadcast(target.address, config.broadcast)
    receive_buffer = FAST_RECEIVE_BUFFER if config.flood or config.interval_s < 0.01 else None
    framing = framing_for(layer)
    # The run's one socket is opened first: it says what privilege is missing before ARP (which
    # needs the same) could say it less clearly, and no packet socket is opened only to be
    # closed again, which would cost an RCU grace period (see close_concurrently).
    sock = open_link_socket(plan, identifier, framing, receive_buffer, IPV4)
    next_hop_mac = plan.next_hop_mac
    resolver: ArpResolver | None = None
    arp_frames: list[tuple[int, bool, bytes]] = []
    try:
        if plan.needs_arp and config.next_hop_mac is None:
            next_hop_mac, resolver, arp_frames = resolve_next_hop(plan, arp_attempts, arp_interval_s)
        transport = PacketTransport(
            plan,
            identifier,
            options,
            framing=framing,
            family=IPV4,
            next_hop_mac=next_hop_mac,
            resolver=resolver,
            receive_buffer=receive_buffer,
            sock=sock,
            rx_ring=receive_buffer is not None,  # fast runs: see PacketTransport
        )
    except BaseException:
        close_concurrently([sock.close] + ([resolver.close] if resolver is not None else []))
        raise
    # Our own ARP, for -v and --pcap (the list keeps growing while an unanswered resolver asks).
    transport.arp_frames = arp_frames
    return transport, plan.source


def check_plan(plan: PathPlan, layer: Layer, config: ProbeShape) -> None:
    """Refuse, in one line, what this layer cannot do on this path."""
    if layer is Layer.ETHERNET:
        framing_for(layer).check_link(plan.ifname, plan.has_link_header, plan.src_mac)
    if layer is Layer.IP and config.src_mac is not None:
        raise UsageError(
            "--src-mac needs --layer ethernet",
            f"at --layer ip the kernel writes the link header with {plan.ifname}'s own address",
        )
    total_length = IP_HEADER_LEN + ICMP_HEADER_LEN + config.payload_size
    if total_length > plan.mtu and not forbids_fragmentation(config.pmtu):
        raise UsageError(
            f"-s {config.payload_size} makes {total_length}-byte packets, more than the MTU {plan.mtu} "
            f"of {plan.ifname}, and layerping does not fragment at --layer {layer.value}",
            f"use -s {plan.mtu - IP_HEADER_LEN - ICMP_HEADER_LEN} or less, or --layer icmp "
            "(the kernel fragments there)",
        )
    check_local_delivery(plan)


def _sysctl_on(path: str) -> bool:
    try:
        with open(path) as f:
            return int(f.read().strip() or "0") != 0
    except (OSError, ValueError):
        return False


def _conf_on(ifname: str, name: str) -> bool:
    """``net.ipv4.conf.{all,<ifname>}.<name>``: the kernel ORs the two (IN_DEV_ORCONF)."""
    return any(_sysctl_on(f"/proc/sys/net/ipv4/conf/{scope}/{name}") for scope in ("all", ifname))


def check_local_delivery(plan: PathPlan) -> None:
    """Refuse frames to this host that the kernel would drop on the way in.

    A frame a packet socket writes on ``lo`` arrives without a route attached, so the kernel
    routes it as if it came from outside: a source address of this host is a martian unless
    ``accept_local`` is on, and 127.0.0.0/8 on either side needs ``route_localnet`` too
    (ip-sysctl.rst; fib_validate_source, ip_route_input_slow; the drop reason is
    IP_LOCAL_SOURCE). layerping never changes sysctls itself; it says which to set.
    """
    if not plan.is_loopback and plan.route_type != _RTN_LOCAL:
        return
    ifname = plan.ifname
    if plan.route_type != _RTN_LOCAL:
        # e.g. -I lo towards another host: loopback hands every frame back to this host.
        raise UsageError(
            f"{plan.destination} is not an address of this host, and what is sent on {ifname} "
            "only comes back to this host",
            "choose the interface towards it with -I, or leave -I out",
        )
    missing: list[str] = []
    if not _conf_on(ifname, "accept_local"):
        missing.append(f"net.ipv4.conf.{ifname}.accept_local=1")
    if (plan.destination.is_loopback or plan.source.is_loopback) and not _conf_on(
        ifname, "route_localnet"
    ):
        missing.append(f"net.ipv4.conf.{ifname}.route_localnet=1")
    if missing:
        raise UsageError(
            f"the kernel drops frames a packet socket sends on {ifname} to {plan.destination} "
            "from this host's own address (martian source)",
            f"set `sysctl -w {' '.join(missing)}` to allow them, or use --layer icmp",
        )


def arp_bounds(ifname: str, attempts: int | None, interval_s: float | None) -> tuple[int, float]:
    """How often and how far apart to ask: the arguments, else the interface's neigh sysctls."""
    base = f"/proc/sys/net/ipv4/neigh/{ifname}"
    if attempts is None:
        attempts = _read_int(f"{base}/mcast_solicit", DEFAULT_ARP_ATTEMPTS)
    if interval_s is None:
        interval_ms = _read_int(f"{base}/retrans_time_ms", int(DEFAULT_ARP_INTERVAL_S * 1000))
        interval_s = interval_ms / 1000
    attempts = min(max(attempts, 1), _MAX_ARP_ATTEMPTS)
    interval_s = min(max(interval_s, 0.01), _MAX_ARP_INTERVAL_S)
    return attempts, interval_s


def _read_int(path: str, default: int) -> int:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return default


def resolve_next_hop(
    plan: PathPlan, attempts: int | None, interval_s: float | None
) -> tuple[bytes | None, ArpResolver | None, list[tuple[int, bool, bytes]]]:
    """ARP for the plan's next hop: (mac or None, resolver, frames). The resolver is left open:
    the transport keeps asking with it while the next hop is silent, and closes it in any case.
    ``frames`` is the resolver's log of the ARP frames it sent and accepted."""
    from layerping.discovery.arp import ArpResolver, drive

    attempts, interval_s = arp_bounds(plan.ifname, attempts, interval_s)
    resolver = ArpResolver.for_plan(plan)
    try:
        mac = drive(resolver, [plan.next_hop], attempts=attempts, interval_s=interval_s).get(plan.next_hop)
    except BaseException:
        resolver.close()
        raise
    return mac, resolver, resolver.frames
