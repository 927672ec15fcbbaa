"""Work out how a probe to one destination leaves this host: a :class:`PathPlan`.

:func:`plan_path` asks the kernel what it would do itself (rtnetlink(7)): the route
(``ip route get``), the output device (``ip link show``) and the next hop's entry in the
neighbour table (``ip neigh get``). The ip and ethernet layers then write what the kernel
would have written. Every detected value can be overridden; contradicting overrides are
refused with a :class:`~layerping.errors.UsageError`.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Final

from layerping import errors
from layerping._linux import ARPHRD_ETHER, ARPHRD_LOOPBACK
from layerping._value import Value
from layerping.discovery.rtnetlink import AddrInfo, LinkInfo, Rtnetlink
from layerping.wire import netlink as nl

ZERO_MAC: Final = bytes(6)  # what the loopback device carries in both MAC fields
MAC_LEN: Final = 6

#: Device types whose frames start with a 14-byte Ethernet header. The loopback device takes
#: one too (with zero MACs), so an AF_PACKET/SOCK_RAW socket on ``lo`` sees and sends it.
LINK_HEADER_TYPES: Final = frozenset({ARPHRD_ETHER, ARPHRD_LOOPBACK})

#: Neighbour states whose hardware address we should (re)learn before sending frames ourselves:
#: no entry, resolution under way or failed, or an address nobody confirmed recently.
NEEDS_ARP_STATES: Final = frozenset({nl.NUD_NONE, nl.NUD_INCOMPLETE, nl.NUD_FAILED, nl.NUD_STALE})

#: Route types a ping can follow; the rest (blackhole, unreachable, prohibit, throw) drop.
_SENDABLE_ROUTE_TYPES: Final = frozenset({nl.RTN_UNICAST, nl.RTN_LOCAL, nl.RTN_BROADCAST, nl.RTN_MULTICAST})


class PathPlan(Value):
    """Everything needed to put a probe to ``destination`` on the wire ourselves."""

    destination: IPv4Address
    ifindex: int
    ifname: str
    source: IPv4Address  # the IPv4 source address to write
    src_mac: bytes | None  # our hardware address on the device (None: device has none)
    next_hop: IPv4Address  # the gateway, or the destination itself when it is on-link
    gateway: IPv4Address | None  # the router we send through; None when on-link
    next_hop_mac: bytes | None  # None: unknown, resolve with ARP first
    neighbour_state: int | None  # NUD_* of the kernel's entry; None: not from the kernel's table
    link_type: int  # ARPHRD_*
    mtu: int
    has_link_header: bool  # frames carry a 14-byte Ethernet header (Ethernet, loopback)
    route_type: int = nl.RTN_UNICAST  # RTN_*: unicast, local (to this host), broadcast, multicast

    @property
    def is_loopback(self) -> bool:
        """The probe goes through the loopback device: the destination is this host."""
        return self.link_type == ARPHRD_LOOPBACK

    @property
    def needs_arp(self) -> bool:
        """An Ethernet path whose next hop's MAC is unknown or not confirmed (RFC 826)."""
        if self.link_type != ARPHRD_ETHER:
            return False
        return self.next_hop_mac is None or self.neighbour_state in NEEDS_ARP_STATES


def multicast_mac(group: IPv4Address) -> bytes:
    """The Ethernet group address of an IPv4 multicast group (RFC 1112 section 6.4)."""
    low23 = int(group) & 0x7FFFFF
    return b"\x01\x00\x5e" + low23.to_bytes(3, "big")


def _check_mac(value: bytes | None, option: str) -> None:
    if value is not None and len(value) != MAC_LEN:
        raise errors.UsageError(
            f"{option} must be {MAC_LEN} bytes, got {len(value)}", "write it as 02:00:00:00:00:01"
        )


def _check_up(link: LinkInfo) -> None:
    if not link.is_up:
        raise errors.NoSuchInterface(
            f"interface {link.name} is down", f"bring it up with `ip link set {link.name} up`"
        )


def _on_link(address: IPv4Address, addrs: list[AddrInfo]) -> bool:
    """True if ``address`` lies in a prefix configured on the device (a connected route)."""
    for addr in addrs:
        network = IPv4Network((addr.on_link_address, addr.prefixlen), strict=False)
        if address in network:
            return True
    return False


def _not_own_source(source: IPv4Address, link: LinkInfo | None) -> errors.UsageError:
    if link is None:
        return errors.UsageError(
            f"source {source} is not an address of this host", "pick one from `ip -4 addr`"
        )
    return errors.UsageError(
        f"source {source} is not an address of {link.name}",
        f"pick one from `ip -4 addr show dev {link.name}` or choose another interface with -I",
    )


def plan_path(
    destination: IPv4Address,
    *,
    interface: str | None = None,
    source: IPv4Address | None = None,
    gateway: IPv4Address | None = None,
    src_mac: bytes | None = None,
    next_hop_mac: bytes | None = None,
    rtnl: Rtnetlink | None = None,
) -> PathPlan:
    """Ask the kernel how it would send to ``destination`` and return that as a plan.

    ``interface`` forces the output device (the lookup is ``ip route get DST oif DEV``),
    ``source`` the source address (passed as RTA_SRC, so policy routing sees it). ``gateway``,
    ``src_mac`` and ``next_hop_mac`` replace the detected values. ``rtnl`` reuses an open
    :class:`Rtnetlink`; without it the plan opens and closes its own socket.

    Raises :class:`~layerping.errors.NoRoute`, :class:`~layerping.errors.NoSuchInterface`
    (unknown or down device) or :class:`~layerping.errors.UsageError` (an override that
    contradicts the device).
    """
    _check_mac(src_mac, "--src-mac")
    _check_mac(next_hop_mac, "--next-hop-mac")
    if rtnl is None:
        with Rtnetlink() as own:
            return _plan(own, destination, interface, source, gateway, src_mac, next_hop_mac)
    return _plan(rtnl, destination, interface, source, gateway, src_mac, next_hop_mac)


def _plan(
    rtnl: Rtnetlink,
    destination: IPv4Address,
    interface: str | None,
    source: IPv4Address | None,
    gateway: IPv4Address | None,
    src_mac: bytes | None,
    next_hop_mac: bytes | None,
) -> PathPlan:
    link: LinkInfo | None = None
    if interface is not None:
        link = rtnl.link_get(name=interface)
        _check_up(link)
    try:
        route = rtnl.route_get(destination, oif=None if link is None else link.index, src=source)
    except errors.NoRoute:
        # The kernel answers ENETUNREACH for a source that is no address of this host at all:
        # say what is really wrong.
        if source is not None and source not in {addr.address for addr in rtnl.addresses()}:
            raise _not_own_source(source, link) from None
        raise
    if route.route_type not in _SENDABLE_ROUTE_TYPES:
        kind = nl.RTN_NAMES.get(route.route_type, str(route.route_type))
        raise errors.NoRoute(f"the route to {destination} is {kind}", "check `ip route get` for it")
    if link is None or link.index != route.oif:
        # No device given, or the kernel chose another one (a local destination goes via lo).
        link = rtnl.link_get(index=route.oif)
        _check_up(link)

    has_link_header = link.link_type in LINK_HEADER_TYPES
    if (src_mac is not None or next_hop_mac is not None) and (link.mac is None or not has_link_header):
        option = "--src-mac" if src_mac is not None else "--next-hop-mac"
        raise errors.UsageError(
            f"{option} makes no sense on {link.name}: it has no hardware addresses",
            "choose an Ethernet interface with -I, or leave the MAC out",
        )

    addrs: list[AddrInfo] | None = None
    if source is not None:
        addrs = rtnl.addresses(link.index)
        own = {addr.address for addr in addrs}
        if route.route_type == nl.RTN_LOCAL:
            # To this host any of its addresses is a proper source, as for the kernel.
            own |= {addr.address for addr in rtnl.addresses()}
        if source not in own:
            raise _not_own_source(source, link)
        chosen_source = source
    elif route.prefsrc is not None:
        chosen_source = route.prefsrc
    else:
        raise errors.NoRoute(
            f"no source address to reach {destination} from {link.name}",
            f"add an address to {link.name} or give one with --source",
        )

    if gateway is not None:
        if addrs is None:
            addrs = rtnl.addresses(link.index)
        if not _on_link(gateway, addrs) or gateway in {addr.address for addr in addrs}:
            raise errors.UsageError(
                f"gateway {gateway} is not on-link for {link.name}",
                f"pick a neighbour in a prefix of `ip -4 addr show dev {link.name}`",
            )
        chosen_gateway: IPv4Address | None = gateway
    elif route.route_type == nl.RTN_UNICAST:
        chosen_gateway = route.gateway
    else:
        chosen_gateway = None
    next_hop = destination if chosen_gateway is None else chosen_gateway

    neighbour_state: int | None = None
    if next_hop_mac is None and has_link_header:
        if link.link_type == ARPHRD_LOOPBACK or route.route_type == nl.RTN_LOCAL:
            next_hop_mac = link.mac if link.mac is not None else ZERO_MAC
        elif route.route_type == nl.RTN_BROADCAST and chosen_gateway is None:
            next_hop_mac = link.broadcast
        elif route.route_type == nl.RTN_MULTICAST and chosen_gateway is None:
            next_hop_mac = multicast_mac(destination)
        else:
            entry = rtnl.neigh_get(next_hop, link.index)
            if entry is not None:
                next_hop_mac = entry.mac
                neighbour_state = entry.state

    return PathPlan(
        destination=destination,
        ifindex=link.index,
        ifname=link.name,
        source=chosen_source,
        src_mac=src_mac if src_mac is not None else (link.mac if has_link_header else None),
        next_hop=next_hop,
        gateway=chosen_gateway,
        next_hop_mac=next_hop_mac,
        neighbour_state=neighbour_state,
        link_type=link.link_type,
        mtu=link.mtu,
        has_link_header=has_link_header,
        route_type=route.route_type,
    )
