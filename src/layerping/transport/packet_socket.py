"""The packet socket of layers ip and ethernet (packet(7)): opening, filtering, binding, closing.

Packet sockets cost an RCU grace period whenever one is closed (``synchronize_net()`` in
``packet_release``), so a run opens its socket once, before ARP, and closes everything it
holds at the end, all at once (:func:`close_concurrently`).
"""

from __future__ import annotations

import collections
import errno
import os
import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final

from layerping import _linux
from layerping.errors import PACKET_PERMISSION_HINT, PermissionDenied, TransportError, UsageError
from layerping.transport import bpf
from layerping.transport.base import Inbound, SendFailed

if TYPE_CHECKING:
    from layerping.discovery.plan import PathPlan
    from layerping.inet.family import Family
    from layerping.transport.framing import Framing

_MAX_SYNTHESIZED: Final = 4096  # bound on queued locally generated errors

PERMISSION_HINT: Final = PACKET_PERMISSION_HINT


def open_packet_socket(kind: int, layer: str) -> socket.socket:
    """An unbound ``AF_PACKET`` socket of ``kind`` (protocol 0: it receives nothing yet)."""
    try:
        return socket.socket(socket.AF_PACKET, kind | socket.SOCK_CLOEXEC, 0)
    except PermissionError:
        raise PermissionDenied(
            layer, f"no permission for a packet socket (--layer {layer})", PERMISSION_HINT
        ) from None


def close_concurrently(closers: Iterable[Callable[[], None]]) -> None:
    """Call every ``close`` at once, each on a thread of its own but the first.

    Closing a packet socket waits for an RCU grace period (``synchronize_net()`` in
    ``packet_release``, net/packet/af_packet.c): 8 to 24 ms per socket measured on this kind of
    machine, while a raw or UDP socket closes in microseconds. Closed one after another, a run
    with a resolver and a transport would wait twice; closed together the waits overlap
    (``socket.close`` releases the GIL).
    """
    pending = list(closers)
    if len(pending) > 1:
        threads = [threading.Thread(target=close, daemon=True) for close in pending[1:]]
        for thread in threads:
            thread.start()
        pending[0]()
        for thread in threads:
            thread.join()
    elif pending:
        pending[0]()


def open_link_socket(
    plan: PathPlan, identifier: int, framing: Framing, receive_buffer: int | None, family: Family
) -> socket.socket:
    """A packet socket of ``framing`` that queues only our replies and the ICMP errors quoting
    our probes (the ``family``'s socket filter), bound to the plan's interface.

    Filter first, then bind: a packet socket with protocol 0 receives nothing, so no foreign
    packet can be queued before the BPF program is in place (packet(7)).
    """
    layer = framing.layer.value
    sock = open_packet_socket(framing.socket_kind, layer)
    try:
        link_header_len = framing.link_header_len
        sock.setsockopt(socket.SOL_SOCKET, _linux.SO_TIMESTAMPNS, 1)
        try:
            # Linux 4.20+: never queue PACKET_OUTGOING copies (the filter rejects them too).
            sock.setsockopt(_linux.SOL_PACKET, _linux.PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            pass
        if receive_buffer:
            try:
                sock.setsockopt(socket.SOL_SOCKET, _linux.SO_RCVBUFFORCE, receive_buffer)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        program = family.socket_filter(
            identifier,
            link_header_len=link_header_len,
            check_ethertype=link_header_len == 14,
            reject_outgoing=True,
        )
        bpf.attach_filter(sock, program)
        bind_packet_socket(sock, plan.ifname, layer, family.ethertype)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def bind_packet_socket(
    sock: socket.socket, ifname: str, layer: str, ethertype: int = _linux.ETH_P_IP
) -> None:
    """Bind to ``ifname`` for ``ethertype``; a vanished interface becomes a one-line error."""
    try:
        sock.bind((ifname, ethertype))
    except OSError as exc:
        if exc.errno in (errno.ENODEV, errno.ENXIO):
            raise UsageError(
                f"interface {ifname!r} does not exist", "see `ip link` for the interfaces"
            ) from None
        if exc.errno == errno.ENETDOWN:
            raise UsageError(
                f"interface {ifname} is down", f"bring it up with `ip link set {ifname} up`"
            ) from None
        raise TransportError(
            f"cannot bind a packet socket to {ifname} (--layer {layer}): {exc.strerror}"
        ) from None


class LocalErrors:
    """Locally generated ICMP errors waiting for :meth:`recv`, with an eventfd that says so."""

    def __init__(self) -> None:
        self.queue: collections.deque[Inbound] = collections.deque(maxlen=_MAX_SYNTHESIZED)
        self.eventfd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    def push(self, inbound: Inbound) -> None:
        self.queue.append(inbound)
        os.eventfd_write(self.eventfd, 1)

    def pop(self) -> Inbound | None:
        if self.queue:
            return self.queue.popleft()
        try:
            os.eventfd_read(self.eventfd)  # queue empty: stop being readable
        except BlockingIOError:
            pass
        return None

    def close(self) -> None:
        os.close(self.eventfd)


def send_failed(exc: OSError, ifname: str, mtu: int) -> SendFailed:
    """An iputils-style :class:`SendFailed` for a refused ``sendto`` on a packet socket."""
    err = exc.errno or 0
    if err == errno.EMSGSIZE:
        return SendFailed(err, f"local error: message too long, mtu={mtu}")
    if err == errno.ENETDOWN:
        return SendFailed(err, f"sendmsg: Network is down ({ifname})")
    return SendFailed(err, f"sendmsg: {os.strerror(err)}")
