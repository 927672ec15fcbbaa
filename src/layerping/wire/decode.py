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
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address
from typing import Final

from layerping._value import Record, Value, field
from layerping.wire import arp, ethernet, icmpv4, ipv4
from layerping.wire.checksum import ones_complement_sum
from layerping.wire.linktype import LINKTYPE_ETHERNET, LINKTYPE_RAW

LINKTYPE_IPV4: Final = 228  # raw IPv4 only (tcpdump's LINKTYPE_IPV4); we decode it like LINKTYPE_RAW

_ETHERTYPE_NAMES: Final = {
    0x0800: "IPv4",
    0x0806: "ARP",
    0x8035: "Reverse ARP",
    0x8100: "802.1Q",
    0x86DD: "IPv6",
    0x88A8: "802.1Q-QinQ",
    0x88CC: "LLDP",
    0x8847: "MPLS unicast",
}
_MAX_802_3_LENGTH: Final = 1500  # EtherType values up to this are an 802.3 length field
_VLAN_TAG: Final = struct.Struct("!HH")  # TCI, then the inner EtherType (IEEE 802.1Q)
_VLAN_ID_MASK: Final = 0x0FFF
_VLAN_DEI: Final = 0x1000
_VLAN_PCP_SHIFT: Final = 13

#: tcpdump's ``ipproto_values`` for the protocols a ping is likely to meet.
_IP_PROTOCOLS: Final = {
    0: "Options",
    1: "ICMP",
    2: "IGMP",
    4: "IPIP",
    6: "TCP",
    17: "UDP",
    41: "IPv6",
    46: "RSVP",
    47: "GRE",
    50: "ESP",
    51: "AH",
    58: "ICMPv6",
    89: "OSPF",
    103: "PIM",
    112: "VRRP",
    132: "SCTP",
}
_IPPROTO_TCP: Final = 6
_IPPROTO_UDP: Final = 17
#: Flag bits of the flags/offset word in tcpdump's order (``ip_frag_values``): MF, DF, reserved.
_IP_FLAG_NAMES: Final = ((ipv4.FLAG_MF, "+"), (ipv4.FLAG_DF, "DF"), (0x4, "rsvd"))
_ECN: Final = {1: ",ECT(1)", 2: ",ECT(0)", 3: ",CE"}  # RFC 3168 codepoints, as tcpdump marks them
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
_SIMPLE_ICMP: Final = {
    4: "source quench",
    9: "router advertisement",
    10: "router solicitation",
    15: "information request",
    16: "information reply",
    17: "address mask request",
}
_ICMP_ERRORS: Final = frozenset((3, 4, 5, 11, 12))  # types that quote a datagram (tcpdump ICMP_ERRTYPE)
_ICMP_ECHO: Final = struct.Struct("!BBHHH")
_U16: Final = struct.Struct("!H")

_ARP_HARDWARE: Final = {1: "Ethernet", 6: "TokenRing"}
_ARP_FIXED: Final = struct.Struct("!HHBBH")

#: tcpdump -X: 16 bytes a line, as 8 groups of 4 hex digits, then the printable ASCII.
HEXDUMP_BYTES_PER_LINE: Final = 16
_HEXDUMP_HEX_WIDTH: Final = 40  # 8 groups of " xxxx"


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


class _Out(Record):
    """tcpdump's ND_PRINT: text accumulates; checksum verdicts and the stop point are recorded."""

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

    def result(self) -> Decoded:
        text = "".join(self.parts).rstrip(" ")
        lines = tuple(line.rstrip(" ") for line in text.split("\n"))
        if lines == ("",):
            lines = ()
        return Decoded(lines, self.bad, self.checked, self.stopped)


def should_be(received: int, data: bytes | memoryview) -> int:
    """The checksum ``data`` should carry, from the one it does (tcpdump ``in_cksum_shouldbe``).

    ``data`` is the covered bytes as received, checksum field included. RFC 1624 eqn. 3.
    """
    computed = ~ones_complement_sum(data) & 0xFFFF
    total = received + computed
    total = (total & 0xFFFF) + (total >> 16)
    return (total & 0xFFFF) + (total >> 16)


def _checksum_ok(data: bytes | memoryview) -> bool:
    return ones_complement_sum(data) == 0xFFFF


# --- entry points --------------------------------------------------------------------------------


def decode(data: bytes, linktype: int, length: int | None = None) -> Decoded:
    """Decode a frame of pcap link type ``linktype``; ``length`` is its length on the wire."""
    if linktype == LINKTYPE_ETHERNET:
        return decode_ethernet(data, length)
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4):
        return decode_ipv4(data)
    out = _Out()
    out.stop(0, f"link type {linktype} is not one layerping decodes (Ethernet 1, raw IPv4 101 or 228)")
    return out.result()


def decode_ethernet(frame: bytes, length: int | None = None) -> Decoded:
    """``tcpdump -n -v -e`` of an Ethernet II frame (no FCS)."""
    out = _Out()
    _ethernet(out, memoryview(frame), len(frame) if length is None else length)
    return out.result()


def decode_ipv4(packet: bytes) -> Decoded:
    """``tcpdump -n -v -e`` of an IPv4 packet without link header (what follows the link line)."""
    out = _Out()
    _ipv4(out, memoryview(packet), 0, quoted=False)
    return out.result()


def decode_icmp(icmp: bytes, source: IPv4Address | None, destination: IPv4Address | None) -> Decoded:
    """The ICMP line alone, for messages whose IPv4 header we never saw (ICMP datagram sockets)."""
    out = _Out()
    src, dst = ("?" if address is None else str(address) for address in (source, destination))
    out.write(f"    {src} > {dst}: ")
    _icmp(out, memoryview(icmp), len(icmp), False, 0)
    return out.result()


def detect_linktype(data: bytes) -> int | None:
    """Is ``data`` an Ethernet frame or an IPv4 packet? ``LINKTYPE_ETHERNET``, ``LINKTYPE_RAW`` or None.

    An IPv4 packet starts with version 4 and a header length of 5 words or more; an Ethernet
    frame has an EtherType we know at bytes 12-13. When both could be true the one whose IPv4
    header checksum is right wins, IPv4 on a tie.
    """
    ip_like = len(data) >= ipv4.HEADER_LEN and data[0] >> 4 == ipv4.VERSION and data[0] & 0x0F >= 5
    eth_like = len(data) >= ethernet.HEADER_LEN and _U16.unpack_from(data, 12)[0] in _ETHERTYPE_NAMES
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


def parse_hex(text: str) -> bytes:
    """Bytes from hex digits, with or without spaces, newlines or colons between them.

    Raises ValueError naming the first character that is not a hex digit, or an odd count.
    """
    digits: list[str] = []
    for index, char in enumerate(text):
        if char in " \t\r\n:":
            continue
        if char not in "0123456789abcdefABCDEF":
            raise ValueError(f"{char!r} at character {index + 1} is not a hex digit")
        digits.append(char)
    if len(digits) % 2:
        raise ValueError(f"{len(digits)} hex digits: an odd number cannot be whole bytes")
    return bytes.fromhex("".join(digits))


def hexdump(data: bytes | memoryview) -> list[str]:
    """``tcpdump -X``: offset, 8 groups of 4 hex digits, then the printable ASCII (others as '.')."""
    lines: list[str] = []
    view = bytes(data)
    for offset in range(0, len(view), HEXDUMP_BYTES_PER_LINE):
        chunk = view[offset : offset + HEXDUMP_BYTES_PER_LINE]
        groups = "".join(f" {chunk[i : i + 2].hex()}" for i in range(0, len(chunk), 2))
        ascii_text = "".join(chr(b) if 0x21 <= b <= 0x7E else "." for b in chunk)
        lines.append(f"\t0x{offset:04x}: {groups:<{_HEXDUMP_HEX_WIDTH}}  {ascii_text}")
    return lines


# --- link layer ----------------------------------------------------------------------------------


def _ethernet(out: _Out, data: memoryview, length: int) -> None:
    if len(data) < ethernet.HEADER_LEN:
        out.stop(len(data), f"an Ethernet header is {ethernet.HEADER_LEN} bytes, only {len(data)} given")
        return
    frame = ethernet.EthernetFrame.parse(data)
    out.write(f"{ethernet.mac_str(frame.source)} > {ethernet.mac_str(frame.destination)}, ")
    ethertype = frame.ethertype
    payload = data[ethernet.HEADER_LEN :]
    offset = ethernet.HEADER_LEN
    if ethertype <= _MAX_802_3_LENGTH:
        out.write(f"802.3, length {ethertype}: (LLC, not decoded by layerping)")
        return
    out.write(f"ethertype {_ethertype_name(ethertype)} (0x{ethertype:04x}), length {length}: ")
    if ethertype == ethernet.EtherType.VLAN:
        if len(payload) < _VLAN_TAG.size:
            out.stop(offset + len(payload), "802.1Q tag cut short")
            return
        tci, ethertype = _VLAN_TAG.unpack_from(payload)
        dei = ", DEI" if tci & _VLAN_DEI else ""
        out.write(f"vlan {tci & _VLAN_ID_MASK}, p {tci >> _VLAN_PCP_SHIFT}{dei}, ")
        out.write(f"ethertype {_ethertype_name(ethertype)} (0x{ethertype:04x}), ")
        payload = payload[_VLAN_TAG.size :]
        offset += _VLAN_TAG.size
    if ethertype == ethernet.EtherType.IPV4:
        _ipv4(out, payload, offset, quoted=False)
    elif ethertype == ethernet.EtherType.ARP:
        _arp(out, payload, offset)
    else:
        out.write(f"({_ethertype_name(ethertype)}, not decoded by layerping)")


def _ethertype_name(ethertype: int) -> str:
    return _ETHERTYPE_NAMES.get(ethertype, "Unknown")


def _arp(out: _Out, data: memoryview, offset: int) -> None:
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
    packet = arp.ArpPacket.parse(data)
    sha, spa = ethernet.mac_str(packet.sender_mac), packet.sender_ip
    tha, tpa = ethernet.mac_str(packet.target_mac), packet.target_ip
    if operation == arp.ArpOperation.REQUEST:
        known = f" ({tha})" if any(packet.target_mac) else ""
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


def _ipv4(out: _Out, data: memoryview, offset: int, *, quoted: bool) -> None:
    """tcpdump ``ip_print``: the header in parentheses, then ``src > dst: `` and the payload."""
    got = len(data)
    if got < ipv4.HEADER_LEN:
        out.write("[|ip]")
        out.stop(offset + got, f"an IPv4 header is at least {ipv4.HEADER_LEN} bytes, only {got} given")
        return
    version, ihl = data[0] >> 4, data[0] & 0x0F
    if version != ipv4.VERSION:
        out.write(f"IP{version}")
        out.stop(offset, f"IP version {version}, not 4")
        return
    header_length = ihl * 4
    if header_length < ipv4.HEADER_LEN:
        out.write(f"bad-hlen {header_length}")
        out.stop(offset, f"IPv4 header length {header_length} is less than 20")
        return
    if got < header_length:
        out.write("[|ip]")
        out.stop(offset + got, f"the IPv4 header says {header_length} bytes, only {got} given")
        return
    header = ipv4.Ipv4Header.parse(data)
    total_length = header.total_length
    assert total_length is not None  # parse stores it
    if total_length < header_length:
        out.write(f"bad-len {total_length}")
        out.stop(offset + 2, f"IPv4 total length {total_length} is less than the {header_length}-byte header")
        return
    missing = total_length - got
    if missing > 0 and not quoted:
        out.write(f"truncated-ip - {missing} bytes missing! ")
    out.write(f"(tos 0x{header.tos:x}{_ECN.get(header.tos & 0x3, '')}")
    if header.ttl >= 1:
        out.write(f", ttl {header.ttl}")
    flags = ", ".join(name for bit, name in _IP_FLAG_NAMES if header.flags & bit) or "none"
    protocol_name = _IP_PROTOCOLS.get(header.protocol, "unknown")
    out.write(
        f", id {header.identification}, offset {header.fragment_offset * 8}, flags [{flags}], "
        f"proto {protocol_name} ({header.protocol}), length {total_length}"
    )
    if header.options:
        out.write(f", options ({_ip_options(header.options)})")
    header_ok = _checksum_ok(data[:header_length])
    out.checksum(header_ok)
    if not header_ok:
        received = header.checksum
        assert received is not None
        out.write(f", bad cksum {received:x} (->{should_be(received, data[:header_length]):x})!")
    out.write(")\n    ")
    payload = data[header_length : min(total_length, got)]
    payload_length = total_length - header_length
    if header.fragment_offset:
        # Not the first fragment: no upper-layer header here to decode (tcpdump prints the same).
        out.write(f"{header.source} > {header.destination}: ip-proto-{header.protocol}")
    else:
        out.write(f"{header.source} > {header.destination}: ")
        if header.protocol == ipv4.IPPROTO_ICMP:
            _icmp(out, payload, payload_length, header.more_fragments, offset + header_length)
        else:
            out.write(f" ip-proto-{header.protocol} {payload_length} (not decoded by layerping)")
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


def _icmp(out: _Out, data: memoryview, length: int, fragmented: bool, offset: int) -> None:
    """tcpdump ``icmp_print``: what the message says, its length, a wrong checksum, the quote."""
    got = len(data)
    if got < icmpv4.HEADER_LEN:
        out.write(" [|icmp]")
        out.stop(offset + got, f"an ICMP header is {icmpv4.HEADER_LEN} bytes, only {got} given")
        return
    icmp_type, code = data[0], data[1]
    text = _icmp_text(icmp_type, code, data)
    if text is None:
        out.write(" [|icmp]")
        out.stop(offset + got, f"ICMP type {icmp_type} quotes a datagram, and too little of it is here")
        return
    out.write(f"ICMP {text}, length {length}")
    if not fragmented and got >= length:
        whole = data[:length]
        ok = _checksum_ok(whole)
        out.checksum(ok)
        if not ok:
            (received,) = _U16.unpack_from(data, icmpv4.CHECKSUM_OFFSET)
            out.write(f" (wrong icmp cksum {received:x} (->{should_be(received, whole):x})!)")
    if icmp_type in _ICMP_ERRORS:
        out.write("\n\t")
        _ipv4(out, data[icmpv4.QUOTE_OFFSET :], offset + icmpv4.QUOTE_OFFSET, quoted=True)


def _icmp_text(icmp_type: int, code: int, data: memoryview) -> str | None:
    """The words tcpdump prints after ``ICMP``; None when a quoted header is needed and absent."""
    if icmp_type in (icmpv4.IcmpType.ECHO_REPLY, icmpv4.IcmpType.ECHO_REQUEST):
        _, _, _, identifier, sequence = _ICMP_ECHO.unpack_from(data)
        word = "reply" if icmp_type == icmpv4.IcmpType.ECHO_REPLY else "request"
        return f"echo {word}, id {identifier}, seq {sequence}"
    if icmp_type in (icmpv4.IcmpType.TIMESTAMP, icmpv4.IcmpType.TIMESTAMP_REPLY):
        _, _, _, identifier, sequence = _ICMP_ECHO.unpack_from(data)
        word = "query" if icmp_type == icmpv4.IcmpType.TIMESTAMP else "reply"
        return f"time stamp {word} id {identifier} seq {sequence}"
    if icmp_type == icmpv4.IcmpType.TIME_EXCEEDED:
        return _TIME_EXCEEDED.get(code, f"time exceeded-#{code}")
    if icmp_type == icmpv4.IcmpType.PARAMETER_PROBLEM:
        return f"parameter problem - code {code}" if code else f"parameter problem - octet {data[4]}"
    if icmp_type in (icmpv4.IcmpType.DEST_UNREACHABLE, icmpv4.IcmpType.REDIRECT):
        quote = data[icmpv4.QUOTE_OFFSET :]
        if len(quote) < ipv4.HEADER_LEN:
            return None
        destination = IPv4Address(bytes(quote[16:20]))
        if icmp_type == icmpv4.IcmpType.REDIRECT:
            gateway = IPv4Address(bytes(data[4:8]))
            template = _REDIRECT.get(code, f"redirect-#{code} {{dst}} to {{gw}}")
            return template.format(dst=destination, gw=gateway)
        return _unreachable_text(code, destination, data, quote)
    simple = _SIMPLE_ICMP.get(icmp_type)
    if simple is not None:
        return simple
    if icmp_type == 18 and len(data) >= 12:
        return f"address mask is 0x{int.from_bytes(data[8:12], 'big'):08x}"
    return f"type-#{icmp_type}"


def _unreachable_text(code: int, destination: IPv4Address, data: memoryview, quote: memoryview) -> str | None:
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
