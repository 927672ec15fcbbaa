"""IPv4 as an address family (RFC 791, RFC 792): the :data:`IPV4` value.

Here is the one IPv4 header writer of layers ip and ethernet (:class:`Ipv4HeaderWriter`, for one
probe and, as columns, for a batch), the one reader of received IPv4 datagrams
(:class:`Ipv4Unframer` for one message, :func:`unframe_batch` for a ``recvmmsg`` batch), how an
ICMPv4 error quotes a probe (:func:`parse_error`), and the locally generated Destination Host
Unreachable. The wire formats are those of :mod:`layerping.wire.ipv4` and
:mod:`layerping.wire.icmpv4`.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Sequence
from ipaddress import IPv4Address
from typing import Final

from layerping.errors import WireError
from layerping.inet.family import Buffer, Column, Family, IcmpRules, QuotedProbe, Received
from layerping.inet.v4_words import fping_words, ping_words
from layerping.transport import bpf
from layerping.transport.base import Address, Inbound, SendFailed, SendOptions
from layerping.wire.checksum import ones_complement_sum
from layerping.wire.icmpv4 import (
    DestinationUnreachable,
    IcmpType,
    ParameterProblem,
    Redirect,
    SourceQuench,
    TimeExceeded,
    UnreachableCode,
    parse_icmpv4,
)
from layerping.wire.ipv4 import FLAG_DF, IPPROTO_ICMP, Ipv4Header, Ipv4Packet

#: version/IHL, TOS, total length, identification, flags/fragment offset, TTL, protocol,
#: header checksum, source, destination (RFC 791 §3.1). The probe header has no options.
_IP_HEADER: Final = struct.Struct("!BBHHHBBHII")
IP_HEADER_LEN: Final = _IP_HEADER.size
#: What a received header is read for: version/IHL, Total Length, flags/offset, TTL, protocol,
#: source, destination (TOS, Identification and the checksum are skipped).
_RECEIVED_HEADER: Final = struct.Struct("!BxHxxHBBxx4s4s")
#: The same for a batch: source as an int (the many-target engine keeps addresses as ints).
_RECEIVED_ROW: Final = "!BxHxxHBBxxI"
_RECEIVED_ROW_LEN: Final = struct.calcsize(_RECEIVED_ROW)
#: More Fragments and Fragment Offset in the flags/offset word (RFC 791 §3.1): any set = fragment.
_FRAGMENT_BITS: Final = 0x2000 | 0x1FFF


# --- sending -------------------------------------------------------------------------------------


def pmtu_sets_df(pmtu: str | None) -> bool:
    """Whether our probes carry Don't Fragment, as the kernel decides for a raw socket.

    ``-M do``/``probe``/``want`` set DF (ip(7) ``IP_MTU_DISCOVER``); ``dont`` clears it.
    Without ``-M`` the kernel's default for raw sockets is ``IP_PMTUDISC_WANT`` (DF set)
    unless ``net.ipv4.ip_no_pmtu_disc`` is non-zero (ip-sysctl.rst), and so is ours.
    """
    if pmtu is not None:
        return pmtu != "dont"
    try:
        with open("/proc/sys/net/ipv4/ip_no_pmtu_disc") as f:
            return int(f.read().strip() or "0") == 0
    except (OSError, ValueError):
        return True


def forbids_fragmentation(pmtu: str | None) -> bool:
    """``-M do``/``probe``: the kernel would refuse an oversized probe with EMSGSIZE (ip(7)).

    With ``want``, ``dont`` or no ``-M`` the kernel would fragment it; layerping refuses instead.
    """
    return pmtu in ("do", "probe")


def too_long_text(mtu: int, strict_df: bool) -> str:
    """The one-line reason for a probe larger than the MTU (iputils' words under ``-M do``)."""
    if strict_df:
        return f"local error: message too long, mtu={mtu}"
    return f"local error: message too long, mtu={mtu} (layerping does not fragment)"


class Ipv4HeaderWriter:
    """Writes the IPv4 header of every probe (RFC 791 §3.1), as the kernel does for raw sockets.

    The one writer of layers ip and ethernet: :meth:`packet` for one probe, and
    :meth:`batch_template` plus :meth:`columns` for a batch (``transport/batch.py``), which
    write the same bytes for the same probe (tests/unit/test_one_path.py compares them).

    Only Identification, Total Length and the destination change from probe to probe, so the
    header checksum is a constant sum plus those words, folded and complemented (RFC 1071 §1,
    RFC 1624). Identification counts up from a random start, a different value per datagram as
    RFC 791 asks and RFC 6864 §4.2 allows for atomic datagrams; a batch takes its run of them
    from the same counter.
    """

    header_len: int = IP_HEADER_LEN

    def __init__(
        self,
        source: IPv4Address,
        options: SendOptions,
        mtu: int,
        *,
        dont_fragment: bool | None = None,
        first_identification: int | None = None,
    ) -> None:
        self.source = source
        self.ttl = options.ttl
        self.tos = options.tos
        self.mtu = mtu
        self.dont_fragment = pmtu_sets_df(options.pmtu) if dont_fragment is None else dont_fragment
        self.flags = FLAG_DF if self.dont_fragment else 0
        if first_identification is None:
            first_identification = int.from_bytes(os.urandom(2), "big")
        self._next_identification = first_identification & 0xFFFF
        self._too_long = too_long_text(mtu, forbids_fragmentation(options.pmtu))
        self._source_int = int(source)
        self._templates: dict[Address, tuple[int, bytes]] = {}
        # The bytes no probe changes: version 4 with IHL 5 words (no options) and TOS; flags with
        # a zero fragment offset, TTL and protocol (RFC 791 §3.1).
        self._version_tos = bytes((0x45, self.tos))
        self._flags_ttl_protocol = struct.pack("!HBB", self.flags << 13, self.ttl, IPPROTO_ICMP)
        # The sum of everything constant but the destination (identification, length, checksum 0).
        self._base_sum = ones_complement_sum(self._header(0))
        # The last destination and its template: ``is`` beats hashing an address per probe.
        self._last: tuple[Address | None, int, bytes] = (None, 0, b"")

    def template(self, destination: IPv4Address) -> Ipv4Header:
        """The header of a probe to ``destination`` with Identification and lengths left 0."""
        return Ipv4Header(
            tos=self.tos,
            identification=0,
            flags=self.flags,
            fragment_offset=0,
            ttl=self.ttl,
            protocol=IPPROTO_ICMP,
            source=self.source,
            destination=destination,
            total_length=0,
            checksum=0,
        )

    def _constant(self, destination: Address) -> tuple[int, bytes]:
        """The sum of the template header for ``destination``, and its source+destination bytes."""
        cached = self._templates.get(destination)
        if cached is None:
            cached = (
                ones_complement_sum(destination.packed, self._base_sum),
                self.source.packed + destination.packed,
            )
            self._templates[destination] = cached
        return cached

    def take_identifications(self, n: int) -> int:
        """Reserve ``n`` consecutive Identification values; return the first."""
        first = self._next_identification
        self._next_identification = (first + n) & 0xFFFF
        return first

    def packet(self, icmp: bytes, destination: Address, link_header: bytes = b"") -> bytes:
        """``link_header``, our IPv4 header and ``icmp``; raises :class:`SendFailed` beyond the MTU.

        One ``pack`` writes the link header and the IPv4 header together: this runs for every
        probe, and each concatenation or call costs as much as the header's arithmetic.
        """
        total_length = IP_HEADER_LEN + len(icmp)
        if total_length > self.mtu:
            raise SendFailed(errno.EMSGSIZE, self._too_long)
        identification = self._next_identification
        self._next_identification = (identification + 1) & 0xFFFF
        last_destination, constant_sum, addresses = self._last
        if destination is not last_destination:
            constant_sum, addresses = self._constant(destination)
            self._last = (destination, constant_sum, addresses)
        # The header checksum (RFC 791 §3.1) from the template's sum and the two changing words:
        # for a sum s > 0 the end-around-carry fold is (s - 1) % 0xffff + 1 (RFC 1624), and the
        # field is its complement.
        checksum = 0xFFFE - (constant_sum + total_length + identification - 1) % 0xFFFF
        layout = _FRAMED_HEADERS.get(len(link_header)) or _framed_header(len(link_header))
        return (
            layout.pack(
                link_header,
                self._version_tos,
                total_length,
                identification,
                self._flags_ttl_protocol,
                checksum,
                addresses,
            )
            + icmp
        )

    # -- the batch form: one template, then strided columns per batch -----------------------------
    def batch_template(self, icmp_len: int) -> bytes:
        """The header of every probe of ``icmp_len`` bytes, Identification, checksum and
        destination zero (:meth:`columns` writes them)."""
        self._batch_length = IP_HEADER_LEN + icmp_len
        self._batch_sum = self._base_sum + self._batch_length - 1
        return self._header(self._batch_length)

    def _header(self, total_length: int) -> bytes:
        """Our header with Identification, checksum and destination zero (RFC 791 §3.1)."""
        flags_offset = self.flags << 13
        return _IP_HEADER.pack(
            0x45, self.tos, total_length, 0, flags_offset, self.ttl, IPPROTO_ICMP, 0, self._source_int, 0
        )

    def columns(self, destinations: Sequence[int]) -> tuple[Column, ...]:
        """Identification, header checksum and destination of probes to ``destinations``, as
        columns (offsets from the start of the IPv4 header, RFC 791 §3.1).

        The checksum is the template's folded sum plus the changing words (RFC 1624): for a sum
        ``s`` > 0 the end-around-carry fold is ``(s - 1) % 0xffff + 1``, so the field is
        ``0xfffe - (s - 1) % 0xffff`` (``_batch_sum`` holds the constant part minus one).
        """
        n = len(destinations)
        first = self.take_identifications(n)
        identifications = [(first + k) & 0xFFFF for k in range(n)]
        base = self._batch_sum
        checksums = [
            0xFFFE - (base + identification + (destination >> 16) + (destination & 0xFFFF)) % 0xFFFF
            for identification, destination in zip(identifications, destinations, strict=True)
        ]
        return ((4, "H", identifications), (10, "H", checksums), (16, "I", destinations))


#: A link header of N bytes, then the IPv4 header as Ipv4HeaderWriter.packet fills it: version/IHL
#: and TOS, Total Length, Identification, flags/offset with TTL and protocol, checksum, addresses.
_FRAMED_HEADERS: Final[dict[int, struct.Struct]] = {}


def _framed_header(link_header_len: int) -> struct.Struct:
    layout = _FRAMED_HEADERS[link_header_len] = struct.Struct(f"!{link_header_len}s2sHH4sH8s")
    return layout


# --- receiving -----------------------------------------------------------------------------------


class Ipv4Unframer:
    """Reduces received IPv4 datagrams to :class:`Inbound` ICMP messages (layers ip, ethernet)."""

    def __init__(self) -> None:
        self._addresses: dict[bytes, IPv4Address] = {}

    def inbound(self, raw: bytes, offset: int, rx_ns: int, ifindex: int | None) -> Inbound | None:
        """The ICMP message of the IPv4 datagram at ``raw[offset:]``; None if it is no whole datagram.

        The header is read with one ``unpack_from`` rather than an :class:`Ipv4Header` (this runs
        for every reply; the value class costs several µs), and its checksum is verified.
        """
        if len(raw) < offset + IP_HEADER_LEN:
            return None
        version_ihl, total_length, fragment_word, ttl, protocol, src, dst = _RECEIVED_HEADER.unpack_from(
            raw, offset
        )
        header_length = (version_ihl & 0x0F) << 2
        # Link padding may follow the datagram (Ethernet's 60-byte minimum); fewer bytes than
        # Total Length says is a truncated datagram; a fragment is not a whole ICMP message.
        if (
            version_ihl >> 4 != 4
            or header_length < IP_HEADER_LEN
            or total_length < header_length
            or len(raw) < offset + total_length
            or fragment_word & _FRAGMENT_BITS
            or protocol != IPPROTO_ICMP
        ):
            return None
        icmp_start = offset + header_length
        addresses = self._addresses
        # The header checksum is right when the ones'-complement sum of the header is 0xffff
        # (RFC 1071 §1); that sum is the header read as one integer modulo 0xffff
        # (wire/checksum.py explains why), and a header (version 4 is never all zeros) sums to
        # 0xffff exactly when that remainder is 0.
        return Inbound(
            raw[icmp_start : offset + total_length],
            addresses.get(src) or self._address(src),
            addresses.get(dst) or self._address(dst),
            ttl,
            rx_ns,
            ifindex,
            raw,
            int.from_bytes(raw[offset:icmp_start], "big") % 0xFFFF == 0,
        )

    def _address(self, packed: bytes) -> IPv4Address:
        address = self._addresses.get(packed)
        if address is None:
            if len(self._addresses) > 1024:
                self._addresses.clear()
            address = self._addresses[packed] = IPv4Address(packed)
        return address


_ROW_STRUCTS: dict[int, struct.Struct] = {}


def unframe_batch(
    data: Buffer, count: int, size: int, stamps: Sequence[int], link: int = 0
) -> tuple[list[Received], int]:
    """The ICMP messages of ``count`` received IPv4 datagrams, datagram ``k`` at
    ``k * size + link`` (at most ``size - link`` bytes of it), received at ``stamps[k]``.

    The batch form of :class:`Ipv4Unframer` for ``recvmmsg`` buffers: every datagram's fixed
    header (RFC 791 §3.1) is read with one ``struct.iter_unpack``. Returns the messages as
    (offset, length, source, ttl, rx_ns), and how many datagrams were not whole ICMP datagrams
    (the socket's filter lets none through; counted as foreign). The header checksum is not
    checked here: the ICMP checksum, which the engine verifies, covers what a reply's matching
    reads.
    """
    if count <= 0:
        return [], 0
    room = size - link
    if room < _RECEIVED_ROW_LEN:
        rows_struct = None
    else:
        rows_struct = _ROW_STRUCTS.get(size)
        if rows_struct is None:
            rows_struct = _ROW_STRUCTS[size] = struct.Struct(_RECEIVED_ROW + f"{size - _RECEIVED_ROW_LEN}x")
    messages: list[Received] = []
    append = messages.append
    foreign = 0
    if rows_struct is None:
        return messages, count
    offset = link - size
    for (version_ihl, total_length, fragment, ttl, protocol, source), rx_ns in zip(
        rows_struct.iter_unpack(data[link : link + count * size]), stamps, strict=True
    ):
        offset += size
        if version_ihl == 0x45:
            if fragment & _FRAGMENT_BITS or protocol != IPPROTO_ICMP or total_length < IP_HEADER_LEN:
                foreign += 1
                continue
            append((offset + IP_HEADER_LEN, min(total_length, room) - IP_HEADER_LEN, source, ttl, rx_ns))
            continue
        ihl = (version_ihl & 0x0F) << 2  # with options
        if (
            version_ihl >> 4 != 4
            or ihl < IP_HEADER_LEN
            or fragment & _FRAGMENT_BITS
            or protocol != IPPROTO_ICMP
            or total_length < ihl
        ):
            foreign += 1  # the socket's filter lets only whole ICMP datagrams through; be sure
            continue
        append((offset + ihl, min(total_length, room) - ihl, source, ttl, rx_ns))
    return messages, foreign


# --- ICMP rules ----------------------------------------------------------------------------------

_QUOTING = (DestinationUnreachable, SourceQuench, TimeExceeded, Redirect, ParameterProblem)


def parse_error(icmp: Buffer) -> QuotedProbe | None:
    """What an ICMPv4 error quotes (RFC 792): its destination and ICMP message, if ICMP."""
    try:
        message = parse_icmpv4(icmp)
    except WireError:
        return None
    if not isinstance(message, _QUOTING):
        return None
    quoted = message.quoted
    if quoted.protocol != IPPROTO_ICMP or len(message.quoted_payload) < 8:
        return None
    return QuotedProbe(message, quoted.destination, message.quoted_payload)


RULES: Final = IcmpRules(
    echo_request=IcmpType.ECHO_REQUEST,
    echo_reply=IcmpType.ECHO_REPLY,
    error_types=frozenset(
        (
            IcmpType.DEST_UNREACHABLE,
            IcmpType.SOURCE_QUENCH,
            IcmpType.REDIRECT,
            IcmpType.TIME_EXCEEDED,
            IcmpType.PARAMETER_PROBLEM,
        )
    ),
    advice_types=frozenset((IcmpType.SOURCE_QUENCH, IcmpType.REDIRECT)),
    parse_error=parse_error,
    address_from_int=IPv4Address,
)


def host_unreachable(probe: bytes, source: Address, rx_ns: int) -> Inbound:
    """The ICMP Destination Host Unreachable our own host sends when ARP fails.

    RFC 1812 §4.3.2.3 and RFC 792: it quotes the probe's IPv4 header and the first 8 bytes
    after it, and comes from our source address; iputils prints it as ``From <source>
    icmp_seq=N Destination Host Unreachable``.
    """
    assert isinstance(source, IPv4Address)
    quoted = Ipv4Header.parse(probe)
    quoted_payload = probe[quoted.header_length : quoted.header_length + 8]
    icmp = DestinationUnreachable(UnreachableCode.HOST, quoted, quoted_payload).build()
    header = Ipv4Header(
        tos=0xC0,  # Internet Control, as Linux marks ICMP errors (RFC 1812 §4.3.2.5)
        identification=0,
        flags=0,
        fragment_offset=0,
        ttl=64,
        protocol=IPPROTO_ICMP,
        source=source,
        destination=source,
    )
    raw = Ipv4Packet(header, icmp).build()
    return Inbound(
        icmp=icmp,
        src=source,
        dst=source,
        ttl=None,
        rx_ns=rx_ns,
        raw=raw,
        ip_checksum_ok=True,
        local_error=True,
    )


IPV4: Final = Family(
    name="IPv4",
    version=4,
    af=socket.AF_INET,
    ethertype=0x0800,
    ip_proto=IPPROTO_ICMP,
    header_len=IP_HEADER_LEN,
    bits=32,
    sysctl_dir="ipv4",
    rules=RULES,
    pseudo_header_sum=None,
    header_writer=Ipv4HeaderWriter,
    unframer=Ipv4Unframer,
    unframe_batch=unframe_batch,
    socket_filter=bpf.icmp_filter,
    host_unreachable=host_unreachable,
    neighbour_protocol="arp",
    ping_words=ping_words,
    fping_words=fping_words,
    parse_address=IPv4Address,
    from_int=IPv4Address,
    sets_dont_fragment=pmtu_sets_df,
)
