"""Our own ARP resolution (RFC 826), bounded in attempts and time.

:class:`ArpResolver` is the non-blocking building block for an event loop: one
``AF_PACKET``/``SOCK_RAW`` socket bound to one interface, any number of target addresses
outstanding at once. :func:`resolve_many` and :func:`resolve` drive it with a selector for
callers that just want the answer.

A classic BPF filter runs in the kernel so that only ARP requests and replies addressed to
our protocol address reach Python. In
Python we then accept a packet only if its sender is one of the addresses we asked for:
RFC 826 lets a host learn a sender's address from a request as well as from a reply.
The kernel's neighbour table is never written.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import time
from collections.abc import Iterable
from ipaddress import IPv4Address
from types import TracebackType
from typing import Final

from layerping import errors
from layerping._linux import ARPHRD_ETHER, ETH_P_ARP
from layerping.discovery.plan import PathPlan
from layerping.transport.bpf import (
    ACCEPT,
    BPF_ABS,
    BPF_H,
    BPF_JEQ,
    BPF_JMP,
    BPF_K,
    BPF_LD,
    BPF_RET,
    BPF_W,
    REJECT,
    Instruction,
    attach_filter,
)
from layerping.wire.arp import HARDWARE_ETHERNET, ArpOperation, ArpPacket
from layerping.wire.ethernet import BROADCAST_MAC, MAC_LEN, EthernetFrame, EtherType

_LAYER: Final = "ethernet"  # the layer whose privilege ARP needs (a link-layer packet socket)
_RECV_BYTES: Final = 2048  # an ARP frame is 42 bytes (60 with padding)
_MAX_FRAMES_PER_READ: Final = 4096  # handle_readable drains at most this many frames per call
MAX_LOGGED_FRAMES = 256

# Offsets in an Ethernet frame carrying ARP (RFC 826 over a 14-byte Ethernet II header).
_OFF_ETHERTYPE: Final = 12
_OFF_HTYPE: Final = 14
_OFF_PTYPE: Final = 16
_OFF_HLEN_PLEN: Final = 18
_OFF_OPER: Final = 20
_OFF_TPA: Final = 38


def arp_for_us_filter(our_ip: IPv4Address) -> list[Instruction]:
    """A BPF program accepting only Ethernet/IPv4 ARP requests and replies for ``our_ip``.

    It drops anything but ARP, ARP for other hardware or protocol types, other operations,
    and packets whose target protocol address (ar$tpa) is not ``our_ip``. Frames this host
    sends never reach a packet socket bound to one protocol: only ETH_P_ALL taps get those
    copies (dev_queue_xmit_nit), so there is no PACKET_OUTGOING test here.
    """
    # Jump offsets count from the next instruction; ACCEPT is at 13 and REJECT at 14.
    return [
        (BPF_LD | BPF_H | BPF_ABS, 0, 0, _OFF_ETHERTYPE),  # 0
        (BPF_JMP | BPF_JEQ | BPF_K, 0, 12, ETH_P_ARP),  # 1
        (BPF_LD | BPF_H | BPF_ABS, 0, 0, _OFF_HTYPE),  # 2: ar$hrd
        (BPF_JMP | BPF_JEQ | BPF_K, 0, 10, HARDWARE_ETHERNET),  # 3
        (BPF_LD | BPF_H | BPF_ABS, 0, 0, _OFF_PTYPE),  # 4: ar$pro
        (BPF_JMP | BPF_JEQ | BPF_K, 0, 8, EtherType.IPV4),  # 5
        (BPF_LD | BPF_H | BPF_ABS, 0, 0, _OFF_HLEN_PLEN),  # 6: ar$hln, ar$pln
        (BPF_JMP | BPF_JEQ | BPF_K, 0, 6, 0x0604),  # 7
        (BPF_LD | BPF_H | BPF_ABS, 0, 0, _OFF_OPER),  # 8: ar$op
        (BPF_JMP | BPF_JEQ | BPF_K, 1, 0, ArpOperation.REQUEST),  # 9: -> 11
        (BPF_JMP | BPF_JEQ | BPF_K, 0, 3, ArpOperation.REPLY),  # 10: -> 11 or reject
        (BPF_LD | BPF_W | BPF_ABS, 0, 0, _OFF_TPA),  # 11: ar$tpa
        (BPF_JMP | BPF_JEQ | BPF_K, 0, 1, int(our_ip)),  # 12
        (BPF_RET | BPF_K, 0, 0, ACCEPT),  # 13
        (BPF_RET | BPF_K, 0, 0, REJECT),  # 14
    ]


def _is_unicast_mac(mac: bytes) -> bool:
    """A usable neighbour address: not a group address (I/G bit) and not all zeros."""
    return len(mac) == MAC_LEN and not mac[0] & 0x01 and mac != bytes(MAC_LEN)


class ArpResolver:
    """Resolve IPv4 neighbours on one Ethernet interface, without blocking.

    ``fileno()`` is readable when answers may have arrived: call :meth:`handle_readable`.
    :meth:`send_request` asks (again) for one target; many targets can be outstanding at
    once. ``pending`` are targets asked for and not yet answered; ``resolved`` maps each
    answered target to its MAC. Retries and time limits belong to the caller's loop (see
    :func:`resolve_many`).
    """

    def __init__(self, ifname: str, src_mac: bytes, source: IPv4Address) -> None:
        if len(src_mac) != MAC_LEN:
            raise errors.UsageError(f"ARP needs a 6-byte source MAC, got {len(src_mac)} bytes")
        self.ifname = ifname
        self.src_mac = src_mac
        self.source = source
        self.resolved: dict[IPv4Address, bytes] = {}
        self._pending: set[IPv4Address] = set()
        self.requests_sent = 0
        #: Every ARP frame sent, and every answer accepted, as (CLOCK_REALTIME ns, outgoing, frame),
        #: so ``-v`` and ``--pcap`` can show our own ARP too. Bounded: a resolver that keeps asking
        #: for an absent host stops logging after MAX_LOGGED_FRAMES.
        self.frames: list[tuple[int, bool, bytes]] = []
        self.frames_received = 0  # frames that passed the kernel filter
        try:
            # Protocol 0 receives nothing until bind() names ETH_P_ARP, so no frame from another
            # interface or without our filter can be queued in between (packet(7)).
            sock = socket.socket(
                socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, 0
            )
        except PermissionError:
            raise errors.PermissionDenied(
                _LAYER,
                "ARP resolution needs a packet socket (AF_PACKET): permission denied",
                errors.PACKET_PERMISSION_HINT,
            ) from None
        try:
            attach_filter(sock, arp_for_us_filter(source))
            sock.bind((ifname, ETH_P_ARP))
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.ENODEV, errno.ENXIO):
                raise errors.NoSuchInterface(f"no interface {ifname}", "see `ip link`") from None
            raise
        self._sock = sock

    @classmethod
    def for_plan(cls, plan: PathPlan) -> ArpResolver:
        """A resolver on the plan's interface, asking from the plan's source MAC and address."""
        if plan.link_type != ARPHRD_ETHER or plan.src_mac is None:
            raise errors.UsageError(
                f"ARP needs an Ethernet interface; {plan.ifname} is not one",
                "leave ARP out, or choose an Ethernet interface with -I",
            )
        return cls(plan.ifname, plan.src_mac, plan.source)

    @property
    def pending(self) -> frozenset[IPv4Address]:
        """Targets asked for that have not answered yet."""
        return frozenset(self._pending)

    def fileno(self) -> int:
        return self._sock.fileno()

    def send_request(self, target_ip: IPv4Address) -> None:
        """Broadcast one ARP request for ``target_ip`` and mark it pending (RFC 826)."""
        request = ArpPacket.request(self.src_mac, self.source, target_ip)
        frame = EthernetFrame(BROADCAST_MAC, self.src_mac, EtherType.ARP, request.build()).build()
        try:
            self._sock.send(frame)
        except OSError as exc:
            if exc.errno == errno.ENETDOWN:
                raise errors.NoSuchInterface(
                    f"interface {self.ifname} is down", f"bring it up with `ip link set {self.ifname} up`"
                ) from None
            raise errors.NeighbourUnresolved(
                f"could not send an ARP request on {self.ifname}: {os.strerror(exc.errno or 0)}"
            ) from None
        self.requests_sent += 1
        self._log(True, frame)
        if target_ip not in self.resolved:
            self._pending.add(target_ip)

    def _log(self, outgoing: bool, frame: bytes) -> None:
        if len(self.frames) < MAX_LOGGED_FRAMES:
            self.frames.append((time.time_ns(), outgoing, frame))

    def handle_readable(self) -> dict[IPv4Address, bytes]:
        """Read what has arrived (without blocking); return the targets it resolved just now.

        Every answer is also kept in :attr:`resolved`.
        """
        learnt: dict[IPv4Address, bytes] = {}
        for _ in range(_MAX_FRAMES_PER_READ):
            try:
                data = self._sock.recv(_RECV_BYTES)
            except (BlockingIOError, InterruptedError):
                break
            self.frames_received += 1
            answer = self._accept(data)
            if answer is None:
                continue
            self._log(False, data)
            target, mac = answer
            if target in self._pending:
                self._pending.discard(target)
                self.resolved[target] = mac
                learnt[target] = mac
        return learnt

    def _accept(self, data: bytes) -> tuple[IPv4Address, bytes] | None:
        """The (sender IP, sender MAC) of a request or reply to us from a pending target."""
        try:
            frame = EthernetFrame.parse(data)
            if frame.ethertype != EtherType.ARP:
                return None
            packet = ArpPacket.parse(frame.payload)
        except errors.WireError:
            return None
        if packet.hardware_type != HARDWARE_ETHERNET or packet.protocol_type != EtherType.IPV4:
            return None
        if packet.operation not in (ArpOperation.REQUEST, ArpOperation.REPLY):
            return None
        if packet.target_ip != self.source or packet.sender_ip not in self._pending:
            return None
        if not _is_unicast_mac(packet.sender_mac):
            return None
        return packet.sender_ip, packet.sender_mac

    def forget(self) -> None:
        """Drop the answers and pending targets: a caller that keeps one resolver for a long
        run records the answers itself, so memory stays bounded."""
        self.resolved.clear()
        self._pending.clear()

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> ArpResolver:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _check_bounds(attempts: int, interval_s: float) -> None:
    if attempts < 1:
        raise errors.UsageError(f"ARP attempts must be at least 1, got {attempts}")
    if not 0 < interval_s <= 60:
        raise errors.UsageError(f"ARP interval must be in (0, 60] seconds, got {interval_s}")


def drive(resolver: ArpResolver, targets: Iterable[IPv4Address], *, attempts: int = 3,
          interval_s: float = 1.0) -> dict[IPv4Address, bytes]:  # fmt: skip
    """Ask for every target up to ``attempts`` times, ``interval_s`` apart, on ``resolver``.

    Returns the targets that answered. Takes at most ``attempts * interval_s`` seconds and
    stops as soon as every target has answered.
    """
    _check_bounds(attempts, interval_s)
    wanted = {target for target in targets if target not in resolver.resolved}
    with selectors.DefaultSelector() as selector:
        selector.register(resolver.fileno(), selectors.EVENT_READ)
        for _ in range(attempts):
            unanswered = sorted(wanted - resolver.resolved.keys())
            if not unanswered:
                break
            for target in unanswered:
                resolver.send_request(target)
            deadline = time.monotonic() + interval_s
            # Each wake-up either reads frames or reaches the deadline; the cap is a backstop.
            for _ in range(100_000):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or wanted <= resolver.resolved.keys():
                    break
                if selector.select(remaining):
                    resolver.handle_readable()
    return {target: resolver.resolved[target] for target in wanted if target in resolver.resolved}


def resolve_many(
    targets: Iterable[IPv4Address],
    *,
    ifname: str,
    src_mac: bytes,
    source: IPv4Address,
    attempts: int = 3,
    interval_s: float = 1.0,
) -> dict[IPv4Address, bytes]:
    """Resolve many neighbours on ``ifname`` in parallel; return those that answered."""
    _check_bounds(attempts, interval_s)
    with ArpResolver(ifname, src_mac, source) as resolver:
        return drive(resolver, targets, attempts=attempts, interval_s=interval_s)


def resolve(plan: PathPlan, *, attempts: int = 3, interval_s: float = 1.0) -> bytes | None:
    """Resolve the plan's next hop with our own ARP requests; None when nobody answered."""
    _check_bounds(attempts, interval_s)
    with ArpResolver.for_plan(plan) as resolver:
        return drive(resolver, [plan.next_hop], attempts=attempts, interval_s=interval_s).get(plan.next_hop)
