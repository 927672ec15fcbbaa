"""Classic BPF programs (socket filters) so only our own packets reach Python.

Every raw socket sees a copy of every ICMP message the host receives; with 100 layerping
processes running, each would otherwise wake up for the other 99's replies (iputils and fping
both had bugs here). The kernel runs these programs before queueing, see
Documentation/networking/filter.rst and bpf(4)/``SO_ATTACH_FILTER`` in socket(7).
"""

from __future__ import annotations

import array
import socket
import struct

from layerping._linux import SO_ATTACH_FILTER, SO_LOCK_FILTER

# Instruction classes and modes (include/uapi/linux/filter.h, bpf_common.h).
BPF_LD, BPF_LDX, BPF_ALU, BPF_JMP, BPF_RET, BPF_MISC = 0x00, 0x01, 0x04, 0x05, 0x06, 0x07
BPF_W, BPF_H, BPF_B = 0x00, 0x08, 0x10
BPF_IMM, BPF_ABS, BPF_IND, BPF_MSH = 0x00, 0x20, 0x40, 0xA0
BPF_ADD, BPF_AND, BPF_LSH = 0x00, 0x50, 0x60
BPF_JA, BPF_JEQ, BPF_JGT, BPF_JSET = 0x00, 0x10, 0x20, 0x40
BPF_K, BPF_X, BPF_A = 0x00, 0x08, 0x10
BPF_TAX = 0x00
# Ancillary data: loads from SKF_AD_OFF + n read skb fields instead of packet bytes.
SKF_AD_OFF = -0x1000
SKF_AD_PROTOCOL = 0
SKF_AD_PKTTYPE = 4

ACCEPT = 0xFFFF_FFFF
REJECT = 0

Instruction = tuple[int, int, int, int]  # (code, jt, jf, k)

ICMP_ERROR_TYPES = (3, 4, 5, 11, 12)  # unreachable, source quench, redirect, time exceeded, param problem


# struct sock_filter {u16 code; u8 jt; u8 jf; u32 k;} and struct sock_fprog {u16 len; pointer}
# (include/uapi/linux/filter.h), in the machine's own layout.
_SOCK_FILTER = struct.Struct("=HBBI")
_SOCK_FPROG = struct.Struct("@HP")


def attach_filter(sock: socket.socket, program: list[Instruction], lock: bool = False) -> None:
    """Attach ``program`` to ``sock`` (SO_ATTACH_FILTER); optionally lock it (SO_LOCK_FILTER).

    The instructions go into an ``array`` whose address ``buffer_info()`` gives, so no ctypes
    is needed (it costs milliseconds to import); setsockopt copies the program during the call.
    """
    packed = b"".join(_SOCK_FILTER.pack(c, jt, jf, k & 0xFFFF_FFFF) for c, jt, jf, k in program)
    insns = array.array("B", packed)
    address, _ = insns.buffer_info()
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, _SOCK_FPROG.pack(len(program), address))
    if lock:
        sock.setsockopt(socket.SOL_SOCKET, SO_LOCK_FILTER, 1)


class BpfAssembler:
    """Tiny assembler with symbolic labels, so jump offsets are never counted by hand."""

    def __init__(self) -> None:
        self._insns: list[tuple[int, str | int, str | int, int]] = []
        self._labels: dict[str, int] = {}

    def stmt(self, code: int, k: int = 0) -> None:
        self._insns.append((code, 0, 0, k))

    def jump(self, code: int, k: int, jt: str | int, jf: str | int) -> None:
        self._insns.append((code, jt, jf, k))

    def label(self, name: str) -> None:
        self._labels[name] = len(self._insns)

    def assemble(self) -> list[Instruction]:
        out: list[Instruction] = []
        for pc, (code, jt, jf, k) in enumerate(self._insns):

            def rel(target: str | int, pc: int = pc) -> int:
                if isinstance(target, int):
                    return target
                offset = self._labels[target] - pc - 1
                if not 0 <= offset <= 255:
                    raise ValueError(f"BPF jump to {target} out of range")
                return offset

            out.append((code, rel(jt), rel(jf), k))
        return out


def icmp_filter(
    identifier: int | None,
    *,
    link_header_len: int = 0,
    check_ethertype: bool = False,
    reject_outgoing: bool = False,
    accept_arp: bool = False,
) -> list[Instruction]:
    """A program accepting only echo replies with ``identifier`` and ICMP errors quoting one.

    ``link_header_len`` is where the IPv4 header starts in what the socket sees: 0 for an
    ``AF_INET``/``SOCK_RAW`` socket or an ``AF_PACKET``/``SOCK_DGRAM`` socket, 14 for
    ``AF_PACKET``/``SOCK_RAW`` on Ethernet or loopback. ``identifier=None`` accepts every echo
    reply (used where the kernel owns the identifier). ``accept_arp`` also lets ARP through
    (for a link-layer socket that resolves neighbours too), ``reject_outgoing`` drops the
    copies a packet socket sees of frames this host sends (sll_pkttype PACKET_OUTGOING).
    """
    a = BpfAssembler()
    ip = link_header_len
    if reject_outgoing:
        a.stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE)
        a.jump(BPF_JMP | BPF_JEQ | BPF_K, 4, "reject", 0)  # PACKET_OUTGOING
    if check_ethertype:
        a.stmt(BPF_LD | BPF_H | BPF_ABS, 12)
        if accept_arp:
            a.jump(BPF_JMP | BPF_JEQ | BPF_K, 0x0806, "accept", 0)
        a.jump(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0, "reject")
    # IPv4, protocol ICMP (RFC 791: protocol at offset 9), first fragment only (offset 6, 13 bits).
    a.stmt(BPF_LD | BPF_B | BPF_ABS, ip + 9)
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, "reject")
    a.stmt(BPF_LD | BPF_H | BPF_ABS, ip + 6)
    a.jump(BPF_JMP | BPF_JSET | BPF_K, 0x1FFF, "reject", 0)
    # X = IHL * 4: the ICMP message starts at ip + X.
    a.stmt(BPF_LDX | BPF_B | BPF_MSH, ip)
    a.stmt(BPF_LD | BPF_B | BPF_IND, ip)  # ICMP type
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 0, "echo_reply", 0)
    for error_type in ICMP_ERROR_TYPES:
        a.jump(BPF_JMP | BPF_JEQ | BPF_K, error_type, "error", 0)
    a.stmt(BPF_RET | BPF_K, REJECT)

    a.label("echo_reply")
    if identifier is None:
        a.stmt(BPF_RET | BPF_K, ACCEPT)
    else:
        a.stmt(BPF_LD | BPF_H | BPF_IND, ip + 4)  # echo identifier (RFC 792)
        a.jump(BPF_JMP | BPF_JEQ | BPF_K, identifier, "accept", "reject")

    # An error quotes the offending IPv4 header plus at least 8 bytes (RFC 792): check that
    # the quoted datagram is ICMP and that its echo identifier is ours.
    a.label("error")
    if identifier is None:
        a.stmt(BPF_RET | BPF_K, ACCEPT)
    else:
        a.stmt(BPF_LD | BPF_B | BPF_IND, ip + 8 + 9)  # quoted protocol
        a.jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, "reject")
        a.stmt(BPF_LD | BPF_B | BPF_IND, ip + 8)  # quoted version/IHL
        a.stmt(BPF_ALU | BPF_AND | BPF_K, 0x0F)
        a.stmt(BPF_ALU | BPF_LSH | BPF_K, 2)
        a.stmt(BPF_ALU | BPF_ADD | BPF_X, 0)  # A = quoted IHL*4 + outer IHL*4
        a.stmt(BPF_MISC | BPF_TAX, 0)
        a.stmt(BPF_LD | BPF_H | BPF_IND, ip + 8 + 4)  # quoted echo identifier
        a.jump(BPF_JMP | BPF_JEQ | BPF_K, identifier, "accept", "reject")

    a.label("accept")
    a.stmt(BPF_RET | BPF_K, ACCEPT)
    a.label("reject")
    a.stmt(BPF_RET | BPF_K, REJECT)
    return a.assemble()


def arp_filter(link_header_len: int = 14) -> list[Instruction]:
    """Accept only ARP frames (ethertype 0x0806) on a link-layer packet socket."""
    a = BpfAssembler()
    a.stmt(BPF_LD | BPF_H | BPF_ABS, link_header_len - 2)
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 0x0806, "accept", "reject")
    a.label("accept")
    a.stmt(BPF_RET | BPF_K, ACCEPT)
    a.label("reject")
    a.stmt(BPF_RET | BPF_K, REJECT)
    return a.assemble()
