"""Neighbour Discovery: Neighbour Solicitation and Advertisement (RFC 4861 §4.3, §4.4).

The ICMPv6 messages IPv6 uses in place of ARP, with their options (§4.6): the source and
target link-layer address options are taken apart, any other option is kept as raw bytes.
Also the addresses they are sent to: the solicited-node multicast group (RFC 4291 §2.7.1)
and its Ethernet multicast MAC (RFC 2464 §7).

As in :mod:`layerping.wire.icmpv6` (which dispatches types 135 and 136 here), the checksum
covers the IPv6 pseudo-header, so computing or verifying it takes the packet's source and
destination; ``checksum`` is ``None`` to compute on build and holds the received value
after parse. This module does not import :mod:`~layerping.wire.icmpv6` (that one imports
this one).
"""

from __future__ import annotations

import struct
from ipaddress import IPv6Address
from typing import ClassVar, Final, Self

from layerping._value import Value
from layerping.errors import ChecksumError, Malformed, Truncated
from layerping.wire._fields import range_error
from layerping.wire.checksum import (
    expected_upper_layer_checksum,
    internet_checksum,
    pseudo_header_sum,
    upper_layer_checksum_ok,
)

LAYER = "ndisc"
IPPROTO_ICMPV6 = 58
#: RFC 4861 §7.1.1, §7.1.2: a receiver drops NS/NA whose IPv6 Hop Limit is not 255.
HOP_LIMIT = 255

NEIGHBOUR_SOLICITATION: Final = 135
NEIGHBOUR_ADVERTISEMENT: Final = 136


class NdOptionType:
    """Neighbour Discovery option types (RFC 4861 §4.6; Nonce: RFC 3971 §5.3.2, RFC 7527)."""

    SOURCE_LINK_LAYER_ADDRESS: Final = 1
    TARGET_LINK_LAYER_ADDRESS: Final = 2
    PREFIX_INFORMATION: Final = 3
    REDIRECTED_HEADER: Final = 4
    MTU: Final = 5
    NONCE: Final = 14  # Linux puts one in DAD solicitations (enhanced DAD, RFC 7527)


#: type, code, checksum, reserved (NS) or flags + reserved (NA), target address.
_MESSAGE = struct.Struct("!BBHI16s")
HEADER_LEN = _MESSAGE.size  # 24
CHECKSUM_OFFSET = 2
_CHECKSUM = struct.Struct("!H")
_OPTION = struct.Struct("!BB")
OPTION_UNIT = 8  # option lengths count 8-octet units, type and length bytes included
#: NA flags (RFC 4861 §4.4): Router, Solicited, Override, then 29 reserved bits.
FLAG_ROUTER = 0x80000000
FLAG_SOLICITED = 0x40000000
FLAG_OVERRIDE = 0x20000000
_RESERVED29 = 0x1FFFFFFF

Buffer = bytes | bytearray | memoryview

#: ff02::1:ff00:0/104 (RFC 4291 §2.7.1).
_SOLICITED_NODE_PREFIX = int(IPv6Address("ff02::1:ff00:0"))


def solicited_node_address(address: IPv6Address) -> IPv6Address:
    """The solicited-node multicast group of ``address``: ff02::1:ff + its low 24 bits
    (RFC 4291 §2.7.1), where a Neighbour Solicitation for it is sent (RFC 4861 §7.2.2)."""
    return IPv6Address(_SOLICITED_NODE_PREFIX | int(address) & 0xFFFFFF)


def multicast_mac(group: IPv6Address) -> bytes:
    """The Ethernet destination for an IPv6 multicast ``group``: 33:33 followed by the
    group's low 32 bits (RFC 2464 §7)."""
    if not group.is_multicast:
        raise ValueError(f"{group} is not a multicast address")
    return b"\x33\x33" + group.packed[12:]


class LinkLayerAddressOption(Value):
    """Source (1) or Target (2) Link-Layer Address option (RFC 4861 §4.6.1)."""

    type: int
    """``NdOptionType.SOURCE_LINK_LAYER_ADDRESS`` or ``TARGET_LINK_LAYER_ADDRESS``."""
    address: bytes
    """The option's data: a 6-byte MAC on Ethernet (RFC 2464 §8), padding included on links
    whose addresses are not 6 bytes long (2 + its length is a multiple of 8)."""

    def __len__(self) -> int:
        return _OPTION.size + len(self.address)

    def build(self) -> bytes:
        return _build_option(self.type, self.address)


class RawNdOption(Value):
    """Any other option, kept as the bytes after its type and length."""

    type: int
    data: bytes

    def __len__(self) -> int:
        return _OPTION.size + len(self.data)

    def build(self) -> bytes:
        return _build_option(self.type, self.data)


NdOption = LinkLayerAddressOption | RawNdOption
_LINK_LAYER_TYPES = (NdOptionType.SOURCE_LINK_LAYER_ADDRESS, NdOptionType.TARGET_LINK_LAYER_ADDRESS)


def _build_option(option_type: int, data: bytes) -> bytes:
    length = _OPTION.size + len(data)
    units = length // OPTION_UNIT
    if length % OPTION_UNIT or not 0 < units <= 0xFF:
        raise Malformed(LAYER, "option", data, "2 + data length must be a multiple of 8, at most 2040")
    if not 0 <= option_type <= 0xFF:
        raise Malformed(LAYER, "option type", option_type, "does not fit in 8 bits")
    return _OPTION.pack(option_type, units) + data


def parse_options(data: Buffer, offset: int = 0) -> tuple[NdOption, ...]:
    """The options from ``offset`` to the end of ``data`` (RFC 4861 §4.6).

    An option of length 0 is :class:`Malformed` (§4.6: such a packet is discarded); one that
    runs past the end is :class:`Truncated`.
    """
    options: list[NdOption] = []
    end = len(data)
    while offset < end:
        if end < offset + _OPTION.size:
            raise Truncated(LAYER, offset + OPTION_UNIT, end, offset)
        option_type, units = _OPTION.unpack_from(data, offset)
        if units == 0:
            raise Malformed(LAYER, "option length", 0, "an option is at least 8 bytes", offset)
        length = units * OPTION_UNIT
        if end < offset + length:
            raise Truncated(LAYER, offset + length, end, offset)
        body = bytes(data[offset + _OPTION.size : offset + length])
        if option_type in _LINK_LAYER_TYPES:
            options.append(LinkLayerAddressOption(option_type, body))
        else:
            options.append(RawNdOption(option_type, body))
        offset += length
    return tuple(options)


def _link_layer_address(options: tuple[NdOption, ...], option_type: int) -> bytes | None:
    for option in options:
        if isinstance(option, LinkLayerAddressOption) and option.type == option_type:
            return option.address
    return None


def _verify(data: Buffer, source: IPv6Address | None, destination: IPv6Address | None) -> None:
    if source is None or destination is None:
        raise ValueError("verifying an ICMPv6 checksum needs the packet's source and destination")
    if not upper_layer_checksum_ok(data, source, destination, IPPROTO_ICMPV6):
        (actual,) = _CHECKSUM.unpack_from(data, CHECKSUM_OFFSET)
        expected = expected_upper_layer_checksum(data, CHECKSUM_OFFSET, source, destination, IPPROTO_ICMPV6)
        raise ChecksumError(LAYER, expected, actual, CHECKSUM_OFFSET)


def _build(
    message_type: int,
    code: int,
    word: int,
    target: IPv6Address,
    options: tuple[NdOption, ...],
    checksum: int | None,
    source: IPv6Address | None,
    destination: IPv6Address | None,
) -> bytes:
    body = b"".join(option.build() for option in options)
    buf = bytearray(HEADER_LEN + len(body))
    try:
        _MESSAGE.pack_into(buf, 0, message_type, code, checksum or 0, word, target.packed)
    except struct.error:
        raise range_error(LAYER, "message", (("code", code, 8), ("checksum", checksum, 16))) from None
    buf[HEADER_LEN:] = body
    if checksum is None and source is not None and destination is not None:
        pseudo = pseudo_header_sum(source, destination, len(buf), IPPROTO_ICMPV6)
        _CHECKSUM.pack_into(buf, CHECKSUM_OFFSET, internet_checksum(buf, pseudo))
    return bytes(buf)


def _parse(
    data: Buffer,
    expected_type: int,
    source: IPv6Address | None,
    destination: IPv6Address | None,
    verify: bool,
) -> tuple[int, int, int, IPv6Address, tuple[NdOption, ...]]:
    if len(data) < HEADER_LEN:
        raise Truncated(LAYER, HEADER_LEN, len(data))
    message_type, code, checksum, word, target = _MESSAGE.unpack_from(data)
    if message_type != expected_type:
        raise Malformed(LAYER, "type", message_type, f"not {expected_type}")
    if verify:
        _verify(data, source, destination)
    return code, checksum, word, IPv6Address(bytes(target)), parse_options(data, HEADER_LEN)


class NeighbourSolicitation(Value):
    """Neighbour Solicitation (RFC 4861 §4.3, ICMPv6 type 135): who has ``target``?"""

    type: ClassVar[int] = NEIGHBOUR_SOLICITATION
    code: int
    target: IPv6Address
    options: tuple[NdOption, ...] = ()
    reserved: int = 0
    """The 32-bit Reserved field, kept as received."""
    checksum: int | None = None

    @classmethod
    def request(cls, target: IPv6Address, source_mac: bytes | None = None) -> Self:
        """A solicitation for ``target`` with our MAC as Source Link-Layer Address option
        (RFC 4861 §7.2.2; leave it out when the IPv6 source is :: during DAD, §4.3)."""
        options: tuple[NdOption, ...] = ()
        if source_mac is not None:
            options = (LinkLayerAddressOption(NdOptionType.SOURCE_LINK_LAYER_ADDRESS, source_mac),)
        return cls(0, target, options)

    @property
    def source_link_layer_address(self) -> bytes | None:
        return _link_layer_address(self.options, NdOptionType.SOURCE_LINK_LAYER_ADDRESS)

    def __len__(self) -> int:
        return HEADER_LEN + sum(len(option) for option in self.options)

    @classmethod
    def parse(
        cls,
        data: Buffer,
        source: IPv6Address | None = None,
        destination: IPv6Address | None = None,
        verify: bool = False,
    ) -> Self:
        """Parse the message; ``verify=True`` checks the checksum, which needs the addresses."""
        code, checksum, word, target, options = _parse(data, cls.type, source, destination, verify)
        return cls(code, target, options, word, checksum)

    def build(self, source: IPv6Address | None = None, destination: IPv6Address | None = None) -> bytes:
        """The message bytes. A ``checksum`` of None is computed when both addresses are
        given, else left 0 for the kernel (ICMPv6 sockets always fill it in)."""
        if not 0 <= self.reserved <= 0xFFFFFFFF:
            raise Malformed(LAYER, "reserved", self.reserved, "does not fit in 32 bits")
        return _build(
            self.type, self.code, self.reserved, self.target, self.options, self.checksum, source, destination
        )


class NeighbourAdvertisement(Value):
    """Neighbour Advertisement (RFC 4861 §4.4, ICMPv6 type 136): ``target`` is at..."""

    type: ClassVar[int] = NEIGHBOUR_ADVERTISEMENT
    code: int
    target: IPv6Address
    router: bool
    """R flag: the sender is a router."""
    solicited: bool
    """S flag: an answer to a solicitation."""
    override: bool
    """O flag: the advertisement overrides a cached link-layer address."""
    options: tuple[NdOption, ...] = ()
    reserved: int = 0
    """The 29 bits after the flags, kept as received."""
    checksum: int | None = None

    @classmethod
    def reply(cls, target: IPv6Address, target_mac: bytes, router: bool = False) -> Self:
        """A solicited advertisement with the Target Link-Layer Address option (§7.2.4)."""
        option = LinkLayerAddressOption(NdOptionType.TARGET_LINK_LAYER_ADDRESS, target_mac)
        return cls(0, target, router, True, True, (option,))

    @property
    def target_link_layer_address(self) -> bytes | None:
        return _link_layer_address(self.options, NdOptionType.TARGET_LINK_LAYER_ADDRESS)

    def __len__(self) -> int:
        return HEADER_LEN + sum(len(option) for option in self.options)

    @classmethod
    def parse(
        cls,
        data: Buffer,
        source: IPv6Address | None = None,
        destination: IPv6Address | None = None,
        verify: bool = False,
    ) -> Self:
        """Parse the message; ``verify=True`` checks the checksum, which needs the addresses."""
        code, checksum, word, target, options = _parse(data, cls.type, source, destination, verify)
        return cls(
            code,
            target,
            bool(word & FLAG_ROUTER),
            bool(word & FLAG_SOLICITED),
            bool(word & FLAG_OVERRIDE),
            options,
            word & _RESERVED29,
            checksum,
        )

    def build(self, source: IPv6Address | None = None, destination: IPv6Address | None = None) -> bytes:
        """As :meth:`NeighbourSolicitation.build`."""
        if not 0 <= self.reserved <= _RESERVED29:
            raise Malformed(LAYER, "reserved", self.reserved, "does not fit in 29 bits")
        word = (
            (FLAG_ROUTER if self.router else 0)
            | (FLAG_SOLICITED if self.solicited else 0)
            | (FLAG_OVERRIDE if self.override else 0)
            | self.reserved
        )
        return _build(
            self.type, self.code, word, self.target, self.options, self.checksum, source, destination
        )
