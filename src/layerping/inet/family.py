"""The shape of an address family: a frozen value of constants plus a few functions.

Why a value and not a class per family: nothing about a family is state, the engine must be
given only a slice of it (:class:`IcmpRules`), and a value lets that slice be a field. The peer
codebases agree on the split (golang.org/x/net's parallel ``ipv4``/``ipv6`` packages of one
shape, pro-bing's per-family socket adapter, smoltcp's ``IpRepr``): the state machines stay
family-blind; what differs is constants, the IP header, the ICMP type numbers and how an error
quotes a datagram. IPv4 is :data:`layerping.inet.v4.IPV4`; IPv6 will be a second value built
from its own wire modules (wire/ipv6.py, wire/icmpv6.py, wire/ndisc.py).

Layering: ``inet`` sits between ``transport`` and ``wire``. It imports wire modules and the
vocabulary of :mod:`layerping.transport.base` (``Inbound``, ``SendFailed``, ``Address``);
transports, discovery, the API and output import it; the engine receives an :class:`IcmpRules`
and never imports a family.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from layerping._value import Record, Value
from layerping.transport.base import Address

if TYPE_CHECKING:
    # Protocols for type checkers only: defining a Protocol class costs 0.05 to 0.1 ms of every
    # start (tests/engine/test_runner.py guards the start-up path).
    from layerping.transport.base import Inbound

    class HeaderWriter(Protocol):
        """Writes the family's IP header in front of our ICMP messages: the one writer of layers ip
        and ethernet, for one probe (:meth:`packet`) and for a batch (:meth:`batch_template` once,
        then :meth:`columns` per batch): the two forms write the same bytes for the same probe."""

        mtu: int
        header_len: int

        def packet(self, icmp: bytes, destination: Address, link_header: bytes = b"") -> bytes:
            """``link_header``, the IP header and ``icmp``; raises SendFailed beyond the MTU."""
            ...

        def batch_template(self, icmp_len: int) -> bytes:
            """The IP header every probe of a batch starts from (its per-probe fields zero)."""
            ...

        def columns(self, destinations: Sequence[int]) -> tuple[Column, ...]:
            """The per-probe fields of probes to ``destinations`` (offsets from the IP header)."""
            ...

    class Unframer(Protocol):
        """Reads received IP datagrams down to their ICMP message (one per transport: it caches
        address objects)."""

        def inbound(self, raw: bytes, offset: int, rx_ns: int, ifindex: int | None) -> Inbound | None:
            """The ICMP message of the datagram at ``raw[offset:]``; None unless it is a whole,
            unfragmented ICMP datagram. The header checksum's verdict goes in ``checksum_ok``."""
            ...


Buffer = bytes | bytearray | memoryview

Received = tuple[int, int, int, int | None, int]
"""One received ICMP message in a batch buffer: (offset, length, source as int, ttl, rx_ns)."""

Column = tuple[int, str, Sequence[int]]
"""One strided field of a batch (``wire.columns.write_columns``): (offset, struct code, values)."""


class QuotedProbe(Record):
    """What an ICMP error says about the datagram it quotes (RFC 792, RFC 4443 §3).

    ``message`` is the parsed error (a family's wire value, for output's words), ``destination``
    the quoted datagram's destination, ``icmp`` the quoted ICMP message (at least its first 8
    bytes: type, code, checksum, identifier, sequence; more when the router quoted more).
    """

    message: object
    destination: Address
    icmp: bytes


class IcmpRules(Value):
    """What the engine knows of a family: ICMP type numbers and how to read an error's quote."""

    echo_request: int
    echo_reply: int
    #: Errors that may quote one of our probes (the types iputils' parse_reply matches).
    error_types: frozenset[int]
    #: Of those, the ones that are advice, not failure: reported, never counted as an error
    #: (iputils: ``error_pkt = type != ICMP_REDIRECT && type != ICMP_SOURCE_QUENCH``).
    advice_types: frozenset[int]
    #: The quote of an error message (an ICMP message whose type is in ``error_types``); None when
    #: it does not parse or does not quote an ICMP datagram.
    parse_error: Callable[[Buffer], QuotedProbe | None]
    #: The address of an int (the many-target engine keeps addresses as ints; a transport's
    #: ``send`` takes an address).
    address_from_int: Callable[[int], Address]


class Family(Value):
    """Everything that differs by address family (see the module docstring)."""

    name: str  # "IPv4"
    version: int  # 4
    af: int  # socket.AF_INET
    ethertype: int  # 0x0800 (IEEE 802 numbers; also the packet socket protocol ETH_P_IP)
    ip_proto: int  # protocol number of ICMP in this family: 1
    header_len: int  # the IP header we write (no options): 20
    bits: int  # address length: 32
    sysctl_dir: str  # /proc/sys/net/<sysctl_dir>
    rules: IcmpRules
    #: The checksum rule: the pseudo-header sum an upper-layer checksum includes (IPv6, RFC 8200
    #: §8.1), None where there is none (ICMPv4 covers the message alone, RFC 792).
    pseudo_header_sum: Callable[[Address, Address, int, int], int] | None
    #: ``header_writer(source, options, mtu, dont_fragment=None, first_identification=None)``
    header_writer: Callable[..., HeaderWriter]
    unframer: Callable[[], Unframer]
    #: ``unframe_batch(data, count, size, stamps, link) -> (messages, foreign)``: the ICMP
    #: messages of ``count`` datagrams ``size`` bytes apart, each after ``link`` bytes.
    unframe_batch: Callable[[Buffer, int, int, Sequence[int], int], tuple[list[Received], int]]
    #: The socket filter for a packet or raw socket: ``socket_filter(identifier, link_header_len,
    #: check_ethertype, reject_outgoing)``, a classic BPF program.
    socket_filter: Callable[..., list[tuple[int, int, int, int]]]
    #: The error our own host reports when the neighbour does not answer (what the kernel
    #: would generate): ``host_unreachable(probe_packet, source, rx_ns)``.
    host_unreachable: Callable[[bytes, Address, int], Inbound]
    #: The neighbour protocol the link layers resolve next hops with ("arp" for IPv4); the
    #: resolver itself is discovery's (discovery/arp.py), looked up by this name.
    neighbour_protocol: str
    #: Words for an ICMP error: iputils' (``From x icmp_seq=1 <words>``) and fping's.
    ping_words: Callable[[int, int, object], str]
    fping_words: Callable[[int, int], str]
    # addresses
    parse_address: Callable[[str], Address]
    from_int: Callable[[int], Address]
    #: Whether our probes carry Don't Fragment for a ``-M`` value (the kernel's default otherwise).
    sets_dont_fragment: Callable[[str | None], bool]

    def format_address(self, address: int) -> str:
        return str(self.from_int(address))
