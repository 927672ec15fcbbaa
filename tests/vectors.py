"""Golden bytes for the wire tests, grouped by field.

Provenance. The echo vectors (ECHO_REQ, ECHO_REPLY, IPV4_ECHO_HDR, IPV4_ECHO_DOC_HDR and the
0xf616 checksum) come from a real capture and were verified for the design notes
(docs: /work/shared/design/model-codebases.md); scapy 2.8.0 rebuilt them byte for byte here.
Everything else was built with scapy 2.8.0 (``raw(IP()/ICMP()/...)``, ``raw(Ether()/ARP()/...)``)
and then frozen. Oracle check, done once and repeated by
tests/unit/test_pcap.py::test_tshark_decodes_our_pcap when tshark is installed: every
packet below was written with layerping's own PcapWriter and decoded by TShark 4.0.17,
which found the fields given in the comments and reported every IPv4 and ICMP checksum
good (checksum status 1), the bad one excepted. No vector was ever sent on a network.

Addresses: 192.0.2.0/24 is TEST-NET-1 (RFC 5737); 1.1.1.1 and 192.168.50.0/24 are the
capture's; 00:00:5e:00:53:01 is the documentation MAC (RFC 7042 §2.1.2).
"""

from __future__ import annotations

from ipaddress import IPv4Address


def h(text: str) -> bytes:
    """Hex with spaces between fields."""
    return bytes.fromhex(text)


# --- ICMP echo (RFC 792) -------------------------------------------------------------------------
ECHO_REQ = h(  # id 69, seq 420: a real capture, checked with tcpdump
    # type code csum ident seq  payload
    " 08   00   f210 0045  01a4 01020304"
)
ECHO_REPLY = h(  # the reply to it (scapy 2.8.0)
    # type code csum ident seq  payload
    " 00   00   fa10 0045  01a4 01020304"
)
ECHO_ID = 69
ECHO_SEQ = 420
ECHO_PAYLOAD = h("01020304")
ECHO_REQ_CSUM = 0xF210
# The classic bug: checksum computed over the 8-byte header only, payload left out.
ECHO_REQ_CSUM_OVER_HEADER_ONLY = 0xF616
ECHO_REQ_BAD_CSUM = h(
    # type code csum ident seq  payload
    " 08   00   f616 0045  01a4 01020304"
)

# --- IPv4 headers (RFC 791 §3.1) -----------------------------------------------------------------
SRC = IPv4Address("192.168.50.161")
DST = IPv4Address("1.1.1.1")
IPV4_ECHO_HDR = h(
    # ver/ihl tos len  id   flags/frag ttl proto csum src      dst
    " 45      00  0020 0000 0000       40  01    8592 c0a832a1 01010101"
)
IPV4_ECHO = IPV4_ECHO_HDR + ECHO_REQ  # tshark: 192.168.50.161 -> 1.1.1.1 ICMP Echo request
# The same echo from 192.0.2.1 to 192.0.2.2; built by hand and by scapy, bytes match.
IPV4_ECHO_DOC_HDR = h(
    # ver/ihl tos len  id   flags/frag ttl proto csum src      dst
    " 45      00  0020 0000 0000       40  01    f6d9 c0000201 c0000202"
)
IPV4_ECHO_DOC = IPV4_ECHO_DOC_HDR + ECHO_REQ
# DF set, identification 0xbeef (what Linux sends with PMTU discovery on).
IPV4_ECHO_DF_HDR = h(
    # ver/ihl tos len  id   flags/frag ttl proto csum src      dst
    " 45      00  0020 beef 4000       40  01    86a2 c0a832a1 01010101"
)
IPV4_ECHO_DF = IPV4_ECHO_DF_HDR + ECHO_REQ
# As the router that dropped it saw it: TTL 1.
IPV4_ECHO_TTL1_HDR = h(
    # ver/ihl tos len  id   flags/frag ttl proto csum src      dst
    " 45      00  0020 0000 0000       01  01    c492 c0a832a1 01010101"
)
IPV4_ECHO_TTL1 = IPV4_ECHO_TTL1_HDR + ECHO_REQ
# IHL 8: Record Route (RFC 791 §3.1: type 7, length 11, pointer 4, two empty slots) + EOL pad.
IPV4_RR_HDR = h(
    # ver/ihl tos len  id   flags/frag ttl proto csum src      dst
    " 48      00  002c 0000 0000       40  01    777b c0a832a1 01010101"
)
IPV4_RR_OPTIONS = h(
    # type len ptr slot 1   slot 2   EOL
    " 07   0b  04  00000000 00000000 00"
)
IPV4_RR = IPV4_RR_HDR + IPV4_RR_OPTIONS + ECHO_REQ  # tshark: Record Route (11 bytes), EOL

# --- ICMP errors quoting the echo (RFC 792) ------------------------------------------------------
# Each quotes the IPv4 header plus the first 8 bytes of the echo, except TIME_EXCEEDED which
# quotes the whole 32-byte datagram (Linux quotes up to 576 bytes).
QUOTE_28 = IPV4_ECHO[:28]
UNREACH_NET = (  # tshark: Destination unreachable (Network unreachable)
    #  type code csum unused
    h("03   00   0106 00000000") + QUOTE_28
)
UNREACH_HOST = (  # tshark: Destination unreachable (Host unreachable)
    #  type code csum unused
    h("03   01   0105 00000000") + QUOTE_28
)
UNREACH_FRAG = (  # tshark: Destination unreachable (Fragmentation needed), MTU of next hop 1400
    #  type code csum unused mtu          quoting the DF echo
    h("03   04   fb89 0000   0578") + IPV4_ECHO_DF[:28]
)
UNREACH_FRAG_MTU = 1400
TIME_EXCEEDED = (  # tshark: Time-to-live exceeded (Time to live exceeded in transit)
    #  type code csum unused
    h("0b   00   f4ff 00000000") + IPV4_ECHO_TTL1
)
REDIRECT = (  # tshark: Redirect (Redirect for host), gateway 192.168.50.254
    #  type code csum gateway
    h("05   01   0b5e c0a832fe") + QUOTE_28
)
REDIRECT_GATEWAY = IPv4Address("192.168.50.254")
PARAM_PROBLEM = (  # tshark: Parameter problem (Pointer indicates the error), pointer 1
    #  type code csum ptr unused
    h("0c   00   f705 01  000000") + QUOTE_28
)
SOURCE_QUENCH = (  # tshark: Source quench (flow control), checksum 0x0006 [correct]
    #  type code csum unused
    h("04   00   0006 00000000") + QUOTE_28
)
# The host unreachable in the router's IPv4 header (tos 0xc0 = precedence 6, as Linux sends).
ROUTER = IPv4Address("192.168.50.1")
IPV4_UNREACH_HOST = (
    #  ver/ihl tos len  id   flags/frag ttl proto csum src      dst
    h("45      c0  0038 1234 0000       40  01    81de c0a83201 c0a832a1") + UNREACH_HOST
)

# --- Ethernet and ARP (RFC 826), padded to the 60-byte minimum frame -----------------------------
OUR_MAC = h("528dd030ba14")
GW_MAC = h("00005e005301")
ETH_ECHO = (  # tshark: Ethernet II / IPv4 / ICMP Echo request
    #  dst          src          type
    h("00005e005301 528dd030ba14 0800") + IPV4_ECHO
)
ARP_REQ = h(
    # hrd  pro  hln pln op   sha          spa      tha          tpa
    " 0001 0800 06  04  0001 528dd030ba14 c0a832a1 000000000000 c0a83201"
)
ARP_REP = h(
    # hrd  pro  hln pln op   sha          spa      tha          tpa
    " 0001 0800 06  04  0002 00005e005301 c0a83201 528dd030ba14 c0a832a1"
)
ETH_PAD = bytes(18)
ETH_ARP_REQ = (  # tshark: Who has 192.168.50.1? Tell 192.168.50.161
    #  dst          src          type
    h("ffffffffffff 528dd030ba14 0806") + ARP_REQ + ETH_PAD
)
ETH_ARP_REP = (  # tshark: 192.168.50.1 is at 00:00:5e:00:53:01
    #  dst          src          type
    h("528dd030ba14 00005e005301 0806") + ARP_REP + ETH_PAD
)
