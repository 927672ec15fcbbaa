"""What a packet says, written the way ``tcpdump -n -v -e`` writes it, and the ``tcpdump -X`` dump.

Display only: bytes in, text out, no sockets, no clock. The words, field order, number formats
(checksums in ``%x``, not ``%04x``) and line breaks follow tcpdump 4.99 (``print-ether.c``,
``print-ip.c``, ``print-icmp.c``, ``print-arp.c``, ``print-ascii.c``), so people read it with
the habits they already have and a test can compare our lines with tcpdump's for the same frame:

    52:8d:d0:30:ba:14 > 9e:59:56:b0:fe:ef, ethertype IPv4 (0x0800), length 98: (tos 0x0, ttl 64, ...)
        198.51.100.2 > 203.0.113.2: ICMP echo request, id 69, seq 420, length 64

A wrong IPv4 header checksum adds ``, bad cksum 1234 (->8592)!`` inside the parentheses, a wrong
ICMP checksum `` (wrong icmp cksum f616 (->f210)!)`` after the length; the value after ``->`` is
the one the field should hold (tcpdump's ``in_cksum_shouldbe``, RFC 1624). ICMP errors are
followed by the datagram they quote, on a line of its own that starts with a tab, as tcpdump
prints it. A quoted ICMP message is checked only when it is quoted whole (a router may quote
less, RFC 792 asks for 8 bytes); fragments are not checked either (the rest is elsewhere).

Where tcpdump decodes more than ping needs (UDP, TCP, IPv6, LLC, some rare ICMP types, the IP
timestamp option) we say less, in our own words, and never claim to have checked anything.
Where bytes end before a layer does, :class:`Decoded` says at which byte parsing stopped.

The decode is organised as dispatch tables, one per layer, each row naming the value and the
function that decodes what follows: :data:`LINKTYPES` (pcap link type), :data:`IP_VERSIONS` (the
version nibble, for raw IP), :data:`ETHERTYPES`, :data:`IP_PROTOCOLS` and :data:`ICMP_TYPES`. A new
protocol (IPv6, ICMPv6, NDP) is new functions plus rows in these tables; a row without a
function is only a name (tcpdump's word for it) and its payload is shown as not decoded.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from ipaddress import IPv4Address
from socket import inet_ntoa
from typing import Final

from layerping._value import Record, Value, field
from layerping.wire import arp, ethernet, icmpv4, ipv4
from layerping.wire.checksum import ones_complement_sum
from layerping.wire.linktype import LINKTYPE_ETHERNET, LINKTYPE_RAW

LINKTYPE_IPV4: Final = 228  # raw IPv4 only (tcpdump's LINKTYPE_IPV4); we decode it like LINKTYPE_RAW

_MAX_802_3_LENGTH: Final = 1500  # EtherType values up to this are an 802.3 length field
_ETHERNET: Final = struct.Struct("!6s6sH")
_ETHERNET_HEADER_LEN: Final = _ETHERNET.size  # 14
_VLAN_TAG: Final = struct.Struct("!HH")  # TCI, then the inner EtherType (IEEE 802.1Q)
_VLAN_ID_MASK: Final = 0x0FFF
_VLAN_DEI: Final = 0x1000
_VLAN_PCP_SHIFT: Final = 13

_IPV4: Final = struct.Struct("!BBHHHBBH4s4s")  # RFC 791 §3.1, as wire/ipv4.py reads it
_IPV4_HEADER_LEN: Final = ipv4.HEADER_LEN
_IPV4_VERSION: Final = ipv4.VERSION
_IP_MF: Final = ipv4.FLAG_MF
_IP_FLAGS_SHIFT: Final = 13
_IP_FRAGMENT_MASK: Final = 0x1FFF
_IPPROTO_TCP: Final = 6
_IPPROTO_UDP: Final = 17
#: Flag bits of the flags/offset word in tcpdump's order (``ip_frag_values``): MF, DF, reserved.
_IP_FLAG_NAMES: Final = ((ipv4.FLAG_MF, "+"), (ipv4.FLAG_DF, "DF"), (0x4, "rsvd"))
#: The ``flags [...]`` text for each value of the 3 flag bits, computed once.
_IP_FLAGS_TEXT: Final = tuple(
    ", ".join(name for bit, name in _IP_FLAG_NAMES if flags & bit) or "none" for flags in range(8)
)
_ECN: Final = ("", ",ECT(1)", ",ECT(0)", ",CE")  # RFC 3168 codepoints, as tcpdump marks them
_IP_OPTION_NAMES: Final = {
    0: "EOL",
    1: "NOP",
    7: "RR",
    68: "timestamp",
    82: "traceroute",
    130: "security",
    131: "LSRR",
    137: "SSRR",
    148: "RA",
}
_IPOPT_EOL: Final = 0
_IPOPT_NOP: Final = 1
_IPOPT_ROUTES: Final = frozenset((7, 131, 137))  # record route, loose and strict source route
_IPOPT_RA: Final = 148  # router alert (RFC 2113)

_UNREACHABLE: Final[dict[int, str]] = {
    0: "net {dst} unreachable",
    1: "host {dst} unreachable",
    5: "{dst} unreachable - source route failed",
    6: "net {dst} unreachable - unknown",
    7: "host {dst} unreachable - unknown",
    8: "{dst} unreachable - source host isolated",
    9: "net {dst} unreachable - admin prohibited",
    10: "host {dst} unreachable - admin prohibited",
    11: "net {dst} unreachable - tos prohibited",
    12: "host {dst} unreachable - tos prohibited",
    13: "host {dst} unreachable - admin prohibited filter",
    14: "host {dst} unreachable - host precedence violation",
    15: "host {dst} unreachable - precedence cutoff",
}
_REDIRECT: Final = {0: "redirect {dst} to net {gw}", 1: "redirect {dst} to host {gw}",
                    2: "redirect-tos {dst} to net {gw}", 3: "redirect-tos {dst} to host {gw}"}
_TIME_EXCEEDED: Final = {0: "time exceeded in-transit", 1: "ip reassembly time exceeded"}
_ICMP_ECHO: Final = struct.Struct("!BBHHH")
_U16: Final = struct.Struct("!H")

_ARP_HARDWARE: Final = {1: "Ethernet", 6: "TokenRing"}
_ARP_FIXED: Final = struct.Struct("!HHBBH")
_ARP_ADDRESSES: Final = struct.Struct("!6s4s6s4s")  # sender MAC and IPv4, target MAC and IPv4 (RFC 826)


class Decoded(Value):
    """The decode of one packet or frame.

    ``lines`` is the text, first line unindented, following lines indented as tcpdump does it.
    ``bad_checksums`` counts the checksums found wrong, ``checked`` those verified at all.
    ``stopped`` says where and why parsing stopped before the bytes (or a layer) ended, or is
    None when every layer was read to its end.
    """

    lines: tuple[str, ...]
    bad_checksums: int = 0
    checked: int = 0
    stopped: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def status(self) -> int:
        """0: every checksum right; 1: one or more wrong; 2: not a (whole) packet."""
        if self.stopped is not None:
            return 2
        return 1 if self.bad_checksums else 0


class Out(Record):
    """tcpdump's ND_PRINT: text accumulates; checksum verdicts and the stop point are recorded.

    What every decoder function of the tables writes to.
    """

    parts: list[str] = field(default_factory=list)
    bad: int = 0
    checked: int = 0
    stopped: str | None = None

    def write(self, text: str) -> None:
        self.parts.append(text)

    def stop(self, offset: int, reason: str) -> None:
        if self.stopped is None:
            self.stopped = f"parsing stopped at byte {offset}: {reason}"

    def checksum(self, ok: bool) -> None:
        self.checked += 1
        if not ok:
            self.bad += 1

    def text(self) -> str:
        """The lines as one string, ``\\n`` between them, no trailing spaces (what :meth:`result`
        splits into lines): ``--decode-pcap`` prints it as it is."""
        text = "".join(self.parts).rstrip(" ")
        if " \n" in text:
            return "\n".join(line.rstrip(" ") for line in text.split("\n"))
        return text

    @property
    def status(self) -> int:
        """As :attr:`Decoded.status`."""
        if self.stopped is not None:
            return 2
        return 1 if self.bad else 0

    def result(self) -> Decoded:
        text = self.text()
        return Decoded(tuple(text.split("\n")) if text else (), self.bad, self.checked, self.stopped)


#: Decodes a link's payload or a network-layer packet: ``(out, data, offset)``, where ``offset``
#: is where ``data`` starts in the frame (for "parsing stopped at byte N").
NetworkDecoder = Callable[[Out, memoryview, int], None]
#: Decodes what an IP header carries: ``(out, payload, length, offset, fragmented, pseudo_sum)``.
#: ``length`` is what the IP header says the payload is (``payload`` may be less: a snaplen or a
#: quote), ``fragmented`` means the rest is in other fragments (no checksum can be checked), and
#: ``pseudo_sum`` is the folded sum of the pseudo-header the upper layer's checksum covers (0 for
#: ICMPv4, which has none; RFC 8200 §8.1 for ICMPv6).
UpperDecoder = Callable[[Out, memoryview, int, int, bool, int], None]
#: The words after ``ICMP`` for one type: ``(code, message)`` -> text, or None when the message is
#: too short for them (an error whose quote is missing).
IcmpText = Callable[[int, memoryview], str | None]


def should_be(received: int, data: bytes | memoryview, pseudo_sum: int = 0) -> int:
    """The checksum ``data`` should carry, from the one it does (tcpdump ``in_cksum_shouldbe``).

    ``data`` is the covered bytes as received, checksum field included. RFC 1624 eqn. 3.
    """
    computed = ~ones_complement_sum(data, pseudo_sum) & 0xFFFF
    total = received + computed
    total = (total & 0xFFFF) + (total >> 16)
    return (total & 0xFFFF) + (total >> 16)


def _checksum_ok(data: bytes | memoryview, pseudo_sum: int = 0) -> bool:
    """Do ``data`` (checksum field included) and ``pseudo_sum`` add up to 0xffff (RFC 1071)?

    :func:`ones_complement_sum` inlined, as it runs twice for every record of a capture: the
    big-endian integer of the bytes is congruent to the sum of their 16-bit words modulo
    0xffff (2**16 = 1 mod 0xffff), and a ones'-complement sum is 0xffff exactly when that
    residue is 0 and the bytes are not all zero.
    """
    value = int.from_bytes(data, "big")
    if len(data) & 1:
        value <<= 8  # pad the odd byte on the right (RFC 1071 §1)
    value += pseudo_sum
    return value != 0 and value % 0xFFFF == 0


# --- entry points --------------------------------------------------------------------------------


def decode(data: bytes, linktype: int, length: int | None = None) -> Decoded:
    """Decode a frame of pcap link type ``linktype``; ``length`` is its length on the wire."""
    out = Out()
    decoder = LINKTYPES.get(linktype)
    if decoder is None:
        out.stop(0, f"link type {linktype} is not one layerping decodes (Ethernet 1, raw IPv4 101 or 228)")
    else:
        decoder(out, memoryview(data), len(data) if length is None else length)
    return out.result()


def decode_ethernet(frame: bytes, length: int | None = None) -> Decoded:
    """``tcpdump -n -v -e`` of an Ethernet II frame (no FCS)."""
    out = Out()
    _ethernet(out, memoryview(frame), len(frame) if length is None else length)
    return out.result()


def decode_ip(packet: bytes) -> Decoded:
    """``tcpdump -n -v -e`` of an IP packet without link header (what follows the link line).

    The version nibble picks the row of :data:`IP_VERSIONS`.
    """
    out = Out()
    _raw_ip(out, memoryview(packet), len(packet))
    return out.result()



def decode_icmp(icmp: bytes, source: IPv4Address | None, destination: IPv4Address | None) -> Decoded:
    """The ICMP line alone, for messages whose IPv4 header we never saw (ICMP datagram sockets)."""
    out = Out()
    src, dst = ("?" if address is None else str(address) for address in (source, destination))
    out.write(f"    {src} > {dst}: ")
    _icmp(out, memoryview(icmp), len(icmp), 0, False, 0)
    return out.result()


def detect_linktype(data: bytes) -> int | None:
    """Is ``data`` an Ethernet frame or an IPv4 packet? ``LINKTYPE_ETHERNET``, ``LINKTYPE_RAW`` or None.

    An IPv4 packet starts with version 4 and a header length of 5 words or more; an Ethernet
    frame has an EtherType we know at bytes 12-13. When both could be true the one whose IPv4
    header checksum is right wins, IPv4 on a tie.
    """
    ip_like = len(data) >= ipv4.HEADER_LEN and data[0] >> 4 == ipv4.VERSION and data[0] & 0x0F >= 5
    eth_like = len(data) >= ethernet.HEADER_LEN and _U16.unpack_from(data, 12)[0] in ETHERTYPES
    if ip_like and eth_like:
        if _header_checksum_ok(data, 0):
            return LINKTYPE_RAW
        if _U16.unpack_from(data, 12)[0] == ethernet.EtherType.IPV4 and _header_checksum_ok(
            data, ethernet.HEADER_LEN
        ):
            return LINKTYPE_ETHERNET
        return LINKTYPE_RAW
    if ip_like:
        return LINKTYPE_RAW
    if eth_like:
        return LINKTYPE_ETHERNET
    return None


def why_not_a_packet(data: bytes) -> str:
    """One line saying why :func:`detect_linktype` found neither an IPv4 packet nor a frame."""
    if len(data) < ethernet.HEADER_LEN:
        return (
            f"parsing stopped at byte {len(data)}: {len(data)} bytes are too few for an Ethernet header "
            f"({ethernet.HEADER_LEN}) or an IPv4 header ({ipv4.HEADER_LEN})"
        )
    version, ihl = data[0] >> 4, data[0] & 0x0F
    ip_reason = f"version {version}, not 4" if version != ipv4.VERSION else f"header length {ihl * 4} < 20"
    (ethertype,) = _U16.unpack_from(data, 12)
    return (
        f"parsing stopped at byte 0: not an IPv4 packet ({ip_reason}) and not an Ethernet frame "
        f"(EtherType 0x{ethertype:04x} at bytes 12-13 is none of IPv4, ARP, 802.1Q, IPv6)"
    )


def _header_checksum_ok(data: bytes, offset: int) -> bool:
    if len(data) < offset + ipv4.HEADER_LEN or data[offset] >> 4 != ipv4.VERSION:
        return False
    header_length = (data[offset] & 0x0F) * 4
    if header_length < ipv4.HEADER_LEN or len(data) < offset + header_length:
        return False
    return _checksum_ok(data[offset : offset + header_length])


# --- link layer ----------------------------------------------------------------------------------


def _ethernet(out: Out, data: memoryview, length: int) -> None:
    """tcpdump ``ether_print`` with ``-e``: the MACs, the EtherType, then its row's decoder."""
    if len(data) < ethernet.HEADER_LEN:
        out.stop(len(data), f"an Ethernet header is {ethernet.HEADER_LEN} bytes, only {len(data)} given")
        return
    destination, source, ethertype = _ETHERNET.unpack_from(data)
    if ethertype <= _MAX_802_3_LENGTH:
        out.write(f"{source.hex(':')} > {destination.hex(':')}, 802.3, length {ethertype}: "
                  "(LLC, not decoded by layerping)")  # fmt: skip
        return
    name, decoder = ETHERTYPES.get(ethertype, _UNKNOWN_ETHERTYPE)
    out.write(f"{source.hex(':')} > {destination.hex(':')}, "
              f"ethertype {name} (0x{ethertype:04x}), length {length}: ")  # fmt: skip
    if decoder is None:
        out.write(f"({name}, not decoded by layerping)")
    else:
        decoder(out, data[_ETHERNET_HEADER_LEN:], _ETHERNET_HEADER_LEN)


def _ethertype_payload(
    out: Out, name: str, decoder: NetworkDecoder | None, data: memoryview, offset: int
) -> None:
    if decoder is None:
        out.write(f"({name}, not decoded by layerping)")
    else:
        decoder(out, data, offset)


def _vlan(out: Out, data: memoryview, offset: int) -> None:
    """An 802.1Q tag (tcpdump ``ieee8021q_tci_string``), then the inner EtherType's row."""
    if len(data) < _VLAN_TAG.size:
        out.stop(offset + len(data), "802.1Q tag cut short")
        return
    tci, ethertype = _VLAN_TAG.unpack_from(data)
    dei = ", DEI" if tci & _VLAN_DEI else ""
    name, decoder = ETHERTYPES.get(ethertype, _UNKNOWN_ETHERTYPE)
    out.write(f"vlan {tci & _VLAN_ID_MASK}, p {tci >> _VLAN_PCP_SHIFT}{dei}, "
              f"ethertype {name} (0x{ethertype:04x}), ")  # fmt: skip
    _ethertype_payload(out, name, decoder, data[_VLAN_TAG.size :], offset + _VLAN_TAG.size)


def _raw_ip(out: Out, data: memoryview, length: int) -> None:
    """LINKTYPE_RAW: an IP packet of any version, told by its first nibble (:data:`IP_VERSIONS`)."""
    decoder = IP_VERSIONS.get(data[0] >> 4) if data else None
    if decoder is None:
        if len(data) < ipv4.HEADER_LEN:
            _ipv4(out, data, 0)  # says how short it is, as it always has
            return
        version = data[0] >> 4
        out.write(f"IP{version}")
        out.stop(0, f"IP version {version}, not {' or '.join(str(v) for v in IP_VERSIONS)}")
        return
    decoder(out, data, 0)


def _arp(out: Out, data: memoryview, offset: int) -> None:
    if len(data) < _ARP_FIXED.size:
        out.write("[|ARP]")
        out.stop(offset + len(data), f"an ARP header needs {_ARP_FIXED.size} bytes, only {len(data)} given")
        return
    hardware, protocol, hardware_length, protocol_length, operation = _ARP_FIXED.unpack_from(data)
    hardware_name = _ARP_HARDWARE.get(hardware, f"Unknown Hardware ({hardware})")
    protocol_name = "IPv4" if protocol == ethernet.EtherType.IPV4 else f"Unknown Protocol (0x{protocol:04x})"
    out.write(f"{hardware_name} (len {hardware_length}), {protocol_name} (len {protocol_length}), ")
    if hardware_length != ethernet.MAC_LEN or protocol_length != arp.IPV4_ADDR_LEN:
        out.write(f"ar_op {operation}, (addresses not decoded by layerping), length {len(data)}")
        return
    if len(data) < arp.HEADER_LEN:
        out.write("[|ARP]")
        out.stop(offset + len(data), f"an IPv4 ARP packet is {arp.HEADER_LEN} bytes, only {len(data)} given")
        return
    sender_mac, sender_ip, target_mac, target_ip = _ARP_ADDRESSES.unpack_from(data, _ARP_FIXED.size)
    sha, spa = sender_mac.hex(":"), inet_ntoa(sender_ip)
    tha, tpa = target_mac.hex(":"), inet_ntoa(target_ip)
    if operation == arp.ArpOperation.REQUEST:
        known = f" ({tha})" if any(target_mac) else ""
        out.write(f"Request who-has {tpa}{known} tell {spa}")
    elif operation == arp.ArpOperation.REPLY:
        out.write(f"Reply {spa} is-at {sha}")
    elif operation == 3:
        out.write(f"Reverse Request who-is {tha} tell {sha}")
    elif operation == 4:
        out.write(f"Reverse Reply {tha} at {tpa}")
    elif operation == 8:
        out.write(f"Inverse Request who-is {tpa} tell {spa}")
    elif operation == 9:
        out.write(f"Inverse Reply {spa} at {sha}")
    else:
        out.write(f"Unknown opcode ({operation})")
    out.write(f", length {len(data)}")


# --- IPv4 ----------------------------------------------------------------------------------------


def _ipv4(out: Out, data: memoryview, offset: int, *, quoted: bool = False) -> None:
    """tcpdump ``ip_print``: the header in parentheses, then ``src > dst: `` and the payload."""
    got = len(data)
    if got < _IPV4_HEADER_LEN:
        out.write("[|ip]")
        out.stop(offset + got, f"an IPv4 header is at least {_IPV4_HEADER_LEN} bytes, only {got} given")
        return
    (version_ihl, tos, total_length, identification, flags_fragment, ttl, protocol, checksum, source,
     destination) = _IPV4.unpack_from(data)  # fmt: skip
    version, ihl = version_ihl >> 4, version_ihl & 0x0F
    if version != _IPV4_VERSION:
        out.write(f"IP{version}")
        out.stop(offset, f"IP version {version}, not 4")
        return
    header_length = ihl * 4
    if header_length < _IPV4_HEADER_LEN:
        out.write(f"bad-hlen {header_length}")
        out.stop(offset, f"IPv4 header length {header_length} is less than 20")
        return
    if got < header_length:
        out.write("[|ip]")
        out.stop(offset + got, f"the IPv4 header says {header_length} bytes, only {got} given")
        return
    if total_length < header_length:
        out.write(f"bad-len {total_length}")
        out.stop(offset + 2, f"IPv4 total length {total_length} is less than the {header_length}-byte header")
        return
    write = out.parts.append
    missing = total_length - got
    if missing > 0 and not quoted:
        write(f"truncated-ip - {missing} bytes missing! ")
    flags, fragment_offset = flags_fragment >> _IP_FLAGS_SHIFT, flags_fragment & _IP_FRAGMENT_MASK
    protocol_name, upper = IP_PROTOCOLS.get(protocol, _UNKNOWN_PROTOCOL)
    ttl_text = f", ttl {ttl}" if ttl >= 1 else ""
    write(
        f"(tos 0x{tos:x}{_ECN[tos & 0x3]}{ttl_text}, id {identification}, offset {fragment_offset * 8}, "
        f"flags [{_IP_FLAGS_TEXT[flags]}], proto {protocol_name} ({protocol}), length {total_length}"
    )
    if header_length > _IPV4_HEADER_LEN:
        write(f", options ({_ip_options(bytes(data[_IPV4_HEADER_LEN : header_length]))})")
    header = data[:header_length]
    out.checked += 1
    header_sum = int.from_bytes(header, "big")  # _checksum_ok inlined: whole 32-bit words
    if header_sum == 0 or header_sum % 0xFFFF:
        out.bad += 1
        write(f", bad cksum {checksum:x} (->{should_be(checksum, header):x})!")
    addresses = f"{inet_ntoa(source)} > {inet_ntoa(destination)}: "
    payload_length = total_length - header_length
    if fragment_offset:
        # Not the first fragment: no upper-layer header here to decode (tcpdump prints the same).
        write(f")\n    {addresses}ip-proto-{protocol}")
    elif upper is None:
        write(f")\n    {addresses} ip-proto-{protocol} {payload_length} (not decoded by layerping)")
    else:
        write(f")\n    {addresses}")
        payload = data[header_length : min(total_length, got)]
        upper(out, payload, payload_length, offset + header_length, bool(flags & _IP_MF), 0)
    if missing > 0 and not quoted:
        out.stop(offset + got, f"IPv4 total length {total_length}, only {got} bytes given")


def _ip_options(options: bytes) -> str:
    """tcpdump ``ip_optprint``: names, the addresses of route options, router alert values."""
    parts: list[str] = []
    position = 0
    while position < len(options):
        code = options[position]
        text = _IP_OPTION_NAMES.get(code, f"unknown {code}")
        remaining = len(options) - position
        if code in (_IPOPT_EOL, _IPOPT_NOP):
            length = 1
        else:
            if remaining < 2 or options[position + 1] < 2:
                parts.append(text + f" [bad length {options[position + 1] if remaining >= 2 else 0}]")
                break
            length = options[position + 1]
        if length > remaining:
            parts.append(text + f" [bad length {length}]")
            break
        value = options[position : position + length]
        if code == _IPOPT_EOL:
            parts.append(text)
            break
        if code in _IPOPT_ROUTES:
            text += _ip_route(value)
        elif code == _IPOPT_RA:
            if length < 4:
                text += f" [bad length {length}]"
            elif _U16.unpack_from(value, 2)[0]:
                text += f" value {_U16.unpack_from(value, 2)[0]}"
        parts.append(text)
        position += length
    return ",".join(parts)


def _ip_route(option: bytes) -> str:
    """tcpdump ``ip_printroute``: the addresses of a record/source route option."""
    length = len(option)
    text = ""
    if length < 3:
        return f" [bad length {length}]"
    if (length + 1) & 3:
        text += f" [bad length {length}]"
    pointer = option[2] - 1
    if pointer < 3 or (pointer + 1) & 3 or pointer > length + 1:
        text += f" [bad ptr {option[2]}]"
    for position in range(3, length - 3, 4):
        text += f" {IPv4Address(option[position : position + 4])}"
        if pointer > position:
            text += ","
    return text


# --- ICMP ----------------------------------------------------------------------------------------


def _icmp(out: Out, data: memoryview, length: int, offset: int, fragmented: bool, pseudo_sum: int) -> None:
    """tcpdump ``icmp_print``: what the message says, its length, a wrong checksum, the quote."""
    got = len(data)
    if got < icmpv4.HEADER_LEN:
        out.write(" [|icmp]")
        out.stop(offset + got, f"an ICMP header is {icmpv4.HEADER_LEN} bytes, only {got} given")
        return
    icmp_type, code = data[0], data[1]
    row = ICMP_TYPES.get(icmp_type)
    text = f"type-#{icmp_type}" if row is None else row[0](code, data)
    if text is None:
        out.write(" [|icmp]")
        out.stop(offset + got, f"ICMP type {icmp_type} quotes a datagram, and too little of it is here")
        return
    write = out.parts.append
    if not fragmented and got >= length:
        whole = data[:length] if got > length else data
        ok = _checksum_ok(whole, pseudo_sum)
        out.checked += 1
        if ok:
            write(f"ICMP {text}, length {length}")
        else:
            out.bad += 1
            (received,) = _U16.unpack_from(data, icmpv4.CHECKSUM_OFFSET)
            write(f"ICMP {text}, length {length} (wrong icmp cksum {received:x} "
                      f"(->{should_be(received, whole, pseudo_sum):x})!)")  # fmt: skip
    else:
        write(f"ICMP {text}, length {length}")
    if row is not None and row[1]:
        write("\n\t")
        _ipv4(out, data[icmpv4.QUOTE_OFFSET :], offset + icmpv4.QUOTE_OFFSET, quoted=True)


def _echo(code: int, data: memoryview) -> str:
    _, _, _, identifier, sequence = _ICMP_ECHO.unpack_from(data)
    word = "reply" if data[0] == icmpv4.IcmpType.ECHO_REPLY else "request"
    return f"echo {word}, id {identifier}, seq {sequence}"


def _timestamp(code: int, data: memoryview) -> str:
    _, _, _, identifier, sequence = _ICMP_ECHO.unpack_from(data)
    word = "query" if data[0] == icmpv4.IcmpType.TIMESTAMP else "reply"
    return f"time stamp {word} id {identifier} seq {sequence}"


def _time_exceeded(code: int, data: memoryview) -> str:
    return _TIME_EXCEEDED.get(code, f"time exceeded-#{code}")


def _parameter_problem(code: int, data: memoryview) -> str:
    return f"parameter problem - code {code}" if code else f"parameter problem - octet {data[4]}"


def _quoted_destination(data: memoryview) -> str | None:
    quote = data[icmpv4.QUOTE_OFFSET :]
    return inet_ntoa(quote[16:20]) if len(quote) >= ipv4.HEADER_LEN else None


def _redirect(code: int, data: memoryview) -> str | None:
    destination = _quoted_destination(data)
    if destination is None:
        return None
    template = _REDIRECT.get(code, f"redirect-#{code} {{dst}} to {{gw}}")
    return template.format(dst=destination, gw=inet_ntoa(data[4:8]))


def _unreachable(code: int, data: memoryview) -> str | None:
    destination = _quoted_destination(data)
    if destination is None:
        return None
    quote = data[icmpv4.QUOTE_OFFSET :]
    if code == icmpv4.UnreachableCode.FRAG_NEEDED:
        (mtu,) = _U16.unpack_from(data, 6)
        return f"{destination} unreachable - need to frag" + (f" (mtu {mtu})" if mtu else "")
    protocol = quote[9]
    if code == icmpv4.UnreachableCode.PROTOCOL:
        return f"{destination} protocol {protocol} unreachable"
    if code == icmpv4.UnreachableCode.PORT:
        header_length = (quote[0] & 0x0F) * 4
        if len(quote) < header_length + 4:
            return None
        (port,) = _U16.unpack_from(quote, header_length + 2)
        if protocol == _IPPROTO_UDP:
            return f"{destination} udp port {port} unreachable"
        if protocol == _IPPROTO_TCP:
            return f"{destination} tcp port {port} unreachable"
        return f"{destination} protocol {protocol} port {port} unreachable"
    template = _UNREACHABLE.get(code, f"{{dst}} unreachable - #{code}")
    return template.format(dst=destination)


def _mask_reply(code: int, data: memoryview) -> str:
    if len(data) >= 12:
        return f"address mask is 0x{int.from_bytes(data[8:12], 'big'):08x}"
    return "type-#18"


def _words(text: str) -> IcmpText:
    """A type tcpdump names without reading further."""
    return lambda code, data: text


# --- the dispatch tables -------------------------------------------------------------------------

#: pcap link type -> decoder of a whole frame ``(out, frame, length on the wire)``.
LINKTYPES: Final[dict[int, Callable[[Out, memoryview, int], None]]] = {
    LINKTYPE_ETHERNET: _ethernet,
    LINKTYPE_RAW: _raw_ip,  # IPv4 or IPv6, by the version nibble
    LINKTYPE_IPV4: _raw_ip,
}

#: IP version nibble -> decoder of the packet (LINKTYPE_RAW, ``-v`` at layer ip).
IP_VERSIONS: Final[dict[int, NetworkDecoder]] = {
    ipv4.VERSION: _ipv4,
}

#: EtherType -> (tcpdump's name, decoder of the payload or None: named, not decoded).
ETHERTYPES: Final[dict[int, tuple[str, NetworkDecoder | None]]] = {
    ethernet.EtherType.IPV4: ("IPv4", _ipv4),
    ethernet.EtherType.ARP: ("ARP", _arp),
    0x8035: ("Reverse ARP", None),
    ethernet.EtherType.VLAN: ("802.1Q", _vlan),
    0x86DD: ("IPv6", None),
    0x88A8: ("802.1Q-QinQ", None),
    0x88CC: ("LLDP", None),
    0x8847: ("MPLS unicast", None),
}
_UNKNOWN_ETHERTYPE: Final[tuple[str, NetworkDecoder | None]] = ("Unknown", None)

#: IP protocol (next header) -> (tcpdump's ``ipproto_values`` name, decoder of the payload or None).
IP_PROTOCOLS: Final[dict[int, tuple[str, UpperDecoder | None]]] = {
    0: ("Options", None),
    ipv4.IPPROTO_ICMP: ("ICMP", _icmp),
    2: ("IGMP", None),
    4: ("IPIP", None),
    _IPPROTO_TCP: ("TCP", None),
    _IPPROTO_UDP: ("UDP", None),
    41: ("IPv6", None),
    46: ("RSVP", None),
    47: ("GRE", None),
    50: ("ESP", None),
    51: ("AH", None),
    58: ("ICMPv6", None),
    89: ("OSPF", None),
    103: ("PIM", None),
    112: ("VRRP", None),
    132: ("SCTP", None),
}
_UNKNOWN_PROTOCOL: Final[tuple[str, UpperDecoder | None]] = ("unknown", None)

#: ICMPv4 type -> (the words after ``ICMP``, whether the message quotes a datagram: tcpdump's
#: ``ICMP_ERRTYPE``, 3/4/5/11/12). Types not here print as ``type-#N``.
ICMP_TYPES: Final[dict[int, tuple[IcmpText, bool]]] = {
    icmpv4.IcmpType.ECHO_REPLY: (_echo, False),
    icmpv4.IcmpType.DEST_UNREACHABLE: (_unreachable, True),
    4: (_words("source quench"), True),
    icmpv4.IcmpType.REDIRECT: (_redirect, True),
    icmpv4.IcmpType.ECHO_REQUEST: (_echo, False),
    9: (_words("router advertisement"), False),
    10: (_words("router solicitation"), False),
    icmpv4.IcmpType.TIME_EXCEEDED: (_time_exceeded, True),
    icmpv4.IcmpType.PARAMETER_PROBLEM: (_parameter_problem, True),
    icmpv4.IcmpType.TIMESTAMP: (_timestamp, False),
    icmpv4.IcmpType.TIMESTAMP_REPLY: (_timestamp, False),
    15: (_words("information request"), False),
    16: (_words("information reply"), False),
    17: (_words("address mask request"), False),
    18: (_mask_reply, False),
}
