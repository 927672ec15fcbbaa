"""A small rtnetlink client on the standard library (rtnetlink(7), netlink(7)).

It asks the kernel the questions ``ip route get``, ``ip link show``, ``ip neigh get`` and
``ip addr show`` ask, over one ``AF_NETLINK``/``NETLINK_ROUTE`` socket, and returns frozen
values. pyroute2 would do the same but costs ~250 ms to import; this module needs only
:mod:`socket` and :mod:`layerping.wire.netlink`.

Every receive is bounded by a deadline, only answers from the kernel (port id 0) carrying the
sequence number of the current request are accepted, and NLMSG_ERROR is turned into an
exception (with the kernel's extended-ack message when it sends one).
"""

from __future__ import annotations

import errno
import os
import select
import socket
import time
from ipaddress import IPv4Address
from types import TracebackType
from typing import Final

from layerping import errors
from layerping._value import Value
from layerping.wire import netlink as nl

# include/linux/socket.h
SOL_NETLINK: Final = 270
# include/uapi/linux/netlink.h: socket options at SOL_NETLINK
NETLINK_CAP_ACK: Final = 10  # leave the request out of error answers
NETLINK_EXT_ACK: Final = 11  # append NLMSGERR_ATTR_MSG (a text reason) to error answers

_RECV_BUFFER_BYTES: Final = 65536  # netlink dump skbs are at most 32 KiB (af_netlink.c)
_MAX_DATAGRAMS_PER_REQUEST: Final = 100_000  # a dump of every link on a very large host still fits
_DUMP_ATTEMPTS: Final = 3  # re-run a dump the kernel flags as interrupted (NLM_F_DUMP_INTR)
_IFNAMSIZ: Final = 16  # include/uapi/linux/if.h, NUL included
_MSG_TRUNC: Final = int(socket.MSG_TRUNC)  # a plain int: IntFlag's __and__ costs a µs a call


class NetlinkError(errors.DiscoveryError):
    """The kernel answered a request with an error (NLMSG_ERROR carrying a negative errno)."""

    def __init__(self, request: str, errno_value: int, ext_message: str | None = None) -> None:
        reason = os.strerror(errno_value)
        if ext_message:
            reason = f"{reason} ({ext_message})"
        super().__init__(f"netlink {request}: {reason}")
        self.errno = errno_value
        self.ext_message = ext_message


class RouteInfo(Value):
    """The kernel's answer to ``ip route get DST`` (RTM_NEWROUTE for one destination)."""

    destination: IPv4Address
    oif: int  # output interface index (RTA_OIF)
    prefsrc: IPv4Address | None  # the source the kernel would pick (RTA_PREFSRC)
    gateway: IPv4Address | None  # next-hop router (RTA_GATEWAY); None when on-link
    route_type: int  # RTN_*
    table: int  # RT_TABLE_* the lookup used (RTA_TABLE, thanks to RTM_F_LOOKUP_TABLE)


class LinkInfo(Value):
    """One network device (RTM_NEWLINK)."""

    index: int
    name: str
    mac: bytes | None  # IFLA_ADDRESS; None for devices without hardware addresses (tun)
    broadcast: bytes | None  # IFLA_BROADCAST
    mtu: int
    link_type: int  # ARPHRD_* (include/uapi/linux/if_arp.h)
    flags: int  # IFF_*
    is_up: bool  # IFF_UP: administratively up
    operstate: int  # IF_OPER_* (RFC 2863)

    @property
    def has_carrier(self) -> bool:
        """IFF_LOWER_UP: the driver reports the link layer up."""
        return bool(self.flags & nl.IFF_LOWER_UP)


class NeighInfo(Value):
    """One entry of the kernel's neighbour (ARP) table (RTM_NEWNEIGH)."""

    destination: IPv4Address
    ifindex: int
    mac: bytes | None  # NDA_LLADDR; None while INCOMPLETE or FAILED
    state: int  # NUD_*


class AddrInfo(Value):
    """One IPv4 address of an interface (RTM_NEWADDR)."""

    ifindex: int
    address: IPv4Address  # IFA_LOCAL: this host's address
    prefixlen: int
    broadcast: IPv4Address | None  # IFA_BROADCAST
    peer: IPv4Address | None = None  # IFA_ADDRESS when it differs from IFA_LOCAL (point-to-point)

    @property
    def on_link_address(self) -> IPv4Address:
        """The address the prefix applies to: the peer's on point-to-point links, else ours."""
        return self.peer if self.peer is not None else self.address


class Rtnetlink:
    """One NETLINK_ROUTE socket, reused for every question a path plan asks.

    Use as a context manager, or call :meth:`close`. ``timeout_s`` bounds each request.
    """

    def __init__(self, timeout_s: float = 2.0) -> None:
        self.timeout_s = timeout_s
        self._seq = 0
        # None = not tried yet; False = the kernel lacks RTM_GETNEIGH "get" (before Linux 4.20).
        self._neigh_get_supported: bool | None = None
        try:
            self._sock = socket.socket(
                socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, nl.NETLINK_ROUTE
            )
        except OSError as exc:  # --layer ip and ethernet always ask rtnetlink for the path
            hint = errors.os_error_hint(exc.errno)
            raise errors.DiscoveryError(
                f"cannot open a NETLINK_ROUTE socket: {os.strerror(exc.errno or 0)}",
                (f"{hint}; " if hint else "") + "--layer icmp needs no netlink socket",
            ) from None
        try:
            for option in (NETLINK_CAP_ACK, NETLINK_EXT_ACK):
                try:
                    self._sock.setsockopt(SOL_NETLINK, option, 1)
                except OSError:  # older kernels: plain errors still work
                    pass
            self._sock.bind((0, 0))  # the kernel assigns our port id
        except BaseException:
            self._sock.close()
            raise

    def __enter__(self) -> Rtnetlink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    # -- transport ---------------------------------------------------------------------------

    def _request(self, name: str, msg_type: int, body: bytes, *, dump: bool) -> list[nl.NetlinkMessage]:
        """Send one request and collect its answer: one message, or a whole dump.

        Raises :class:`NetlinkError` for an NLMSG_ERROR with a negative errno.
        """
        for _ in range(_DUMP_ATTEMPTS):
            answers, interrupted = self._exchange(name, msg_type, body, dump=dump)
            if not interrupted:
                return answers
        return answers  # still interrupted after a few tries: a busy table, the answer is usable

    def _exchange(
        self, name: str, msg_type: int, body: bytes, *, dump: bool
    ) -> tuple[list[nl.NetlinkMessage], bool]:
        self._seq = (self._seq + 1) & 0xFFFF_FFFF
        seq = self._seq
        flags = nl.NLM_F_DUMP if dump else 0
        try:
            self._sock.sendto(nl.build_request(msg_type, flags, seq, body), (0, 0))
        except OSError as exc:
            reason = os.strerror(exc.errno or 0)
            raise errors.DiscoveryError(f"netlink {name}: send failed: {reason}") from None
        deadline = time.monotonic() + self.timeout_s
        answers: list[nl.NetlinkMessage] = []
        interrupted = False
        for _ in range(_MAX_DATAGRAMS_PER_REQUEST):
            # The kernel answers a request inside our sendto, and writes the next part of a dump
            # inside our recvmsg, so the answer is normally queued already: read without waiting
            # first, and poll only when it is not. (A socket timeout would make CPython poll
            # before every send and every receive: four system calls a question, not two.)
            try:
                data, _anc, msg_flags, sender = self._sock.recvmsg(_RECV_BUFFER_BYTES, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                waiting = select.poll()  # poll, not select: the descriptor may be above 1023
                waiting.register(self._sock, select.POLLIN)
                if not waiting.poll(remaining * 1000):
                    break
                continue
            except OSError as exc:  # ENOBUFS: the kernel dropped part of the answer
                raise errors.DiscoveryError(
                    f"netlink {name}: receive failed: {os.strerror(exc.errno or 0)}"
                ) from None
            if msg_flags & _MSG_TRUNC:
                raise errors.DiscoveryError(f"netlink {name}: answer larger than {_RECV_BUFFER_BYTES} bytes")
            if sender[0] != 0:  # only the kernel (port id 0) answers our requests
                continue
            for message in nl.parse_messages(data):
                if message.seq != seq:
                    continue  # a late answer to an earlier request
                if message.flags & nl.NLM_F_DUMP_INTR:
                    interrupted = True
                if message.type == nl.NLMSG_ERROR:
                    error = nl.NlMsgErr.parse(message.payload, message.flags)
                    if error.error != 0:
                        raise NetlinkError(name, error.errno, error.ext_message)
                    return answers, interrupted  # a plain acknowledgement
                if message.type == nl.NLMSG_DONE:
                    done = nl.NlMsgDone.parse(message.payload, message.flags)
                    if done.error < 0:
                        raise NetlinkError(name, -done.error, done.ext_message)
                    return answers, interrupted
                if message.type in (nl.NLMSG_NOOP, nl.NLMSG_OVERRUN):
                    continue
                answers.append(message)
                if not dump:
                    return answers, interrupted
        raise errors.DiscoveryError(
            f"netlink {name}: no complete answer from the kernel within {self.timeout_s:g} s"
        )

    # -- routes ------------------------------------------------------------------------------

    def route_get(
        self, dst: IPv4Address, oif: int | None = None, src: IPv4Address | None = None
    ) -> RouteInfo:
        """Ask the kernel which route it would use to send to ``dst`` (``ip route get``).

        ``oif`` forces an output interface (``ip route get DST oif DEV``), ``src`` a source
        address (``from SRC``). Raises :class:`~layerping.errors.NoRoute` when the kernel has
        none, :class:`~layerping.errors.NoSuchInterface` for an unknown ``oif`` and
        :class:`~layerping.errors.UsageError` for a ``src`` that is not an address of this host.
        """
        attrs = [nl.ipv4_attr(nl.RTA_DST, dst)]
        if src is not None:
            attrs.append(nl.ipv4_attr(nl.RTA_SRC, src))
        if oif is not None:
            attrs.append(nl.u32_attr(nl.RTA_OIF, oif))
        request = nl.RtMsg(
            family=socket.AF_INET, dst_len=32, src_len=32 if src is not None else 0, tos=0,
            table=nl.RT_TABLE_UNSPEC, protocol=0, scope=0, type=nl.RTN_UNSPEC,
            flags=nl.RTM_F_LOOKUP_TABLE, attrs=tuple(attrs),
        )  # fmt: skip
        try:
            (answer,) = self._request("route get", nl.RTM_GETROUTE, request.build(), dump=False)
        except NetlinkError as exc:
            raise _route_error(exc, dst, oif, src) from None
        except ValueError:  # no answer at all (unpacking an empty list)
            raise errors.DiscoveryError(f"netlink route get {dst}: empty answer") from None
        route = nl.RtMsg.parse(answer.payload)
        if route.get(nl.RTA_VIA) is not None:
            raise errors.NoRoute(
                f"the route to {dst} has an IPv6 next hop (RTA_VIA)",
                "layerping follows IPv4 next hops only; add an IPv4 route, or pick another with -I",
            )
        route_oif = route.get_u32(nl.RTA_OIF)
        if route_oif is None:
            # Only blackhole/unreachable-style results come without an output device.
            raise errors.NoRoute(
                f"no route to {dst} (route type {nl.RTN_NAMES.get(route.type, route.type)})",
                "add one or choose another interface with -I",
            )
        table = route.get_u32(nl.RTA_TABLE)
        return RouteInfo(
            destination=route.get_ipv4(nl.RTA_DST) or dst,
            oif=route_oif,
            prefsrc=route.get_ipv4(nl.RTA_PREFSRC),
            gateway=route.get_ipv4(nl.RTA_GATEWAY),
            route_type=route.type,
            table=route.table if table is None else table,
        )

    # -- links -------------------------------------------------------------------------------

    def link_get(self, index: int | None = None, name: str | None = None) -> LinkInfo:
        """One device by index or by name (``ip link show dev NAME``).

        Raises :class:`~layerping.errors.NoSuchInterface` if there is none.
        """
        if index is None and name is None:
            raise errors.UsageError("link_get needs an interface index or name")
        label = name if name is not None else f"index {index}"
        if name is not None and (not name or len(name.encode()) >= _IFNAMSIZ or "\0" in name):
            raise errors.NoSuchInterface(f"no interface named {name!r}", "see `ip link`")
        attrs = [nl.u32_attr(nl.IFLA_EXT_MASK, nl.RTEXT_FILTER_SKIP_STATS)]
        if name is not None:
            attrs.append(nl.str_attr(nl.IFLA_IFNAME, name))
        request = nl.IfInfoMsg(socket.AF_UNSPEC, 0, index or 0, 0, 0, tuple(attrs))
        try:
            (answer,) = self._request(f"link get {label}", nl.RTM_GETLINK, request.build(), dump=False)
        except NetlinkError as exc:
            if exc.errno in (errno.ENODEV, errno.ENOENT):
                raise errors.NoSuchInterface(f"no interface {label}", "see `ip link`") from None
            raise
        except ValueError:
            raise errors.DiscoveryError(f"netlink link get {label}: empty answer") from None
        link = _link_info(nl.IfInfoMsg.parse(answer.payload))
        if name is not None and link.name != name and index is not None:
            raise errors.NoSuchInterface(
                f"interface index {index} is {link.name}, not {name}", "see `ip link`"
            )
        return link

    def links(self) -> list[LinkInfo]:
        """Every device in this network namespace (``ip link show``)."""
        attrs = (nl.u32_attr(nl.IFLA_EXT_MASK, nl.RTEXT_FILTER_SKIP_STATS),)
        request = nl.IfInfoMsg(socket.AF_UNSPEC, 0, 0, 0, 0, attrs)
        answers = self._request("link dump", nl.RTM_GETLINK, request.build(), dump=True)
        return [
            _link_info(nl.IfInfoMsg.parse(message.payload))
            for message in answers
            if message.type == nl.RTM_NEWLINK
        ]

    # -- the whole routing table, for many targets -------------------------------------------

    def routes(self) -> list[nl.RtMsg]:
        """Every IPv4 route of every table (``ip route show table all``), as the kernel has them."""
        request = _all_of_family(socket.AF_INET)
        answers = self._request("route dump", nl.RTM_GETROUTE, request, dump=True)
        return [nl.RtMsg.parse(message.payload) for message in answers if message.type == nl.RTM_NEWROUTE]

    def rule_count(self) -> int:
        """How many IPv4 policy routing rules there are (``ip rule show``): 3 unless someone added
        some (local, main, default), and then the route to a destination is no longer only a
        longest-prefix match over those three tables."""
        answers = self._request("rule dump", nl.RTM_GETRULE, _all_of_family(socket.AF_INET), dump=True)
        return sum(1 for message in answers if message.type == nl.RTM_NEWRULE)

    # -- neighbours --------------------------------------------------------------------------

    def neigh_get(self, dst: IPv4Address, ifindex: int) -> NeighInfo | None:
        """The neighbour table entry for ``dst`` on ``ifindex`` (``ip neigh get``), or None.

        Uses RTM_GETNEIGH "get" (Linux >= 4.20) and falls back to a dump filtered by
        interface (NDA_IFINDEX) where the kernel answers EOPNOTSUPP.
        """
        if self._neigh_get_supported is not False:
            request = nl.NdMsg(socket.AF_INET, ifindex, 0, 0, 0, (nl.ipv4_attr(nl.NDA_DST, dst),))
            try:
                answers = self._request(f"neigh get {dst}", nl.RTM_GETNEIGH, request.build(), dump=False)
            except NetlinkError as exc:
                if exc.errno == errno.ENOENT:
                    self._neigh_get_supported = True
                    return None
                if exc.errno == errno.ENODEV:
                    raise errors.NoSuchInterface(f"no interface index {ifindex}", "see `ip link`") from None
                if exc.errno != errno.EOPNOTSUPP:
                    raise
                self._neigh_get_supported = False
            else:
                self._neigh_get_supported = True
                for message in answers:
                    entry = _neigh_info(nl.NdMsg.parse(message.payload))
                    if entry is not None:
                        return entry
                return None
        return self._neigh_dump_lookup(dst, ifindex)

    def _neigh_dump_lookup(self, dst: IPv4Address, ifindex: int) -> NeighInfo | None:
        for entry in self.neighbours(ifindex):
            if entry.destination == dst:
                return entry
        return None

    def neighbours(self, ifindex: int | None = None) -> list[NeighInfo]:
        """The IPv4 neighbour table, optionally of one interface (``ip neigh show [dev DEV]``)."""
        attrs = () if ifindex is None else (nl.u32_attr(nl.NDA_IFINDEX, ifindex),)
        request = nl.NdMsg(socket.AF_INET, 0, 0, 0, 0, attrs)
        answers = self._request("neigh dump", nl.RTM_GETNEIGH, request.build(), dump=True)
        entries = []
        for message in answers:
            if message.type != nl.RTM_NEWNEIGH:
                continue
            entry = _neigh_info(nl.NdMsg.parse(message.payload))
            # The kernel filters by NDA_IFINDEX; check anyway, old kernels ignore the attribute.
            if entry is not None and (ifindex is None or entry.ifindex == ifindex):
                entries.append(entry)
        return entries

    # -- addresses ---------------------------------------------------------------------------

    def addresses(self, ifindex: int | None = None) -> list[AddrInfo]:
        """IPv4 addresses, optionally of one interface (``ip -4 addr show [dev DEV]``)."""
        request = nl.IfAddrMsg(socket.AF_INET, 0, 0, 0, 0)
        answers = self._request("addr dump", nl.RTM_GETADDR, request.build(), dump=True)
        found = []
        for message in answers:
            if message.type != nl.RTM_NEWADDR:
                continue
            msg = nl.IfAddrMsg.parse(message.payload)
            if msg.family != socket.AF_INET or (ifindex is not None and msg.index != ifindex):
                continue
            local = msg.get_ipv4(nl.IFA_LOCAL)
            address = msg.get_ipv4(nl.IFA_ADDRESS)
            own = local if local is not None else address
            if own is None:
                continue
            peer = address if local is not None and address is not None and address != local else None
            found.append(AddrInfo(msg.index, own, msg.prefixlen, msg.get_ipv4(nl.IFA_BROADCAST), peer))
        return found


# --- decoding helpers ----------------------------------------------------------------------------


def _all_of_family(family: int) -> bytes:
    """A dump request's body: a ``struct rtmsg`` (or the ``struct fib_rule_hdr`` of the same
    layout) that asks for everything of ``family``."""
    return nl.RtMsg(family=family, dst_len=0, src_len=0, tos=0, table=nl.RT_TABLE_UNSPEC, protocol=0,
                    scope=0, type=nl.RTN_UNSPEC, flags=0).build()  # fmt: skip


def _link_info(msg: nl.IfInfoMsg) -> LinkInfo:
    mtu = msg.get_u32(nl.IFLA_MTU)
    operstate = msg.get_u8(nl.IFLA_OPERSTATE)
    return LinkInfo(
        index=msg.index,
        name=msg.get_str(nl.IFLA_IFNAME) or "",
        mac=msg.get(nl.IFLA_ADDRESS),
        broadcast=msg.get(nl.IFLA_BROADCAST),
        mtu=0 if mtu is None else mtu,
        link_type=msg.type,
        flags=msg.flags,
        is_up=bool(msg.flags & nl.IFF_UP),
        operstate=nl.IF_OPER_UNKNOWN if operstate is None else operstate,
    )


def _neigh_info(msg: nl.NdMsg) -> NeighInfo | None:
    if msg.family != socket.AF_INET:
        return None
    destination = msg.get_ipv4(nl.NDA_DST)
    if destination is None:
        return None
    return NeighInfo(destination, msg.ifindex, msg.get(nl.NDA_LLADDR), msg.state)


def _route_error(
    exc: NetlinkError, dst: IPv4Address, oif: int | None, src: IPv4Address | None
) -> errors.LayerpingError:
    """Map the errno of a failed RTM_GETROUTE to the error a user can act on."""
    code = exc.errno
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return errors.NoRoute(f"no route to {dst}", "add one or choose another interface with -I")
    if code in (errno.EACCES, errno.EPERM):
        return errors.NoRoute(f"the route to {dst} is prohibited", "check `ip route` and `ip rule`")
    if code == errno.EAGAIN:  # RTN_THROW: the lookup fell out of every table
        return errors.NoRoute(f"no route to {dst}", "add one or choose another interface with -I")
    if code == errno.ENODEV and oif is not None:
        return errors.NoSuchInterface(f"no interface index {oif}", "see `ip link`")
    if code == errno.EINVAL and src is not None:
        return errors.UsageError(
            f"source {src} is not an address of this host", "pick one from `ip -4 addr`"
        )
    return exc


# --- module-level conveniences: one socket per call ------------------------------------------------


def route_get(dst: IPv4Address, oif: int | None = None, src: IPv4Address | None = None) -> RouteInfo:
    """:meth:`Rtnetlink.route_get` on a socket of its own."""
    with Rtnetlink() as rtnl:
        return rtnl.route_get(dst, oif, src)


def link_get(index: int | None = None, name: str | None = None) -> LinkInfo:
    """:meth:`Rtnetlink.link_get` on a socket of its own."""
    with Rtnetlink() as rtnl:
        return rtnl.link_get(index, name)


def links() -> list[LinkInfo]:
    """:meth:`Rtnetlink.links` on a socket of its own."""
    with Rtnetlink() as rtnl:
        return rtnl.links()


def neigh_get(dst: IPv4Address, ifindex: int) -> NeighInfo | None:
    """:meth:`Rtnetlink.neigh_get` on a socket of its own."""
    with Rtnetlink() as rtnl:
        return rtnl.neigh_get(dst, ifindex)


def addresses(ifindex: int | None = None) -> list[AddrInfo]:
    """:meth:`Rtnetlink.addresses` on a socket of its own."""
    with Rtnetlink() as rtnl:
        return rtnl.addresses(ifindex)
