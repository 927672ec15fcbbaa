"""Netlink and rtnetlink messages: pure bytes in, bytes out (netlink(7), rtnetlink(7)).

Netlink headers are in the host's byte order (``=`` in :mod:`struct`), except where an
attribute carries a network address (RTA_DST, IFA_LOCAL, NDA_DST: network order, as on the
wire). Every message and every attribute starts on a 4-byte boundary (NLMSG_ALIGN, RTA_ALIGN).

A datagram from the kernel is a run of messages (:func:`parse_messages`); each message is a
``struct nlmsghdr`` and a body that :func:`decode_body` turns into :class:`RtMsg`,
:class:`NdMsg`, :class:`IfInfoMsg`, :class:`IfAddrMsg`, :class:`NlMsgErr` or :class:`NlMsgDone`
according to ``nlmsg_type``. Bodies are a fixed struct followed by rtattr TLVs (:class:`RtAttr`).

Parsers check lengths before they unpack and raise only :class:`~layerping.errors.WireError`
subclasses. ``build(parse(b)) == b`` holds for everything the kernel sends (its padding is zero).
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address
from typing import Final

from layerping._value import Value
from layerping.errors import Malformed, Truncated

# --- alignment (include/uapi/linux/netlink.h NLMSG_ALIGN, include/uapi/linux/rtnetlink.h RTA_ALIGN)
NLMSG_ALIGNTO: Final = 4
RTA_ALIGNTO: Final = 4


def align4(length: int) -> int:
    """Round ``length`` up to the 4-byte boundary netlink messages and attributes start on."""
    return (length + 3) & ~3


# --- headers: one struct per kernel struct ---------------------------------------------------
# include/uapi/linux/netlink.h: struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }
NLMSGHDR: Final = struct.Struct("=IHHII")
NLMSGHDR_LEN: Final = NLMSGHDR.size  # 16
# include/uapi/linux/netlink.h: struct nlmsgerr { int error; struct nlmsghdr msg; }
NLMSGERR_ERROR: Final = struct.Struct("=i")
NLMSGERR_LEN: Final = NLMSGERR_ERROR.size + NLMSGHDR_LEN  # 20
# include/uapi/linux/rtnetlink.h: struct rtattr { unsigned short rta_len; unsigned short rta_type; }
RTATTR: Final = struct.Struct("=HH")
RTATTR_LEN: Final = RTATTR.size  # 4
# include/uapi/linux/rtnetlink.h: struct rtmsg { family, dst_len, src_len, tos, table, protocol,
# scope, type: u8; unsigned flags; }
RTMSG: Final = struct.Struct("=BBBBBBBBI")
RTMSG_LEN: Final = RTMSG.size  # 12
# include/uapi/linux/neighbour.h: struct ndmsg { u8 family, pad1; u16 pad2; s32 ifindex;
# u16 state; u8 flags; u8 type; }
NDMSG: Final = struct.Struct("=BxxxiHBB")
NDMSG_LEN: Final = NDMSG.size  # 12
# include/uapi/linux/rtnetlink.h: struct ifinfomsg { u8 family, pad; u16 type; int index;
# unsigned flags, change; }
IFINFOMSG: Final = struct.Struct("=BxHiII")
IFINFOMSG_LEN: Final = IFINFOMSG.size  # 16
# include/uapi/linux/if_addr.h: struct ifaddrmsg { u8 family, prefixlen, flags, scope; u32 index; }
IFADDRMSG: Final = struct.Struct("=BBBBI")
IFADDRMSG_LEN: Final = IFADDRMSG.size  # 8

_U8: Final = struct.Struct("=B")
_U16: Final = struct.Struct("=H")
_U32: Final = struct.Struct("=I")
_I32: Final = struct.Struct("=i")

# --- include/uapi/linux/netlink.h -------------------------------------------------------------
NETLINK_ROUTE: Final = 0
# nlmsg_type values below 0x10 are control messages
NLMSG_NOOP: Final = 0x1
NLMSG_ERROR: Final = 0x2
NLMSG_DONE: Final = 0x3
NLMSG_OVERRUN: Final = 0x4
NLMSG_MIN_TYPE: Final = 0x10
# nlmsg_flags, standard
NLM_F_REQUEST: Final = 0x01
NLM_F_MULTI: Final = 0x02
NLM_F_ACK: Final = 0x04
NLM_F_ECHO: Final = 0x08
NLM_F_DUMP_INTR: Final = 0x10
NLM_F_DUMP_FILTERED: Final = 0x20
# nlmsg_flags, modifiers to GET requests
NLM_F_ROOT: Final = 0x100
NLM_F_MATCH: Final = 0x200
NLM_F_ATOMIC: Final = 0x400
NLM_F_DUMP: Final = NLM_F_ROOT | NLM_F_MATCH
# nlmsg_flags of an NLMSG_ERROR acknowledgement
NLM_F_CAPPED: Final = 0x100  # the request's payload was left out
NLM_F_ACK_TLVS: Final = 0x200  # extended-ack TLVs follow
# enum nlmsgerr_attrs (extended ack TLVs after the quoted request)
NLMSGERR_ATTR_MSG: Final = 1  # NUL-terminated error string
NLMSGERR_ATTR_OFFS: Final = 2  # u32 offset of the offending attribute in the request
NLMSGERR_ATTR_COOKIE: Final = 3
# struct nlattr nla_type high bits (flags, not part of the type)
NLA_F_NESTED: Final = 1 << 15
NLA_F_NET_BYTEORDER: Final = 1 << 14
NLA_TYPE_MASK: Final = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xFFFF

# --- include/uapi/linux/rtnetlink.h: message types ---------------------------------------------
RTM_NEWLINK: Final = 16
RTM_DELLINK: Final = 17
RTM_GETLINK: Final = 18
RTM_SETLINK: Final = 19
RTM_NEWADDR: Final = 20
RTM_DELADDR: Final = 21
RTM_GETADDR: Final = 22
RTM_NEWROUTE: Final = 24
RTM_DELROUTE: Final = 25
RTM_GETROUTE: Final = 26
RTM_NEWNEIGH: Final = 28
RTM_DELNEIGH: Final = 29
RTM_GETNEIGH: Final = 30
RTM_NEWRULE: Final = 32  # policy routing rules: struct fib_rule_hdr, laid out as struct rtmsg
RTM_GETRULE: Final = 34

# --- include/uapi/linux/rtnetlink.h: enum rtattr_type_t (attributes of struct rtmsg) ------------
RTA_UNSPEC: Final = 0
RTA_DST: Final = 1
RTA_SRC: Final = 2
RTA_IIF: Final = 3
RTA_OIF: Final = 4
RTA_GATEWAY: Final = 5
RTA_PRIORITY: Final = 6
RTA_PREFSRC: Final = 7
RTA_METRICS: Final = 8
RTA_MULTIPATH: Final = 9
RTA_PROTOINFO: Final = 10
RTA_FLOW: Final = 11
RTA_CACHEINFO: Final = 12
RTA_TABLE: Final = 15
RTA_MARK: Final = 16
RTA_VIA: Final = 18
RTA_PREF: Final = 20
RTA_ENCAP_TYPE: Final = 21
RTA_ENCAP: Final = 22
RTA_EXPIRES: Final = 23
RTA_PAD: Final = 24
RTA_UID: Final = 25
RTA_TTL_PROPAGATE: Final = 26
RTA_IP_PROTO: Final = 27
RTA_SPORT: Final = 28
RTA_DPORT: Final = 29
RTA_NH_ID: Final = 30
# rtm_flags
RTM_F_NOTIFY: Final = 0x100
RTM_F_CLONED: Final = 0x200
RTM_F_LOOKUP_TABLE: Final = 0x1000  # RTM_GETROUTE: report the table the lookup used
RTM_F_FIB_MATCH: Final = 0x2000  # RTM_GETROUTE: return the matching FIB entry, not the result
# rtm_type: enum { RTN_UNSPEC, RTN_UNICAST, ... }
RTN_UNSPEC: Final = 0
RTN_UNICAST: Final = 1  # a gateway or direct route
RTN_LOCAL: Final = 2  # accept locally
RTN_BROADCAST: Final = 3  # accept locally as broadcast, send as broadcast
RTN_ANYCAST: Final = 4
RTN_MULTICAST: Final = 5
RTN_BLACKHOLE: Final = 6  # drop
RTN_UNREACHABLE: Final = 7  # destination is unreachable
RTN_PROHIBIT: Final = 8  # administratively prohibited
RTN_THROW: Final = 9  # not in this table
RTN_NAT: Final = 10
RTN_XRESOLVE: Final = 11
RTN_NAMES: Final[dict[int, str]] = {
    RTN_UNSPEC: "unspec", RTN_UNICAST: "unicast", RTN_LOCAL: "local", RTN_BROADCAST: "broadcast",
    RTN_ANYCAST: "anycast", RTN_MULTICAST: "multicast", RTN_BLACKHOLE: "blackhole",
    RTN_UNREACHABLE: "unreachable", RTN_PROHIBIT: "prohibit", RTN_THROW: "throw", RTN_NAT: "nat",
    RTN_XRESOLVE: "xresolve",
}  # fmt: skip
# rtm_scope: enum rt_scope_t
RT_SCOPE_UNIVERSE: Final = 0
RT_SCOPE_SITE: Final = 200
RT_SCOPE_LINK: Final = 253
RT_SCOPE_HOST: Final = 254
RT_SCOPE_NOWHERE: Final = 255
# rtm_table: enum rt_class_t
RT_TABLE_UNSPEC: Final = 0
RT_TABLE_DEFAULT: Final = 253
RT_TABLE_MAIN: Final = 254
RT_TABLE_LOCAL: Final = 255
# IFLA_EXT_MASK bits (RTEXT_FILTER_*)
RTEXT_FILTER_VF: Final = 1 << 0
RTEXT_FILTER_SKIP_STATS: Final = 1 << 3

# --- include/uapi/linux/if_link.h: IFLA_* (attributes of struct ifinfomsg) -----------------------
IFLA_UNSPEC: Final = 0
IFLA_ADDRESS: Final = 1  # hardware address (absent on ARPHRD_NONE tun devices)
IFLA_BROADCAST: Final = 2  # hardware broadcast address
IFLA_IFNAME: Final = 3  # NUL-terminated name
IFLA_MTU: Final = 4  # u32
IFLA_LINK: Final = 5
IFLA_QDISC: Final = 6
IFLA_STATS: Final = 7
IFLA_MASTER: Final = 10
IFLA_TXQLEN: Final = 13
IFLA_OPERSTATE: Final = 16  # u8, IF_OPER_*
IFLA_LINKMODE: Final = 17
IFLA_LINKINFO: Final = 18
IFLA_IFALIAS: Final = 20
IFLA_STATS64: Final = 23
IFLA_AF_SPEC: Final = 26
IFLA_GROUP: Final = 27
IFLA_EXT_MASK: Final = 29  # u32, RTEXT_FILTER_* in requests
IFLA_PROMISCUITY: Final = 30
IFLA_NUM_TX_QUEUES: Final = 31
IFLA_NUM_RX_QUEUES: Final = 32
IFLA_CARRIER: Final = 33  # u8
IFLA_MIN_MTU: Final = 50
IFLA_MAX_MTU: Final = 51
IFLA_ALT_IFNAME: Final = 53
IFLA_PERM_ADDRESS: Final = 54
# RFC 2863 operational status, IFLA_OPERSTATE (include/uapi/linux/if.h)
IF_OPER_UNKNOWN: Final = 0
IF_OPER_NOTPRESENT: Final = 1
IF_OPER_DOWN: Final = 2
IF_OPER_LOWERLAYERDOWN: Final = 3
IF_OPER_TESTING: Final = 4
IF_OPER_DORMANT: Final = 5
IF_OPER_UP: Final = 6
IF_OPER_NAMES: Final[dict[int, str]] = {
    IF_OPER_UNKNOWN: "UNKNOWN", IF_OPER_NOTPRESENT: "NOTPRESENT", IF_OPER_DOWN: "DOWN",
    IF_OPER_LOWERLAYERDOWN: "LOWERLAYERDOWN", IF_OPER_TESTING: "TESTING",
    IF_OPER_DORMANT: "DORMANT", IF_OPER_UP: "UP",
}  # fmt: skip

# --- include/uapi/linux/if.h: net_device_flags, ifi_flags ------------------------------------------
IFF_UP: Final = 0x1
IFF_BROADCAST: Final = 0x2
IFF_DEBUG: Final = 0x4
IFF_LOOPBACK: Final = 0x8
IFF_POINTOPOINT: Final = 0x10
IFF_NOTRAILERS: Final = 0x20
IFF_RUNNING: Final = 0x40
IFF_NOARP: Final = 0x80
IFF_PROMISC: Final = 0x100
IFF_ALLMULTI: Final = 0x200
IFF_MASTER: Final = 0x400
IFF_SLAVE: Final = 0x800
IFF_MULTICAST: Final = 0x1000
IFF_PORTSEL: Final = 0x2000
IFF_AUTOMEDIA: Final = 0x4000
IFF_DYNAMIC: Final = 0x8000
IFF_LOWER_UP: Final = 0x10000
IFF_DORMANT: Final = 0x20000
IFF_ECHO: Final = 0x40000

# --- include/uapi/linux/neighbour.h: NDA_* (attributes of struct ndmsg) ----------------------------
NDA_UNSPEC: Final = 0
NDA_DST: Final = 1  # protocol address
NDA_LLADDR: Final = 2  # link-layer address (absent while INCOMPLETE/FAILED)
NDA_CACHEINFO: Final = 3
NDA_PROBES: Final = 4
NDA_VLAN: Final = 5
NDA_PORT: Final = 6
NDA_VNI: Final = 7
NDA_IFINDEX: Final = 8  # u32, filter for dumps
NDA_MASTER: Final = 9
NDA_LINK_NETNSID: Final = 10
NDA_SRC_VNI: Final = 11
NDA_PROTOCOL: Final = 12
NDA_NH_ID: Final = 13
# ndm_state: neighbour cache entry states
NUD_NONE: Final = 0x00
NUD_INCOMPLETE: Final = 0x01  # resolution in progress, no address yet
NUD_REACHABLE: Final = 0x02  # confirmed recently
NUD_STALE: Final = 0x04  # address known, not confirmed recently
NUD_DELAY: Final = 0x08
NUD_PROBE: Final = 0x10
NUD_FAILED: Final = 0x20  # resolution failed
NUD_NOARP: Final = 0x40  # no resolution needed (e.g. loopback, point-to-point)
NUD_PERMANENT: Final = 0x80  # static entry
NUD_NAMES: Final[dict[int, str]] = {
    NUD_NONE: "NONE", NUD_INCOMPLETE: "INCOMPLETE", NUD_REACHABLE: "REACHABLE", NUD_STALE: "STALE",
    NUD_DELAY: "DELAY", NUD_PROBE: "PROBE", NUD_FAILED: "FAILED", NUD_NOARP: "NOARP",
    NUD_PERMANENT: "PERMANENT",
}  # fmt: skip
# ndm_flags
NTF_USE: Final = 0x01
NTF_SELF: Final = 0x02
NTF_MASTER: Final = 0x04
NTF_PROXY: Final = 0x08
NTF_ROUTER: Final = 0x80

# --- include/uapi/linux/if_addr.h: IFA_* (attributes of struct ifaddrmsg) -------------------------
IFA_UNSPEC: Final = 0
IFA_ADDRESS: Final = 1  # the peer's address on point-to-point links, else equal to IFA_LOCAL
IFA_LOCAL: Final = 2  # the interface's own address
IFA_LABEL: Final = 3
IFA_BROADCAST: Final = 4
IFA_ANYCAST: Final = 5
IFA_CACHEINFO: Final = 6
IFA_MULTICAST: Final = 7
IFA_FLAGS: Final = 8  # u32, extends ifa_flags
IFA_RT_PRIORITY: Final = 9
IFA_TARGET_NETNSID: Final = 10
IFA_PROTO: Final = 11
# ifa_flags
IFA_F_SECONDARY: Final = 0x01
IFA_F_NODAD: Final = 0x02
IFA_F_DEPRECATED: Final = 0x20
IFA_F_TENTATIVE: Final = 0x40
IFA_F_PERMANENT: Final = 0x80

# --- attribute values ----------------------------------------------------------------------------


def _fixed(value: bytes, size: int, name: str) -> None:
    if len(value) != size:
        raise Malformed("netlink", name, len(value), f"attribute must be {size} bytes")


def attr_u8(value: bytes, name: str = "u8 attribute") -> int:
    """Decode a u8 attribute payload."""
    _fixed(value, 1, name)
    return int(_U8.unpack(value)[0])


def attr_u16(value: bytes, name: str = "u16 attribute") -> int:
    """Decode a host-order u16 attribute payload."""
    _fixed(value, 2, name)
    return int(_U16.unpack(value)[0])


def attr_u32(value: bytes, name: str = "u32 attribute") -> int:
    """Decode a host-order u32 attribute payload."""
    _fixed(value, 4, name)
    return int(_U32.unpack(value)[0])


def attr_i32(value: bytes, name: str = "s32 attribute") -> int:
    """Decode a host-order s32 attribute payload."""
    _fixed(value, 4, name)
    return int(_I32.unpack(value)[0])


def attr_ipv4(value: bytes, name: str = "IPv4 attribute") -> IPv4Address:
    """Decode an IPv4 address attribute (network byte order, 4 bytes)."""
    _fixed(value, 4, name)
    return IPv4Address(value)


def attr_str(value: bytes, name: str = "string attribute") -> str:
    """Decode a NUL-terminated string attribute (IFLA_IFNAME, NLMSGERR_ATTR_MSG)."""
    text = value.split(b"\0", 1)[0]
    try:
        return text.decode()
    except UnicodeDecodeError as exc:
        raise Malformed("netlink", name, text, "not UTF-8") from exc


def u32_attr(attr_type: int, value: int) -> RtAttr:
    """An attribute holding a host-order u32 (RTA_OIF, IFLA_EXT_MASK, NDA_IFINDEX)."""
    return RtAttr(attr_type, _U32.pack(value))


def ipv4_attr(attr_type: int, address: IPv4Address) -> RtAttr:
    """An attribute holding an IPv4 address in network byte order (RTA_DST, NDA_DST)."""
    return RtAttr(attr_type, address.packed)


def str_attr(attr_type: int, text: str) -> RtAttr:
    """An attribute holding a NUL-terminated string (IFLA_IFNAME)."""
    return RtAttr(attr_type, text.encode() + b"\0")


# --- rtattr TLVs ---------------------------------------------------------------------------------


class RtAttr(Value):
    """One type-length-value attribute (``struct rtattr`` / ``struct nlattr``, netlink(7)).

    ``type`` keeps the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits as received; compare
    ``type & NLA_TYPE_MASK``. ``length`` is rta_len (header included, padding excluded);
    None means ``4 + len(value)`` on build.
    """

    type: int
    value: bytes
    length: int | None = None

    @classmethod
    def parse(cls, data: bytes | memoryview, offset: int = 0, end: int | None = None) -> RtAttr:
        """Parse the attribute at ``offset``; it must end by ``end`` (default: end of data)."""
        limit = len(data) if end is None else end
        if limit - offset < RTATTR_LEN:
            raise Truncated("rtattr", RTATTR_LEN, max(limit - offset, 0), offset)
        length, attr_type = RTATTR.unpack_from(data, offset)
        if length < RTATTR_LEN:
            raise Malformed("rtattr", "rta_len", length, "shorter than the rtattr header", offset)
        if offset + length > limit:
            raise Truncated("rtattr", length, limit - offset, offset)
        return cls(attr_type, bytes(data[offset + RTATTR_LEN : offset + length]), length)

    @property
    def kind(self) -> int:
        """The attribute type without the nested / byte-order flag bits."""
        return self.type & NLA_TYPE_MASK

    def build(self) -> bytes:
        length = RTATTR_LEN + len(self.value) if self.length is None else self.length
        body = RTATTR.pack(length, self.type) + self.value
        return body + b"\0" * (align4(len(body)) - len(body))

    def __len__(self) -> int:
        """Bytes this attribute takes in a message, padding included."""
        return align4(RTATTR_LEN + len(self.value))


def parse_attrs(data: bytes | memoryview, offset: int = 0, end: int | None = None) -> tuple[RtAttr, ...]:
    """Parse the attributes from ``offset`` to ``end`` (RTA_OK / RTA_NEXT, 4-byte aligned)."""
    limit = len(data) if end is None else end
    attrs: list[RtAttr] = []
    unpack_header = RTATTR.unpack_from
    # Each attribute takes at least 4 bytes, so this loop ends within (limit - offset) / 4 turns.
    # RtAttr.parse written out: a link's answer holds some 40 attributes, and this loop is most
    # of the time a path plan takes at start-up (the checks and errors are the same).
    while limit - offset >= RTATTR_LEN:
        length, attr_type = unpack_header(data, offset)
        if length < RTATTR_LEN:
            raise Malformed("rtattr", "rta_len", length, "shorter than the rtattr header", offset)
        if offset + length > limit:
            raise Truncated("rtattr", length, limit - offset, offset)
        attrs.append(RtAttr(attr_type, bytes(data[offset + RTATTR_LEN : offset + length]), length))
        offset += (length + 3) & ~3  # RTA_ALIGN
    if 0 < limit - offset:
        raise Truncated("rtattr", RTATTR_LEN, limit - offset, offset)
    return tuple(attrs)


def build_attrs(attrs: tuple[RtAttr, ...] | list[RtAttr]) -> bytes:
    """Concatenate attributes, each padded to 4 bytes."""
    return b"".join(attr.build() for attr in attrs)


class _HasAttrs:
    """Attribute look-ups shared by the rtnetlink bodies (which declare ``attrs``)."""

    __slots__ = ()
    attrs: tuple[RtAttr, ...]

    def get(self, attr_type: int) -> bytes | None:
        """The value of the first attribute of this type, or None (iproute2 ``parse_rtattr``)."""
        for attr in self.attrs:
            if attr.type & NLA_TYPE_MASK == attr_type:
                return attr.value
        return None

    def get_u8(self, attr_type: int) -> int | None:
        value = self.get(attr_type)
        return None if value is None else attr_u8(value, f"attribute {attr_type}")

    def get_u32(self, attr_type: int) -> int | None:
        value = self.get(attr_type)
        return None if value is None else attr_u32(value, f"attribute {attr_type}")

    def get_ipv4(self, attr_type: int) -> IPv4Address | None:
        value = self.get(attr_type)
        return None if value is None else attr_ipv4(value, f"attribute {attr_type}")

    def get_str(self, attr_type: int) -> str | None:
        value = self.get(attr_type)
        return None if value is None else attr_str(value, f"attribute {attr_type}")


# --- nlmsghdr ------------------------------------------------------------------------------------


class NetlinkMessage(Value):
    """One netlink message: ``struct nlmsghdr`` and its body (netlink(7)).

    ``length`` is nlmsg_len (header included, trailing padding excluded); None means compute
    on build. ``payload`` is the body, undecoded: see :func:`decode_body`.
    """

    type: int
    flags: int
    seq: int
    pid: int
    payload: bytes = b""
    length: int | None = None

    @classmethod
    def parse(cls, data: bytes | memoryview, offset: int = 0) -> NetlinkMessage:
        """Parse the message starting at ``offset``."""
        available = len(data) - offset
        if available < NLMSGHDR_LEN:
            raise Truncated("netlink", NLMSGHDR_LEN, max(available, 0), offset)
        length, msg_type, flags, seq, pid = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR_LEN:
            raise Malformed("netlink", "nlmsg_len", length, "shorter than struct nlmsghdr", offset)
        if length > available:
            raise Truncated("netlink", length, available, offset)
        payload = bytes(data[offset + NLMSGHDR_LEN : offset + length])
        return cls(msg_type, flags, seq, pid, payload, length)

    def build(self) -> bytes:
        length = NLMSGHDR_LEN + len(self.payload) if self.length is None else self.length
        body = NLMSGHDR.pack(length, self.type, self.flags, self.seq, self.pid) + self.payload
        return body + b"\0" * (align4(len(body)) - len(body))

    def __len__(self) -> int:
        return align4(NLMSGHDR_LEN + len(self.payload))


def parse_messages(data: bytes | memoryview) -> list[NetlinkMessage]:
    """Split one datagram into its messages (NLMSG_OK / NLMSG_NEXT)."""
    messages: list[NetlinkMessage] = []
    offset = 0
    # Each message takes at least 16 bytes, so this loop is bounded by len(data) / 16.
    while len(data) - offset >= NLMSGHDR_LEN:
        message = NetlinkMessage.parse(data, offset)
        messages.append(message)
        offset += align4(NLMSGHDR_LEN + len(message.payload))
    if 0 < len(data) - offset:
        raise Truncated("netlink", NLMSGHDR_LEN, len(data) - offset, offset)
    return messages


def build_request(msg_type: int, flags: int, seq: int, body: bytes, pid: int = 0) -> bytes:
    """A whole request datagram: nlmsghdr (always with NLM_F_REQUEST) and ``body``."""
    return NetlinkMessage(msg_type, flags | NLM_F_REQUEST, seq, pid, body).build()


# --- rtnetlink bodies ----------------------------------------------------------------------------


def _check_body(data: bytes | memoryview, need: int, layer: str) -> None:
    if len(data) < need:
        raise Truncated(layer, need, len(data))


class RtMsg(_HasAttrs, Value):
    """Body of RTM_NEWROUTE / RTM_GETROUTE: ``struct rtmsg`` and RTA_* attributes (rtnetlink(7))."""

    family: int
    dst_len: int
    src_len: int
    tos: int
    table: int
    protocol: int
    scope: int
    type: int  # RTN_*
    flags: int  # RTM_F_*
    attrs: tuple[RtAttr, ...] = ()

    @classmethod
    def parse(cls, data: bytes | memoryview) -> RtMsg:
        _check_body(data, RTMSG_LEN, "rtmsg")
        family, dst_len, src_len, tos, table, protocol, scope, route_type, flags = RTMSG.unpack_from(data, 0)
        return cls(family, dst_len, src_len, tos, table, protocol, scope, route_type, flags,
                   parse_attrs(data, RTMSG_LEN))  # fmt: skip

    def build(self) -> bytes:
        head = RTMSG.pack(self.family, self.dst_len, self.src_len, self.tos, self.table,
                          self.protocol, self.scope, self.type, self.flags)  # fmt: skip
        return head + build_attrs(self.attrs)

    def __len__(self) -> int:
        return RTMSG_LEN + sum(len(attr) for attr in self.attrs)


class NdMsg(_HasAttrs, Value):
    """Body of RTM_NEWNEIGH / RTM_GETNEIGH: ``struct ndmsg`` and NDA_* attributes (rtnetlink(7))."""

    family: int
    ifindex: int
    state: int  # NUD_*
    flags: int  # NTF_*
    type: int
    attrs: tuple[RtAttr, ...] = ()

    @classmethod
    def parse(cls, data: bytes | memoryview) -> NdMsg:
        _check_body(data, NDMSG_LEN, "ndmsg")
        family, ifindex, state, flags, neigh_type = NDMSG.unpack_from(data, 0)
        return cls(family, ifindex, state, flags, neigh_type, parse_attrs(data, NDMSG_LEN))

    def build(self) -> bytes:
        head = NDMSG.pack(self.family, self.ifindex, self.state, self.flags, self.type)
        return head + build_attrs(self.attrs)

    def __len__(self) -> int:
        return NDMSG_LEN + sum(len(attr) for attr in self.attrs)


class IfInfoMsg(_HasAttrs, Value):
    """Body of RTM_NEWLINK / RTM_GETLINK: ``struct ifinfomsg`` and IFLA_* attributes.

    ``type`` is the device type (ARPHRD_*, include/uapi/linux/if_arp.h); ``flags`` are IFF_*.
    """

    family: int
    type: int
    index: int
    flags: int
    change: int
    attrs: tuple[RtAttr, ...] = ()

    @classmethod
    def parse(cls, data: bytes | memoryview) -> IfInfoMsg:
        _check_body(data, IFINFOMSG_LEN, "ifinfomsg")
        family, link_type, index, flags, change = IFINFOMSG.unpack_from(data, 0)
        return cls(family, link_type, index, flags, change, parse_attrs(data, IFINFOMSG_LEN))

    def build(self) -> bytes:
        head = IFINFOMSG.pack(self.family, self.type, self.index, self.flags, self.change)
        return head + build_attrs(self.attrs)

    def __len__(self) -> int:
        return IFINFOMSG_LEN + sum(len(attr) for attr in self.attrs)


class IfAddrMsg(_HasAttrs, Value):
    """Body of RTM_NEWADDR / RTM_GETADDR: ``struct ifaddrmsg`` and IFA_* attributes."""

    family: int
    prefixlen: int
    flags: int  # IFA_F_* (low 8 bits; IFA_FLAGS holds all 32)
    scope: int
    index: int
    attrs: tuple[RtAttr, ...] = ()

    @classmethod
    def parse(cls, data: bytes | memoryview) -> IfAddrMsg:
        _check_body(data, IFADDRMSG_LEN, "ifaddrmsg")
        family, prefixlen, flags, scope, index = IFADDRMSG.unpack_from(data, 0)
        return cls(family, prefixlen, flags, scope, index, parse_attrs(data, IFADDRMSG_LEN))

    def build(self) -> bytes:
        head = IFADDRMSG.pack(self.family, self.prefixlen, self.flags, self.scope, self.index)
        return head + build_attrs(self.attrs)

    def __len__(self) -> int:
        return IFADDRMSG_LEN + sum(len(attr) for attr in self.attrs)


class NlMsgErr(_HasAttrs, Value):
    """Body of NLMSG_ERROR: ``struct nlmsgerr`` (netlink(7)).

    ``error`` is 0 for an acknowledgement, else a negative errno. ``request`` is the request it
    answers: its header (``request.length`` as sent) and, unless the kernel capped the answer
    (NLM_F_CAPPED in the outer flags, asked for with NETLINK_CAP_ACK), its body. ``attrs`` are
    extended-ack TLVs (NLMSGERR_ATTR_*), present when the outer flags carry NLM_F_ACK_TLVS.
    """

    error: int
    request: NetlinkMessage
    attrs: tuple[RtAttr, ...] = ()

    @classmethod
    def parse(cls, data: bytes | memoryview, flags: int = 0) -> NlMsgErr:
        """Parse the body; ``flags`` are the outer nlmsg_flags (NLM_F_CAPPED, NLM_F_ACK_TLVS)."""
        _check_body(data, NLMSGERR_LEN, "nlmsgerr")
        (error,) = NLMSGERR_ERROR.unpack_from(data, 0)
        length, msg_type, req_flags, seq, pid = NLMSGHDR.unpack_from(data, NLMSGERR_ERROR.size)
        offset = NLMSGERR_LEN
        payload = b""
        if not flags & NLM_F_CAPPED:
            if length < NLMSGHDR_LEN:
                raise Malformed("nlmsgerr", "nlmsg_len", length, "shorter than struct nlmsghdr", 4)
            end = NLMSGERR_ERROR.size + length
            if end > len(data):
                raise Truncated("nlmsgerr", end, len(data))
            payload = bytes(data[NLMSGERR_LEN:end])
            offset = min(NLMSGERR_ERROR.size + align4(length), len(data))
        request = NetlinkMessage(msg_type, req_flags, seq, pid, payload, length)
        attrs = parse_attrs(data, offset) if flags & NLM_F_ACK_TLVS else ()
        return cls(error, request, attrs)

    @property
    def errno(self) -> int:
        """The positive errno (0 for an acknowledgement)."""
        return -self.error

    @property
    def ext_message(self) -> str | None:
        """The kernel's extended-ack message (NLMSGERR_ATTR_MSG), if it sent one."""
        return self.get_str(NLMSGERR_ATTR_MSG)

    def build(self) -> bytes:
        req = self.request
        length = NLMSGHDR_LEN + len(req.payload) if req.length is None else req.length
        head = NLMSGERR_ERROR.pack(self.error) + NLMSGHDR.pack(length, req.type, req.flags, req.seq, req.pid)
        if not self.attrs:  # nothing follows: no padding needed (the outer message pads)
            return head + req.payload
        padding = b"\0" * (align4(len(req.payload)) - len(req.payload))
        return head + req.payload + padding + build_attrs(self.attrs)

    def __len__(self) -> int:
        return len(self.build())


class NlMsgDone(_HasAttrs, Value):
    """Body of NLMSG_DONE, the end of a dump: an int (0, or a negative errno if the dump failed)."""

    error: int = 0
    attrs: tuple[RtAttr, ...] = ()

    @classmethod
    def parse(cls, data: bytes | memoryview, flags: int = 0) -> NlMsgDone:
        if len(data) == 0:  # very old kernels sent an empty NLMSG_DONE
            return cls()
        _check_body(data, NLMSGERR_ERROR.size, "nlmsg_done")
        (error,) = NLMSGERR_ERROR.unpack_from(data, 0)
        attrs = parse_attrs(data, NLMSGERR_ERROR.size) if flags & NLM_F_ACK_TLVS else ()
        return cls(error, attrs)

    @property
    def ext_message(self) -> str | None:
        """The kernel's extended-ack message (NLMSGERR_ATTR_MSG), if it sent one."""
        return self.get_str(NLMSGERR_ATTR_MSG)

    def build(self) -> bytes:
        return NLMSGERR_ERROR.pack(self.error) + build_attrs(self.attrs)

    def __len__(self) -> int:
        return NLMSGERR_ERROR.size + sum(len(attr) for attr in self.attrs)


RtnlBody = RtMsg | NdMsg | IfInfoMsg | IfAddrMsg | NlMsgErr | NlMsgDone

_BODY_PARSERS: Final[dict[int, type[RtMsg] | type[NdMsg] | type[IfInfoMsg] | type[IfAddrMsg]]] = {
    RTM_NEWROUTE: RtMsg, RTM_DELROUTE: RtMsg, RTM_GETROUTE: RtMsg,
    RTM_NEWNEIGH: NdMsg, RTM_DELNEIGH: NdMsg, RTM_GETNEIGH: NdMsg,
    RTM_NEWLINK: IfInfoMsg, RTM_DELLINK: IfInfoMsg, RTM_GETLINK: IfInfoMsg, RTM_SETLINK: IfInfoMsg,
    RTM_NEWADDR: IfAddrMsg, RTM_DELADDR: IfAddrMsg, RTM_GETADDR: IfAddrMsg,
}  # fmt: skip


def decode_body(message: NetlinkMessage) -> RtnlBody | None:
    """Decode the body of ``message`` by its type; None for types this module does not know."""
    if message.type == NLMSG_ERROR:
        return NlMsgErr.parse(message.payload, message.flags)
    if message.type == NLMSG_DONE:
        return NlMsgDone.parse(message.payload, message.flags)
    parser = _BODY_PARSERS.get(message.type)
    if parser is None:
        return None
    return parser.parse(message.payload)
