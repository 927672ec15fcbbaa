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

from ipaddress import IPv4Address, IPv6Address


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


# === IPv6 (RFC 8200), ICMPv6 (RFC 4443) and Neighbour Discovery (RFC 4861) ========================
#
# Provenance. Unless marked "by hand", every IPv6 vector below is a real frame, captured with
# tcpdump 4.99.3 on the veth of namespace A during iputils 20221126 ``ping -6`` runs, in three
# namespaces made for it (A 2001:db8:1::2; router B 2001:db8:1::1 and 2001:db8:2::1; C
# 2001:db8:2::2 behind a 1280-byte-MTU link; static addresses with nodad; no packet left them).
# The frames are also in tests/fixtures/ipv6/ (icmpv6_ndisc_echo.pcap, icmpv6_errors.pcap,
# ipv6_extensions.pcap; a subdirectory until the decoder's tcpdump/tshark oracle tests, which
# take every tests/fixtures/*.pcap, read IPv6); tests/unit/test_icmpv6.py checks they match.
# Oracle check, done once: TShark 4.0.17 (``tshark -r f.pcap -V`` and the fields icmpv6.checksum,
# icmpv6.checksum.status) decoded the fields given in the comments and reported every outer
# ICMPv6 checksum good (status 1), the bad one excepted; ``tcpdump -n -v`` said
# ``[icmp6 sum ok]`` for all but that one. The "by hand" vectors were built with layerping's
# own code, written to a pcap and checked the same way.
# MACs: 02:00:00:00:00:0a (A) and 02:00:00:00:00:0b (B) are locally administered, set for the lab.

SRC6 = IPv6Address("2001:db8:1::2")  # A
DST6 = IPv6Address("2001:db8:1::1")  # B, the router
FAR6 = IPv6Address("2001:db8:2::2")  # C, behind B
MAC_A = h("02000000000a")
MAC_B = h("02000000000b")

# --- echo (RFC 4443 §4) --------------------------------------------------------------------------
# By hand (reference section A.3: the same bytes came from scapy and were answered by a Linux
# host). tshark: ipv6.plen=25 nxt=58 hlim=64, Echo (ping) request id=0x1234, seq=1,
# checksum 0xbf19 [correct]. The 17-byte payload has an odd length: the sum pads it.
VEC6_SRC = IPv6Address("2001:db8:1::2")
VEC6_DST = IPv6Address("2001:db8:3::2")
IPV6_VEC_HDR = h(
    # ver/tc/flow len  nxt hlim src                              dst
    " 60000000    0019 3a  40   20010db8000100000000000000000002 20010db8000300000000000000000002"
)
ECHO6_VEC_PAYLOAD = b"layerping-v6-vec!"
ECHO6_VEC = h(
    # type code csum ident seq  payload
    " 80   00   bf19 1234  0001 6c6179657270696e672d76362d76656321"
)
ECHO6_VEC_CSUM = 0xBF19
IPV6_ECHO_VEC = IPV6_VEC_HDR + ECHO6_VEC
# The IPv6 form of the classic bug: the checksum summed over the ICMPv6 message alone, without
# the pseudo-header. tshark -V: "Checksum: 0x1ae7 incorrect, should be 0xbf19", status 0 (Bad);
# tcpdump -v: "[bad icmp6 cksum 0x1ae7 -> 0xbf19!]".
ECHO6_VEC_CSUM_WITHOUT_PSEUDO_HEADER = 0x1AE7
ECHO6_VEC_BAD_CSUM = h(
    # type code csum ident seq  payload
    " 80   00   1ae7 1234  0001 6c6179657270696e672d76362d76656321"
)
IPV6_ECHO_VEC_BAD_CSUM = IPV6_VEC_HDR + ECHO6_VEC_BAD_CSUM

# Captured: ping -6 -c1 -s 17 2001:db8:1::1 (iputils: a 16-byte timeval, then data byte i = i & 0xff).
# tshark: Echo (ping) request id=0x3245, seq=1, hop limit=64, checksum 0x3bb1, status 1.
IPV6_ECHO_REQ_HDR = h(
    # ver/tc/flow len  nxt hlim src                              dst
    " 6002d8c6    0019 3a  40   20010db8000100000000000000000002 20010db8000100000000000000000001"
)
ECHO6_REQ = h(
    # type code csum ident seq  timeval                          data
    " 80   00   3bb1 3245  0001 2887176b00000000034b050000000000 6e"
)
ECHO6_ID = 0x3245
ECHO6_PAYLOAD = ECHO6_REQ[8:]
IPV6_ECHO_REQ = IPV6_ECHO_REQ_HDR + ECHO6_REQ
# tshark: Echo (ping) reply id=0x3245, seq=1, hop limit=64 (request in 3), checksum 0x3ab1, status 1.
IPV6_ECHO_REPLY_HDR = h(
    # ver/tc/flow len  nxt hlim src                              dst
    " 600ff0b5    0019 3a  40   20010db8000100000000000000000001 20010db8000100000000000000000002"
)
ECHO6_REPLY = h(
    # type code csum ident seq  timeval                          data
    " 81   00   3ab1 3245  0001 2887176b00000000034b050000000000 6e"
)
IPV6_ECHO_REPLY = IPV6_ECHO_REPLY_HDR + ECHO6_REPLY
ETH_ECHO6_REQ = (  # tshark: Ethernet II, 02:00:00:00:00:0a -> 02:00:00:00:00:0b, IPv6 (0x86dd)
    #  dst          src          type
    h("02000000000b 02000000000a 86dd") + IPV6_ECHO_REQ
)

# --- Neighbour Discovery (RFC 4861 §4.3, §4.4), sent by the kernels for the ping above -----------
# tshark: Neighbor Solicitation for 2001:db8:1::1 from 02:00:00:00:00:0a, checksum 0x1c1d, status 1.
SOLICITED_NODE6 = IPv6Address("ff02::1:ff00:1")
IPV6_NS_HDR = h(
    # ver/tc/flow len  nxt hlim src                              dst
    " 60000000    0020 3a  ff   20010db8000100000000000000000002 ff0200000000000000000001ff000001"
)
NS = h(
    # type code csum reserved target                           SLLA opt: type len mac
    " 87   00   1c1d 00000000 20010db8000100000000000000000001            01   01  02000000000a"
)
ETH_NS = (  # tcpdump -e: 02:00:00:00:00:0a > 33:33:ff:00:00:01 (RFC 2464 §7)
    #  dst          src          type
    h("3333ff000001 02000000000a 86dd") + IPV6_NS_HDR + NS
)
# tshark: Neighbor Advertisement 2001:db8:1::1 (rtr, sol, ovr) is at 02:00:00:00:00:0b,
# checksum 0x0a66, status 1.
IPV6_NA_HDR = h(
    # ver/tc/flow len  nxt hlim src                              dst
    " 60000000    0020 3a  ff   20010db8000100000000000000000001 20010db8000100000000000000000002"
)
NA = h(
    # type code csum flags/reserved target                          TLLA opt: type len mac
    " 88   00   0a66 e0000000       20010db8000100000000000000000001           02   01  02000000000b"
)
ETH_NA = (
    #  dst          src          type
    h("02000000000a 02000000000b 86dd") + IPV6_NA_HDR + NA
)

# --- ICMPv6 errors from router B (RFC 4443 §3), each quoting the whole 104-byte probe -------------
# The probes: ping -6 -c1 (56 data bytes) to an unrouted prefix, with -t 1, and to a silent host.
PROBE_DATA = bytes(i & 0xFF for i in range(16, 56))  # iputils' fill after the 16-byte timeval
PROBE_NO_ROUTE = (  # as sent: hop limit 64, to 2001:db8:ff::1
    #  ver/tc/flow len  nxt hlim src                              dst
    h("6000f129    0040 3a  40   20010db8000100000000000000000002 20010db800ff00000000000000000001")
    # type code csum ident seq  timeval
    + h("80 00   5b71 324d  0001 2887176b000000008f8b070000000000")
    + PROBE_DATA
)
PROBE_HOP_LIMIT_1 = (  # as sent: hop limit 1, to 2001:db8:2::2
    #  ver/tc/flow len  nxt hlim src                              dst
    h("600fcc42    0040 3a  01   20010db8000100000000000000000002 20010db8000200000000000000000002")
    # type code csum ident seq  timeval
    + h("80 00   3723 3254  0001 2887176b00000000b2ce090000000000")
    + PROBE_DATA
)
PROBE_SILENT_HOST = (  # as B quotes it: hop limit 63 after B's forwarding, to 2001:db8:2::99
    #  ver/tc/flow len  nxt hlim src                              dst
    h("60004e51    0040 3a  3f   20010db8000100000000000000000002 20010db8000200000000000000000099")
    # type code csum ident seq  timeval
    + h("80 00   e321 3266  0001 2887176b0000000001270e0000000000")
    + PROBE_DATA
)
# All three in IPv6 from 2001:db8:1::1 (B) to 2001:db8:1::2 (A), payload length 112.
# tshark: Destination Unreachable (no route to destination), checksum 0x17ae, status 1.
UNREACH6_NO_ROUTE = (
    #  type code csum unused
    h("01   00   17ae 00000000") + PROBE_NO_ROUTE
)
# tshark: Time Exceeded (hop limit exceeded in transit), checksum 0x3ac5, status 1.
TIME_EXCEEDED6 = (
    #  type code csum unused
    h("03   00   3ac5 00000000") + PROBE_HOP_LIMIT_1
)
# tshark: Destination Unreachable (Address unreachable), checksum 0xba84, status 1 (after B's 3 s of NS).
UNREACH6_ADDRESS = (
    #  type code csum unused
    h("01   03   ba84 00000000") + PROBE_SILENT_HOST
)
IPV6_ERROR_HDR_NO_ROUTE = h(
    # ver/tc/flow len  nxt hlim src                              dst
    " 6004f310    0070 3a  40   20010db8000100000000000000000001 20010db8000100000000000000000002"
)
IPV6_UNREACH6_NO_ROUTE = IPV6_ERROR_HDR_NO_ROUTE + UNREACH6_NO_ROUTE
# ping -6 -c1 -s 1400 -M do 2001:db8:2::2: B's next link has MTU 1280. The quote is cut at
# 1232 bytes so that the message fits in 1280 (RFC 4443 §2.4 (c)).
# tshark: Packet Too Big, MTU 1280, checksum 0x0b63, status 1; IPv6 payload length 1240.
PROBE_1400 = (
    #  ver/tc/flow len  nxt hlim src                              dst
    h("600fcc42    0580 3a  40   20010db8000100000000000000000002 20010db8000200000000000000000002")
    # type code csum ident seq  timeval
    + h("80 00   8e3b 325d  0001 2887176b00000000a7230c0000000000")
    + bytes(i & 0xFF for i in range(16, 1400))
)
PACKET_TOO_BIG = (
    #  type code csum mtu
    h("02   00   0b63 00000500") + PROBE_1400[:1232]
)
PACKET_TOO_BIG_MTU = 1280

# By hand: Parameter Problem, unrecognized Next Header (code 1), pointer 6 (the Next Header field
# of the quoted IPv6 header, RFC 4443 §3.4), quoting a packet with next header 253 (RFC 3692
# experimental) and 8 bytes of it. From B to A.
# tshark: Parameter Problem (unrecognized Next Header type encountered), pointer 6, checksum 0xd738, status 1.
PARAM_PROBLEM6_QUOTE = h(
    # ver/tc/flow len  nxt hlim src                              dst
    " 60000000    0008 fd  40   20010db8000100000000000000000002 20010db8000200000000000000000002"
    # 8 bytes of the unknown header
    " 0102030405060708"
)
PARAM_PROBLEM6 = (
    #  type code csum pointer
    h("04   01   d738 00000006") + PARAM_PROBLEM6_QUOTE
)

# --- extension headers (RFC 8200 §4) ----------------------------------------------------------
# A's MLDv2 report when its link came up: Hop-by-Hop Options with Router Alert (RFC 2711) and
# PadN, then ICMPv6. tcpdump: "HBH (rtalert: 0x0000) (padn) [icmp6 sum ok] ICMP6, multicast
# listener report v2, 2 group record(s)"; tshark: MLDv2 report, checksum 0x6fd9, status 1.
IPV6_HBH_MLD = h(
    # ver/tc/flow len  nxt hlim src                              dst
    " 60000000    0038 00  01   fe80000000000000000000fffe00000a ff020000000000000000000000000016"
    # HBH: nxt len  router alert  PadN
    "      3a  00   05 02 0000    01 00"
    # MLDv2 report: type code csum rsvd nrec
    "               8f   00   6fd9 0000 0002"
    # record 1: to_ex, no aux data, no sources, ff02::1:ff00:a
    " 04 00 0000 ff0200000000000000000001ff00000a"
    # record 2: to_ex ff02::1:ff00:2
    " 04 00 0000 ff0200000000000000000001ff000002"
)
MLD_SRC = IPv6Address("fe80::ff:fe00:a")
MLD_DST = IPv6Address("ff02::16")
# After the Packet Too Big, A fragments the next 1400-byte probe (RFC 8200 §4.5), id 0x825df257.
# tshark: "IPv6 fragment (off=0 more=y ident=0x825df257 nxt=58)", then the second fragment
# (offset 154 units = 1232 bytes) reassembled to Echo (ping) request id=0x327c, seq=1,
# checksum 0xfef6, status 1.
IPV6_FRAG_HDR = h(
    # ver/tc/flow len  nxt hlim src                              dst
    " 600fcc42    04d8 2c  40   20010db8000100000000000000000002 20010db8000200000000000000000002"
)
FRAGMENT_FIRST = h(
    # nxt rsvd offset/M  identification
    " 3a  00   0001      825df257"
)
IPV6_FRAG_FIRST = (
    IPV6_FRAG_HDR
    + FRAGMENT_FIRST
    # type code csum ident seq  timeval
    + h("80 00   fef6 327c  0001 2c87176b000000003c49020000000000")
    + bytes(i & 0xFF for i in range(16, 1224))
)
IPV6_FRAG_SECOND = (
    #  ver/tc/flow len  nxt hlim src                              dst
    h("600fcc42    00b8 2c  40   20010db8000100000000000000000002 20010db8000200000000000000000002")
    # nxt rsvd offset/M identification
    + h("3a  00   04d0     825df257")
    + bytes(i & 0xFF for i in range(1224, 1400))
)
FRAGMENT_ID = 0x825DF257
